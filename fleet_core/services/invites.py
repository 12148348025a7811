"""Invites: an admin invites someone by email; the token in the mail lets them register."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, admin_team_ids, authorize
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.mail import Email
from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.model.users import Invite, NewInvite
from fleet_core.ports import Clock, Mailer, TokenGenerator, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from fleet_core.rules.passwords import is_valid_email
from fleet_core.services.users import INVITE_LIFETIME, check_grantable, parse_roles

log = structlog.get_logger(__name__)


@attrs.frozen
class InviteInput:
    email: str
    name: str
    global_role: str | None = None
    teams: Sequence[tuple[int, str]] = ()
    sso_enabled: bool = False
    position: str = ""


@attrs.frozen
class InviteChanges:
    """A PATCH: every field left as UNSET_FIELD stays as it is. ``global_role`` None removes the
    global role; ``teams`` () clears the team roles."""

    email: Any = UNSET_FIELD
    name: Any = UNSET_FIELD
    position: Any = UNSET_FIELD
    sso_enabled: Any = UNSET_FIELD
    global_role: Any = UNSET_FIELD
    teams: Any = UNSET_FIELD


def _invite_team_ids(invite: Invite) -> list[int] | None:
    return None if invite.global_role is not None else [m.team_id for m in invite.teams]


@attrs.frozen
class InviteService:
    uow: UnitOfWorkFactory
    tokens: TokenGenerator
    clock: Clock
    mailer: Mailer
    runtime: ServerRuntime

    async def create(self, viewer: Viewer, data: InviteInput) -> Invite:
        """Create an invite and mail its link when SMTP is enabled.

        Raises:
            InvalidArgument, PermissionDenied, AlreadyExists (a user or invite has the email),
            Unavailable (SMTP is enabled but the mail could not be sent; nothing is stored).
        """
        problems = []
        if not data.name.strip():
            problems.append(("name", "cannot be empty"))
        if not is_valid_email(data.email.strip()):
            problems.append(("email", "must be a valid email address"))
        if problems:
            raise InvalidArgument(*problems)
        global_role, teams = parse_roles(data.global_role, data.teams)
        authorize(viewer, Action.WRITE_INVITES, team_ids=None if global_role else [m.team_id for m in teams])
        check_grantable(viewer, global_role, teams)
        token = self.tokens.token()
        async with self.uow() as uow:
            if await uow.users.get_by_email(data.email.strip()) is not None:
                raise AlreadyExists(f"a user with the email {data.email.strip()} already exists")
            invite = await uow.invites.add(NewInvite(
                invited_by=viewer.user.id, email=data.email.strip(), name=data.name.strip(),
                token_hash=self.tokens.digest(token), global_role=global_role, teams=teams,
                sso_enabled=data.sso_enabled, position=data.position,
            ))
            config = await uow.app_config.get()
            if config.smtp_settings.enable_smtp:
                base = (config.server_settings.server_url or self.runtime.default_server_url).rstrip("/")
                org = config.org_info.org_name or "Fleet"
                await self.mailer.send(config.smtp_settings, Email(
                    to=invite.email,
                    subject=f"You have been invited to {org} on Fleet",
                    text=f"{viewer.user.name} invited you to join {org} on Fleet.\n\n"
                         f"Accept the invitation: {base}/login/invites/{token}\n\n"
                         f"The invitation expires in {INVITE_LIFETIME.days} days.\n\nInvite token: {token}\n",
                ))
            await uow.commit()
        log.info("invite_created", invite_id=invite.id, emailed=config.smtp_settings.enable_smtp)
        return invite

    async def list(self, viewer: Viewer, options: ListOptions) -> list[Invite]:
        if viewer.user.global_role is None and not admin_team_ids(viewer.user):
            raise PermissionDenied("forbidden")
        authorize(viewer, Action.READ_INVITES,
                  team_ids=None if viewer.user.global_role else sorted(admin_team_ids(viewer.user)))
        async with self.uow() as uow:
            invites = await uow.invites.list(options)
        if viewer.is_global_admin:
            return invites
        mine = admin_team_ids(viewer.user)
        return [i for i in invites if i.global_role is None and all(m.team_id in mine for m in i.teams)]

    async def delete(self, viewer: Viewer, invite_id: int) -> None:
        async with self.uow() as uow:
            invite = await uow.invites.get(invite_id)
            if invite is None:
                raise NotFound(f"Invite with id={invite_id} was not found in the datastore")
            authorize(viewer, Action.WRITE_INVITES, team_ids=_invite_team_ids(invite))
            await uow.invites.delete(invite_id)
            await uow.commit()

    async def verify(self, token: str) -> Invite:
        """The invite a token belongs to (no authentication: the token is the credential).

        Raises:
            NotFound: unknown, used or expired token.
        """
        async with self.uow() as uow:
            invite = await uow.invites.get_by_token_hash(self.tokens.digest(token))
        if invite is None or self.clock.now() - invite.created_at > INVITE_LIFETIME:
            raise NotFound(f"Invite with token {token} was not found in the datastore")
        return invite

    async def update(self, viewer: Viewer, invite_id: int, changes: InviteChanges) -> Invite:
        async with self.uow() as uow:
            invite = await uow.invites.get(invite_id)
            if invite is None:
                raise NotFound(f"Invite with id={invite_id} was not found in the datastore")
            authorize(viewer, Action.WRITE_INVITES, team_ids=_invite_team_ids(invite))
            problems = []
            if changes.name is not UNSET_FIELD and not changes.name.strip():
                problems.append(("name", "cannot be empty"))
            if changes.email is not UNSET_FIELD and not is_valid_email(changes.email.strip()):
                problems.append(("email", "must be a valid email address"))
            if problems:
                raise InvalidArgument(*problems)
            global_role, teams = invite.global_role, invite.teams
            if changes.global_role is not UNSET_FIELD or changes.teams is not UNSET_FIELD:
                global_role, teams = parse_roles(
                    None if changes.global_role is UNSET_FIELD else changes.global_role,
                    () if changes.teams is UNSET_FIELD else changes.teams)
                check_grantable(viewer, global_role, teams)
            if changes.email is not UNSET_FIELD and changes.email.strip().casefold() != invite.email.casefold():
                if await uow.users.get_by_email(changes.email.strip()) is not None:
                    raise AlreadyExists(f"a user with the email {changes.email.strip()} already exists")
            updated = await uow.invites.update(attrs.evolve(
                invite,
                email=invite.email if changes.email is UNSET_FIELD else changes.email.strip(),
                name=invite.name if changes.name is UNSET_FIELD else changes.name.strip(),
                position=invite.position if changes.position is UNSET_FIELD else changes.position,
                sso_enabled=invite.sso_enabled if changes.sso_enabled is UNSET_FIELD else changes.sso_enabled,
                global_role=global_role,
                teams=teams,
            ))
            await uow.commit()
        return updated
