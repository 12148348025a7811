"""In-memory UserRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING

import attrs

from fleet_adapters.memory.memberships import with_team_names
from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.users import NewUser, User
from fleet_core.rules.paging import ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class InMemoryUserRepository:
    state: _State
    store: InMemoryStore

    def _email_taken(self, email: str, except_id: int | None = None) -> bool:
        return any(u.email.casefold() == email.casefold() and u.id != except_id for u in self.state.users.values())

    async def add(self, user: NewUser) -> User:
        if self._email_taken(user.email):
            raise AlreadyExists(f"User {user.email} already exists")
        teams = with_team_names(self.state, user.teams)
        now = dt.datetime.now(dt.UTC)
        created = User(
            id=self.store.next_id("users"), name=user.name, email=user.email,
            password_hash=user.password_hash, global_role=user.global_role, teams=teams,
            created_at=now, updated_at=now, sso_enabled=user.sso_enabled, api_only=user.api_only,
            force_password_reset=user.force_password_reset, position=user.position,
        )
        self.state.users[created.id] = created
        return created

    async def get(self, user_id: int) -> User | None:
        return self._fresh(self.state.users.get(user_id))

    async def get_by_email(self, email: str) -> User | None:
        return self._fresh(next((u for u in self.state.users.values() if u.email.casefold() == email.casefold()),
                                None))

    def _fresh(self, user: User | None) -> User | None:
        # Team names can change after the user row was written.
        if user is None:
            return None
        return attrs.evolve(user, teams=tuple(
            attrs.evolve(m, team_name=self.state.teams[m.team_id].name)
            for m in user.teams if m.team_id in self.state.teams
        ))

    async def list(self, options: ListOptions, *, team_id: int | None = None,
                   team_ids: frozenset[int] | None = None) -> builtins.list[User]:
        users = [u for u in (self._fresh(u) for u in self.state.users.values()) if u is not None]
        if team_id is not None:
            users = [u for u in users if any(m.team_id == team_id for m in u.teams)]
        if team_ids is not None:
            users = [u for u in users if any(m.team_id in team_ids for m in u.teams)]
        return paginate(users, options, lambda u, k: getattr(u, k), tie_breaker=lambda u: u.id,
                        matches=lambda u, q: q in u.name.lower() or q in u.email.lower())

    async def count(self) -> int:
        return len(self.state.users)

    async def update(self, user: User) -> User:
        if user.id not in self.state.users:
            raise NotFound(f"User with id={user.id} was not found in the datastore")
        if self._email_taken(user.email, except_id=user.id):
            raise AlreadyExists(f"User {user.email} already exists")
        updated = attrs.evolve(user, teams=with_team_names(self.state, user.teams),
                               updated_at=dt.datetime.now(dt.UTC))
        self.state.users[user.id] = updated
        return updated

    async def delete(self, user_id: int) -> bool:
        if self.state.users.pop(user_id, None) is None:
            return False
        # What ON DELETE CASCADE does in Postgres: the user's sessions and password resets go too.
        for session_id, (session, _) in list(self.state.sessions.items()):
            if session.user_id == user_id:
                del self.state.sessions[session_id]
        for token_hash, (owner, _) in list(self.state.password_resets.items()):
            if owner == user_id:
                del self.state.password_resets[token_hash]
        return True
