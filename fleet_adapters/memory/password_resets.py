"""In-memory PasswordResetRepository."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from fleet_core.errors import NotFound

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import _State


@attrs.define
class InMemoryPasswordResetRepository:
    state: _State

    async def add(self, *, user_id: int, token_hash: str, expires_at: dt.datetime) -> None:
        if user_id not in self.state.users:
            raise NotFound(f"User with id={user_id} was not found in the datastore")
        self.state.password_resets[token_hash] = (user_id, expires_at)

    async def consume(self, token_hash: str, *, now: dt.datetime) -> int | None:
        entry = self.state.password_resets.pop(token_hash, None)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    async def delete_for_user(self, user_id: int) -> None:
        for token_hash, (owner, _) in list(self.state.password_resets.items()):
            if owner == user_id:
                del self.state.password_resets[token_hash]
