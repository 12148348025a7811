"""Request and response bodies of authentication (login, logout, me, the password flows) and setup."""

from __future__ import annotations

import msgspec

from fleet_http.schemas.users import UserBody, UserTeam


class LoginRequest(msgspec.Struct, kw_only=True):
    email: str = ""
    password: str = ""


class LoginResponse(msgspec.Struct, kw_only=True):
    user: UserBody
    token: str
    available_teams: list[UserTeam]


class MeResponse(msgspec.Struct, kw_only=True):
    user: UserBody
    available_teams: list[UserTeam]


class ForgotPasswordRequest(msgspec.Struct, kw_only=True):
    email: str = ""


class ChangePasswordRequest(msgspec.Struct, kw_only=True):
    old_password: str = ""
    new_password: str = ""


class ResetPasswordRequest(msgspec.Struct, kw_only=True):
    new_password: str = ""
    new_password_confirmation: str = ""
    password_reset_token: str = ""


class RequiredPasswordResetRequest(msgspec.Struct, kw_only=True):
    new_password: str = ""


class SetupAdmin(msgspec.Struct, kw_only=True):
    admin: bool = True
    email: str = ""
    name: str = ""
    password: str = ""
    password_confirmation: str | None = None


class SetupOrgInfo(msgspec.Struct, kw_only=True):
    org_name: str = ""
    org_logo_url: str = ""


class SetupRequest(msgspec.Struct, kw_only=True):
    admin: SetupAdmin = msgspec.field(default_factory=SetupAdmin)
    org_info: SetupOrgInfo = msgspec.field(default_factory=SetupOrgInfo)
    server_url: str = ""


class SetupResponse(msgspec.Struct, kw_only=True):
    admin: UserBody
    org_info: SetupOrgInfo
    server_url: str
    osquery_enroll_secret: str | None
    token: str
