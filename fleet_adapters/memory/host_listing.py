"""In-memory implementation of fleet_core.ports.HostListing, over the unit of work's own repositories."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fleet_adapters.memory.hosts import InMemoryHostInventoryRepository
from fleet_adapters.memory.policies import InMemoryPolicyRepository
from fleet_core.model.hosts import HostFilter, ListedHost
from fleet_core.ports.host_listing import STREAM_BATCH_SIZE
from fleet_core.rules.paging import ListOptions

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


class InMemoryHostListing:
    """Reads through its own inventory and policy repositories over the unit of work's state, so
    a page sees what they see, and moves on with them when commit() hands over the next state."""

    def __init__(self, state: _State, store: InMemoryStore) -> None:
        self._inventory = InMemoryHostInventoryRepository(state, store)
        self._policies = InMemoryPolicyRepository(state, store)

    @property
    def state(self) -> _State:
        return self._inventory.state

    @state.setter
    def state(self, state: _State) -> None:
        self._inventory.state = state
        self._policies.state = state

    async def page(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime, after: str | None = None,
                   device_mapping: bool = False, failing_policies: bool = False) -> builtins.list[ListedHost]:
        hosts = await self._inventory.list(filters, options, now=now, after=after)
        failing = await self._policies.failing_counts([h.id for h in hosts]) if failing_policies else {}
        return [
            ListedHost(
                host=host,
                device_mapping=tuple(await self._inventory.device_mapping(host.id)) if device_mapping else None,
                failing_policies_count=failing.get(host.id, 0),
            )
            for host in hosts
        ]

    async def stream(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                     device_mapping: bool = False,
                     batch_size: int = STREAM_BATCH_SIZE) -> AsyncIterator[builtins.list[ListedHost]]:
        # Errors (an unknown order key) surface at the first read, as the Postgres cursor's do.
        hosts = await self.page(filters, options, now=now, device_mapping=device_mapping)
        for start in range(0, len(hosts), batch_size):
            yield hosts[start:start + batch_size]
