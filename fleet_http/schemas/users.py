"""Request and response bodies of the users and sessions APIs (Fleet's userResponse, listUsersResponse, ...)."""

from __future__ import annotations

import msgspec

from fleet_core.model.users import Session, TeamRole, User
from fleet_http.schemas.common import UNSET, UnsetType, ts


class TeamRoleBody(msgspec.Struct, kw_only=True):
    id: int
    role: str


class UserTeam(msgspec.Struct, kw_only=True):
    id: int
    name: str
    role: str


class UserBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    id: int
    name: str
    email: str
    enabled: bool
    force_password_reset: bool
    gravatar_url: str
    sso_enabled: bool
    global_role: str | None
    api_only: bool
    position: str
    teams: list[UserTeam]


def to_teams(teams: tuple[TeamRole, ...]) -> list[UserTeam]:
    return [UserTeam(id=m.team_id, name=m.team_name, role=m.role.value) for m in teams]


def to_user(user: User) -> UserBody:
    return UserBody(
        created_at=ts(user.created_at), updated_at=ts(user.updated_at), id=user.id, name=user.name,
        email=user.email, enabled=True, force_password_reset=user.force_password_reset,
        gravatar_url=user.gravatar_url, sso_enabled=user.sso_enabled,
        global_role=user.global_role.value if user.global_role else None, api_only=user.api_only,
        position=user.position, teams=to_teams(user.teams),
    )


def team_pairs(teams: list[TeamRoleBody] | None) -> list[tuple[int, str]]:
    return [(t.id, t.role) for t in teams or []]


class UserResponse(msgspec.Struct, kw_only=True):
    user: UserBody


class ListUsersResponse(msgspec.Struct, kw_only=True):
    users: list[UserBody]


class CreateUserRequest(msgspec.Struct, kw_only=True):
    """POST /users (with invite) and POST /users/admin share these fields."""

    email: str = ""
    name: str = ""
    password: str | None = None
    password_confirmation: str | None = None
    invite_token: str = ""
    global_role: str | None = None
    teams: list[TeamRoleBody] | None = None
    sso_enabled: bool = False
    api_only: bool = False
    position: str = ""
    admin_forced_password_reset: bool | None = None


class ModifyUserRequest(msgspec.Struct, kw_only=True):
    name: str | UnsetType = UNSET
    position: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    sso_enabled: bool | UnsetType = UNSET
    api_only: bool | UnsetType = UNSET
    password: str | UnsetType = UNSET
    new_password: str | UnsetType = UNSET
    global_role: str | UnsetType | None = UNSET
    teams: list[TeamRoleBody] | UnsetType | None = UNSET


class RequirePasswordResetRequest(msgspec.Struct, kw_only=True):
    require: bool = True
    # The REST doc's parameter table calls it "reset"; its example sends "require".
    reset: bool | UnsetType = UNSET


class SessionBody(msgspec.Struct, kw_only=True):
    session_id: int
    user_id: int
    created_at: str


def to_session(session: Session) -> SessionBody:
    return SessionBody(session_id=session.id, user_id=session.user_id, created_at=ts(session.created_at))


class ListSessionsResponse(msgspec.Struct, kw_only=True):
    sessions: list[SessionBody]
