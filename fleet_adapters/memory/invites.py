"""In-memory InviteRepository."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from fleet_adapters.memory.memberships import with_team_names
from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.users import Invite, NewInvite
from fleet_core.rules.paging import ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class InMemoryInviteRepository:
    state: _State
    store: InMemoryStore

    def _email_taken(self, email: str, except_id: int | None = None) -> bool:
        return any(i.email.casefold() == email.casefold() and i.id != except_id
                   for i, _ in self.state.invites.values())

    async def add(self, invite: NewInvite) -> Invite:
        if self._email_taken(invite.email):
            raise AlreadyExists(f"Invite for {invite.email} already exists")
        now = dt.datetime.now(dt.UTC)
        created = Invite(
            id=self.store.next_id("invites"), invited_by=invite.invited_by, email=invite.email,
            name=invite.name, global_role=invite.global_role,
            teams=with_team_names(self.state, invite.teams), created_at=now, updated_at=now,
            sso_enabled=invite.sso_enabled, position=invite.position,
        )
        self.state.invites[created.id] = (created, invite.token_hash)
        return created

    async def get(self, invite_id: int) -> Invite | None:
        entry = self.state.invites.get(invite_id)
        return entry[0] if entry else None

    async def get_by_token_hash(self, token_hash: str) -> Invite | None:
        return next((i for i, h in self.state.invites.values() if h == token_hash), None)

    async def list(self, options: ListOptions) -> list[Invite]:
        invites = [i for i, _ in self.state.invites.values()]
        return paginate(invites, options, lambda i, k: getattr(i, k), tie_breaker=lambda i: i.id,
                        matches=lambda i, q: q in i.name.lower() or q in i.email.lower())

    async def update(self, invite: Invite) -> Invite:
        entry = self.state.invites.get(invite.id)
        if entry is None:
            raise NotFound(f"Invite with id={invite.id} was not found in the datastore")
        if self._email_taken(invite.email, except_id=invite.id):
            raise AlreadyExists(f"Invite for {invite.email} already exists")
        updated = attrs.evolve(invite, teams=with_team_names(self.state, invite.teams),
                               updated_at=dt.datetime.now(dt.UTC))
        self.state.invites[invite.id] = (updated, entry[1])
        return updated

    async def delete(self, invite_id: int) -> bool:
        return self.state.invites.pop(invite_id, None) is not None
