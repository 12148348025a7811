"""Users, their roles, sessions, invites and password resets."""

from __future__ import annotations

import datetime as dt
import enum

import attrs


class Role(enum.StrEnum):
    ADMIN = "admin"
    MAINTAINER = "maintainer"
    OBSERVER = "observer"


@attrs.frozen
class TeamRole:
    """A user's (or invitee's) role on one team."""

    team_id: int
    role: Role
    team_name: str = ""


@attrs.frozen
class User:
    id: int
    name: str
    email: str
    password_hash: str = attrs.field(repr=False)
    global_role: Role | None
    teams: tuple[TeamRole, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    sso_enabled: bool = False
    api_only: bool = False
    force_password_reset: bool = False
    position: str = ""
    gravatar_url: str = ""

    def team_role(self, team_id: int) -> Role | None:
        for membership in self.teams:
            if membership.team_id == team_id:
                return membership.role
        return None


@attrs.frozen
class NewUser:
    """What a repository needs to insert a user; the id and timestamps come from storage."""

    name: str
    email: str
    password_hash: str = attrs.field(repr=False)
    global_role: Role | None
    teams: tuple[TeamRole, ...] = ()
    sso_enabled: bool = False
    api_only: bool = False
    force_password_reset: bool = False
    position: str = ""


@attrs.frozen
class Session:
    id: int
    user_id: int
    created_at: dt.datetime
    accessed_at: dt.datetime


@attrs.frozen
class Invite:
    id: int
    invited_by: int
    email: str
    name: str
    global_role: Role | None
    teams: tuple[TeamRole, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    sso_enabled: bool = False
    position: str = ""


@attrs.frozen
class NewInvite:
    invited_by: int
    email: str
    name: str
    token_hash: str = attrs.field(repr=False)
    global_role: Role | None
    teams: tuple[TeamRole, ...] = ()
    sso_enabled: bool = False
    position: str = ""
