"""In-memory CarveRepository (the blocks are the carve store's: fleet_adapters.memory.carve_store).

A deleted host's carves are left in the tables but never read (host ids are not reused), which is
what Postgres' ON DELETE CASCADE looks like from outside.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import attrs

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.carves import Carve, NewCarve
from fleet_core.rules.paging import Direction, ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class CarveTables:
    """Carves by id, when each got its first block, and block digests by (carve id, block id);
    values are immutable, so a shallow copy of each dict is a snapshot."""

    carves: dict[int, Carve] = attrs.field(factory=dict)
    first_block_at: dict[int, dt.datetime] = attrs.field(factory=dict)
    digests: dict[tuple[int, int], bytes] = attrs.field(factory=dict)

    def copy(self) -> CarveTables:
        return CarveTables(carves=dict(self.carves), first_block_at=dict(self.first_block_at),
                           digests=dict(self.digests))


def _sortable(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@attrs.define
class InMemoryCarveRepository:
    state: _State
    store: InMemoryStore

    @property
    def _tables(self) -> CarveTables:
        return self.state.carves

    def _live(self, carve: Carve | None) -> Carve | None:
        if carve is None or carve.host_id not in self.state.host_tables.hosts:
            return None
        return carve

    async def add(self, carve: NewCarve) -> Carve:
        if carve.host_id not in self.state.host_tables.hosts:
            raise NotFound(f"Host with id={carve.host_id} was not found in the datastore")
        if any(c.session_id == carve.session_id for c in self._tables.carves.values()):
            raise AlreadyExists("carve session collision")
        created = Carve(id=self.store.next_id("carves"), **attrs.asdict(carve))
        self._tables.carves[created.id] = created
        return created

    async def get(self, carve_id: int) -> Carve | None:
        return self._live(self._tables.carves.get(carve_id))

    async def get_by_session(self, session_id: str) -> Carve | None:
        return self._live(next((c for c in self._tables.carves.values() if c.session_id == session_id), None))

    async def for_host_request(self, host_id: int, request_id: str) -> Carve | None:
        mine = [c for c in self._tables.carves.values() if c.host_id == host_id and c.request_id == request_id]
        return self._live(max(mine, key=lambda c: c.id, default=None))

    async def host_team(self, carve_id: int) -> int | None:
        carve = self._live(self._tables.carves.get(carve_id))
        return None if carve is None else self.state.host_tables.hosts[carve.host_id].team_id

    async def list(self, options: ListOptions, *, expired: bool, after: Any = None,
                   team_ids: Collection[int] | None = None) -> builtins.list[Carve]:
        hosts = self.state.host_tables.hosts
        carves = [c for c in self._tables.carves.values()
                  if self._live(c) is not None and (expired or not c.expired)
                  and (team_ids is None or hosts[c.host_id].team_id in team_ids)]
        if after is not None and options.order_key is not None:
            key = options.order_key
            bound = _sortable(after)
            descending = options.order_direction is Direction.DESC
            carves = [c for c in carves
                      if (_sortable(getattr(c, key)) < bound if descending else _sortable(getattr(c, key)) > bound)]
        return paginate(carves, options, getattr, tie_breaker=lambda c: c.id)

    async def claim_block(self, carve_id: int, block_id: int, sha256: bytes, at: dt.datetime) -> bool:
        carve = self._live(self._tables.carves.get(carve_id))
        if carve is None or carve.expired or block_id != carve.max_block + 1:
            return False
        self._tables.digests[(carve_id, block_id)] = bytes(sha256)
        if block_id == 0:
            self._tables.first_block_at[carve_id] = at
        self._tables.carves[carve_id] = attrs.evolve(carve, max_block=block_id)
        return True

    async def block_digest(self, carve_id: int, block_id: int) -> bytes | None:
        if self._live(self._tables.carves.get(carve_id)) is None:
            return None
        return self._tables.digests.get((carve_id, block_id))

    async def set_error(self, carve_id: int, error: str) -> None:
        carve = self._tables.carves.get(carve_id)
        if carve is not None:
            self._tables.carves[carve_id] = attrs.evolve(carve, error=error)

    async def due_for_expiry(self, *, before: dt.datetime, limit: int) -> builtins.list[Carve]:
        def start(carve: Carve) -> dt.datetime:
            return self._tables.first_block_at.get(carve.id, carve.created_at)

        due = [c for c in self._tables.carves.values()
               if self._live(c) is not None and not c.expired and start(c) < before]
        return sorted(due, key=lambda c: (start(c), c.id))[:limit]

    async def mark_expired(self, carve_ids: Collection[int]) -> int:
        changed = 0
        for carve_id in set(carve_ids):
            carve = self._tables.carves.get(carve_id)
            if carve is not None and not carve.expired:
                self._tables.carves[carve_id] = attrs.evolve(carve, expired=True)
                changed += 1
        doomed = set(carve_ids)
        for key in [k for k in self._tables.digests if k[0] in doomed]:
            del self._tables.digests[key]
        return changed
