"""In-memory SessionRepository."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from fleet_core.errors import NotFound
from fleet_core.model.users import Session

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class InMemorySessionRepository:
    state: _State
    store: InMemoryStore

    async def add(self, *, user_id: int, token_hash: str, at: dt.datetime) -> Session:
        if user_id not in self.state.users:
            raise NotFound(f"User with id={user_id} was not found in the datastore")
        session = Session(id=self.store.next_id("sessions"), user_id=user_id, created_at=at, accessed_at=at)
        self.state.sessions[session.id] = (session, token_hash)
        return session

    async def get(self, session_id: int) -> Session | None:
        entry = self.state.sessions.get(session_id)
        return entry[0] if entry else None

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        return next((s for s, h in self.state.sessions.values() if h == token_hash), None)

    async def list_for_user(self, user_id: int) -> list[Session]:
        found = [s for s, _ in self.state.sessions.values() if s.user_id == user_id]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def touch(self, session_id: int, at: dt.datetime) -> None:
        entry = self.state.sessions.get(session_id)
        if entry:
            self.state.sessions[session_id] = (attrs.evolve(entry[0], accessed_at=at), entry[1])

    async def delete(self, session_id: int) -> bool:
        return self.state.sessions.pop(session_id, None) is not None

    async def delete_for_user(self, user_id: int, *, except_id: int | None = None) -> int:
        doomed = [i for i, (s, _) in self.state.sessions.items() if s.user_id == user_id and i != except_id]
        for session_id in doomed:
            del self.state.sessions[session_id]
        return len(doomed)
