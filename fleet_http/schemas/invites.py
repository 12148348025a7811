"""Request and response bodies of the invites API (Fleet's inviteResponse, listInvitesResponse, ...)."""

from __future__ import annotations

import msgspec

from fleet_core.model.users import Invite
from fleet_http.schemas.common import UNSET, UnsetType, ts
from fleet_http.schemas.users import TeamRoleBody, UserTeam, to_teams


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
