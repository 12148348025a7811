"""In-memory DeviceTokenRepository."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from fleet_core.errors import AlreadyExists, NotFound

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import _State


@attrs.frozen
class StoredDeviceToken:
    host_id: int
    expires_at: dt.datetime


@attrs.define
class InMemoryDeviceTokenRepository:
    state: _State

    async def replace(self, host_id: int, token_hash: str, *, at: dt.datetime, expires_at: dt.datetime) -> None:
        if host_id not in self.state.host_tables.hosts:
            raise NotFound(f"Host with id={host_id} was not found in the datastore")
        held = self.state.device_tokens.get(token_hash)
        if held is not None and held.host_id != host_id:
            raise AlreadyExists("device token collision")
        self._forget(host_id)
        self.state.device_tokens[token_hash] = StoredDeviceToken(host_id=host_id, expires_at=expires_at)

    async def host_id(self, token_hash: str, *, now: dt.datetime) -> int | None:
        held = self.state.device_tokens.get(token_hash)
        # A deleted host's token goes with it, as the foreign key's cascade does in Postgres.
        if held is None or held.expires_at <= now or held.host_id not in self.state.host_tables.hosts:
            return None
        return held.host_id

    async def extend(self, host_id: int, token_hash: str, *, expires_at: dt.datetime) -> bool:
        held = self.state.device_tokens.get(token_hash)
        if held is None or held.host_id != host_id or host_id not in self.state.host_tables.hosts:
            return False
        self.state.device_tokens[token_hash] = attrs.evolve(held, expires_at=expires_at)
        return True

    def _forget(self, host_id: int) -> None:
        for stored, held in list(self.state.device_tokens.items()):
            if held.host_id == host_id:
                del self.state.device_tokens[stored]
