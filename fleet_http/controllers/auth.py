"""Authentication: login, logout, me, the password flows, setup (SSO: controllers/sso.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from fleet_core.authz import Viewer
from fleet_core.services.auth import AuthService
from fleet_core.services.setup import SetupInput, SetupService
from fleet_http.deps import client_address, provide_viewer_pending_reset, strict_json_body
from fleet_http.schemas.auth import (
    ChangePasswordRequest,
    ForgotPasswordRequest,
    LoginRequest,
    LoginResponse,
    MeResponse,
    RequiredPasswordResetRequest,
    ResetPasswordRequest,
    SetupOrgInfo,
    SetupRequest,
    SetupResponse,
)
from fleet_http.schemas.common import EmptyResponse
from fleet_http.schemas.users import UserResponse, to_teams, to_user

PENDING_RESET_OK = {"viewer": Provide(provide_viewer_pending_reset)}


class AuthController(Controller):
    tags = ["Authentication"]
    guards = [strict_json_body]

    @post("/login", status_code=200)
    async def login(self, request: Request[Any, Any, Any], data: JSONBody[LoginRequest],
                    auth: NamedDependency[AuthService]) -> LoginResponse:
        user, token = await auth.login(data.email, data.password, remote_addr=client_address(request))
        return LoginResponse(user=to_user(user), token=token, available_teams=to_teams(user.teams))

    @post("/logout", status_code=200, dependencies=PENDING_RESET_OK)
    async def logout(self, viewer: NamedDependency[Viewer], auth: NamedDependency[AuthService]) -> EmptyResponse:
        await auth.logout(viewer)
        return EmptyResponse()

    @get("/me", dependencies=PENDING_RESET_OK)
    async def me(self, viewer: NamedDependency[Viewer]) -> MeResponse:
        return MeResponse(user=to_user(viewer.user), available_teams=to_teams(viewer.user.teams))

    @post("/change_password", status_code=200)
    async def change_password(self, data: JSONBody[ChangePasswordRequest], viewer: NamedDependency[Viewer],
                              auth: NamedDependency[AuthService]) -> EmptyResponse:
        await auth.change_password(viewer, data.old_password, data.new_password)
        return EmptyResponse()

    @post("/forgot_password", status_code=200)
    async def forgot_password(self, request: Request[Any, Any, Any], data: JSONBody[ForgotPasswordRequest],
                              auth: NamedDependency[AuthService]) -> EmptyResponse:
        await auth.forgot_password(data.email, remote_addr=client_address(request))
        return EmptyResponse()

    @post("/reset_password", status_code=200)
    async def reset_password(self, data: JSONBody[ResetPasswordRequest],
                             auth: NamedDependency[AuthService]) -> EmptyResponse:
        await auth.reset_password(data.password_reset_token, data.new_password,
                                           data.new_password_confirmation)
        return EmptyResponse()

    @post("/perform_required_password_reset", status_code=200, dependencies=PENDING_RESET_OK)
    async def perform_required_password_reset(
        self, data: JSONBody[RequiredPasswordResetRequest], viewer: NamedDependency[Viewer],
        auth: NamedDependency[AuthService],
    ) -> UserResponse:
        user = await auth.perform_required_password_reset(viewer, data.new_password)
        return UserResponse(user=to_user(user))


class SetupController(Controller):
    tags = ["Setup"]
    guards = [strict_json_body]

    @post("/setup", status_code=200)
    async def setup(self, data: JSONBody[SetupRequest], setup: NamedDependency[SetupService]) -> SetupResponse:
        result = await setup.setup(SetupInput(
            name=data.admin.name, email=data.admin.email, password=data.admin.password,
            password_confirmation=data.admin.password_confirmation, org_name=data.org_info.org_name,
            server_url=data.server_url, org_logo_url=data.org_info.org_logo_url,
        ))
        org = result.config.org_info
        return SetupResponse(
            admin=to_user(result.admin),
            org_info=SetupOrgInfo(org_name=org.org_name, org_logo_url=org.org_logo_url),
            server_url=result.config.server_settings.server_url,
            osquery_enroll_secret=None,
            token=result.token,
        )
