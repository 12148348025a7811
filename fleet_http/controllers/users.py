"""Users and sessions."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.rules.ordering import USER_ORDER_KEYS
from fleet_core.services.users import UserChanges, UserInput, UserService
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import UNSET, EmptyResponse, patch_field
from fleet_http.schemas.users import (
    CreateUserRequest,
    ListSessionsResponse,
    ListUsersResponse,
    ModifyUserRequest,
    RequirePasswordResetRequest,
    SessionBody,
    UserResponse,
    team_pairs,
    to_session,
    to_user,
)


class UserController(Controller):
    path = "/users"
    tags = ["Users"]
    guards = [strict_json_body]

    @get("/")
    async def list_users(
        self, viewer: NamedDependency[Viewer], users: NamedDependency[UserService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        search: Annotated[str | None, QueryParameter(name="query")] = None, team_id: FromQuery[int | None] = None,
    ) -> ListUsersResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=search, allowed_keys=USER_ORDER_KEYS)
        found = await users.list(viewer, options, team_id=team_id)
        return ListUsersResponse(users=[to_user(u) for u in found])

    @post("/", status_code=200)
    async def create_with_invite(self, data: JSONBody[CreateUserRequest],
                                 users: NamedDependency[UserService]) -> UserResponse:
        user = await users.create_from_invite(
            invite_token=data.invite_token, name=data.name, email=data.email, password=data.password,
            password_confirmation=data.password_confirmation,
        )
        return UserResponse(user=to_user(user))

    @post("/admin", status_code=200)
    async def create(self, data: JSONBody[CreateUserRequest], viewer: NamedDependency[Viewer],
                     users: NamedDependency[UserService]) -> UserResponse:
        user = await users.create(viewer, UserInput(
            name=data.name, email=data.email, password=data.password, global_role=data.global_role,
            teams=team_pairs(data.teams), sso_enabled=data.sso_enabled, api_only=data.api_only,
            position=data.position, admin_forced_password_reset=data.admin_forced_password_reset,
        ))
        return UserResponse(user=to_user(user))

    @get("/{user_id:int}")
    async def get_user(self, user_id: FromPath[int], viewer: NamedDependency[Viewer],
                       users: NamedDependency[UserService]) -> UserResponse:
        return UserResponse(user=to_user(await users.get(viewer, user_id)))

    @patch("/{user_id:int}")
    async def modify(self, user_id: FromPath[int], data: JSONBody[ModifyUserRequest],
                     viewer: NamedDependency[Viewer], users: NamedDependency[UserService]) -> UserResponse:
        changes = UserChanges(
            name=patch_field(data.name), email=patch_field(data.email), position=patch_field(data.position),
            sso_enabled=patch_field(data.sso_enabled), api_only=patch_field(data.api_only),
            password=patch_field(data.password), new_password=patch_field(data.new_password),
            global_role=patch_field(data.global_role),
            # Fleet reads "teams": null as no teams.
            teams=UNSET_FIELD if data.teams is UNSET else team_pairs(data.teams),
        )
        return UserResponse(user=to_user(await users.modify(viewer, user_id, changes)))

    @delete("/{user_id:int}", status_code=200)
    async def delete_user(self, user_id: FromPath[int], viewer: NamedDependency[Viewer],
                          users: NamedDependency[UserService]) -> EmptyResponse:
        await users.delete(viewer, user_id)
        return EmptyResponse()

    @post("/{user_id:int}/require_password_reset", status_code=200)
    async def require_password_reset(
        self, user_id: FromPath[int], viewer: NamedDependency[Viewer], users: NamedDependency[UserService],
        data: JSONBody[RequirePasswordResetRequest | None] = None,
    ) -> UserResponse:
        require = True
        if data is not None:
            require = data.reset if isinstance(data.reset, bool) else data.require
        return UserResponse(user=to_user(await users.require_password_reset(viewer, user_id, require)))

    @get("/{user_id:int}/sessions")
    async def list_sessions(self, user_id: FromPath[int], viewer: NamedDependency[Viewer],
                            users: NamedDependency[UserService]) -> ListSessionsResponse:
        sessions = await users.list_sessions(viewer, user_id)
        return ListSessionsResponse(sessions=[to_session(s) for s in sessions])

    @delete("/{user_id:int}/sessions", status_code=200)
    async def delete_sessions(self, user_id: FromPath[int], viewer: NamedDependency[Viewer],
                              users: NamedDependency[UserService]) -> EmptyResponse:
        await users.delete_sessions(viewer, user_id)
        return EmptyResponse()


class SessionController(Controller):
    path = "/sessions"
    tags = ["Sessions"]

    @get("/{session_id:int}")
    async def get_session(self, session_id: FromPath[int], viewer: NamedDependency[Viewer],
                          users: NamedDependency[UserService]) -> SessionBody:
        return to_session(await users.get_session(viewer, session_id))

    @delete("/{session_id:int}", status_code=200)
    async def delete_session(self, session_id: FromPath[int], viewer: NamedDependency[Viewer],
                             users: NamedDependency[UserService]) -> EmptyResponse:
        await users.delete_session(viewer, session_id)
        return EmptyResponse()
