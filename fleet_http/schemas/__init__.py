"""Wire shapes of the management API (Fleet's field names), and the mapping from core models.

Request structs are lenient about unknown fields, as Fleet's Go decoder is; fields default to
empty so that a missing value reaches the core's validation and comes back as a 422 naming the
field, while a value of the wrong JSON type is a 400 from decoding.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from fleet_core.model.activities import Activity
from fleet_core.model.secrets import EnrollSecret
from fleet_core.model.users import Invite, Session, TeamRole, User

UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType


def ts(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a Z, to the second, as Fleet renders timestamps."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- shared pieces -------------------------------------------------------------------------

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


# ---- authentication ------------------------------------------------------------------------

class LoginRequest(msgspec.Struct, kw_only=True):
    email: str = ""
    password: str = ""


class LoginResponse(msgspec.Struct, kw_only=True):
    user: UserBody
    token: str
    available_teams: list[UserTeam]


class UserResponse(msgspec.Struct, kw_only=True):
    user: UserBody


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


class SSOSettingsBody(msgspec.Struct, kw_only=True):
    idp_name: str
    idp_image_url: str
    sso_enabled: bool


class SSOSettingsResponse(msgspec.Struct, kw_only=True):
    settings: SSOSettingsBody


class InitiateSSORequest(msgspec.Struct, kw_only=True):
    relay_url: str = ""


class EmptyResponse(msgspec.Struct):
    pass


# ---- setup ---------------------------------------------------------------------------------

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


# ---- users ---------------------------------------------------------------------------------

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


# ---- invites -------------------------------------------------------------------------------

class InviteBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    id: int
    invited_by: int
    email: str
    name: str
    position: str
    sso_enabled: bool
    global_role: str | None
    teams: list[UserTeam]


def to_invite(invite: Invite) -> InviteBody:
    return InviteBody(
        created_at=ts(invite.created_at), updated_at=ts(invite.updated_at), id=invite.id,
        invited_by=invite.invited_by, email=invite.email, name=invite.name, position=invite.position,
        sso_enabled=invite.sso_enabled, global_role=invite.global_role.value if invite.global_role else None,
        teams=to_teams(invite.teams),
    )


class CreateInviteRequest(msgspec.Struct, kw_only=True):
    email: str = ""
    name: str = ""
    position: str = ""
    sso_enabled: bool = False
    global_role: str | None = None
    teams: list[TeamRoleBody] | None = None


class ModifyInviteRequest(msgspec.Struct, kw_only=True):
    email: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    position: str | UnsetType = UNSET
    sso_enabled: bool | UnsetType = UNSET
    global_role: str | UnsetType | None = UNSET
    teams: list[TeamRoleBody] | UnsetType | None = UNSET


class InviteResponse(msgspec.Struct, kw_only=True):
    invite: InviteBody


class ListInvitesResponse(msgspec.Struct, kw_only=True):
    invites: list[InviteBody]


# ---- enroll secrets ------------------------------------------------------------------------

class SecretBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    secret: str
    created_at: str
    team_id: int | None = None


def to_secret(secret: EnrollSecret) -> SecretBody:
    return SecretBody(secret=secret.secret, created_at=ts(secret.created_at), team_id=secret.team_id)


class SecretInput(msgspec.Struct, kw_only=True):
    secret: str = ""


class SecretsSpec(msgspec.Struct, kw_only=True):
    secrets: list[SecretInput] = msgspec.field(default_factory=list)


class ApplyEnrollSecretSpecRequest(msgspec.Struct, kw_only=True):
    spec: SecretsSpec | None = None
    dry_run: bool = False


class EnrollSecretSpecResponse(msgspec.Struct, kw_only=True):
    spec: SecretsSpecOut


class SecretsSpecOut(msgspec.Struct, kw_only=True):
    secrets: list[SecretBody]


class TeamSecretsRequest(msgspec.Struct, kw_only=True):
    secrets: list[SecretInput] | None = None


class TeamSecretsResponse(msgspec.Struct, kw_only=True):
    secrets: list[SecretBody] | None


# ---- activities ----------------------------------------------------------------------------

class ActivityBody(msgspec.Struct, kw_only=True):
    created_at: str
    id: int
    actor_full_name: str
    actor_id: int | None
    actor_gravatar: str
    actor_email: str
    type: str
    details: dict[str, Any] | None


def to_activity(activity: Activity) -> ActivityBody:
    return ActivityBody(
        created_at=ts(activity.created_at), id=activity.id, actor_full_name=activity.actor_full_name,
        actor_id=activity.actor_id, actor_gravatar=activity.actor_gravatar, actor_email=activity.actor_email,
        type=activity.type, details=dict(activity.details) if activity.details is not None else None,
    )


class ListActivitiesResponse(msgspec.Struct, kw_only=True):
    activities: list[ActivityBody]


# ---- version / certificate -----------------------------------------------------------------

class VersionResponse(msgspec.Struct, kw_only=True):
    version: str
    branch: str
    revision: str
    go_version: str
    build_date: str
    build_user: str


class CertificateResponse(msgspec.Struct, kw_only=True):
    certificate_chain: str
