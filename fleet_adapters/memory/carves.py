"""In-memory CarveRepository.

A deleted host's carves are left in the tables but never read (host ids are not reused), which is
what Postgres' ON DELETE CASCADE looks like from outside; the expiry pass drops their blocks.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.carves import Carve, NewCarve
from fleet_core.rules.paging import Direction, ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class CarveTables:
    """Carves by id and blocks by (carve id, block id); values are immutable, so a shallow copy
    of each dict is a snapshot."""

    carves: dict[int, Carve] = attrs.field(factory=dict)
    blocks: dict[tuple[int, int], bytes] = attrs.field(factory=dict)

    def copy(self) -> CarveTables:
        return CarveTables(carves=dict(self.carves), blocks=dict(self.blocks))


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

    async def list(self, options: ListOptions, *, expired: bool, after: Any = None) -> builtins.list[Carve]:
        carves = [c for c in self._tables.carves.values()
                  if self._live(c) is not None and (expired or not c.expired)]
        if after is not None and options.order_key is not None:
            key = options.order_key
            bound = _sortable(after)
            descending = options.order_direction is Direction.DESC
            carves = [c for c in carves
                      if (_sortable(getattr(c, key)) < bound if descending else _sortable(getattr(c, key)) > bound)]
        return paginate(carves, options, getattr, tie_breaker=lambda c: c.id)

    async def append_block(self, carve_id: int, block_id: int, data: bytes) -> bool:
        carve = self._live(self._tables.carves.get(carve_id))
        if carve is None or carve.expired or block_id != carve.max_block + 1:
            return False
        self._tables.blocks[(carve_id, block_id)] = bytes(data)
        self._tables.carves[carve_id] = attrs.evolve(carve, max_block=block_id)
        return True

    async def block(self, carve_id: int, block_id: int) -> bytes | None:
        if self._live(self._tables.carves.get(carve_id)) is None:
            return None
        return self._tables.blocks.get((carve_id, block_id))

    async def set_error(self, carve_id: int, error: str) -> None:
        carve = self._tables.carves.get(carve_id)
        if carve is not None:
            self._tables.carves[carve_id] = attrs.evolve(carve, error=error)

    async def expire(self, *, created_before: dt.datetime, limit: int) -> int:
        hosts = self.state.host_tables.hosts
        # A deleted host's carves are gone as far as readers know; free their blocks too.
        for key in [k for k in self._tables.blocks if self._tables.carves[k[0]].host_id not in hosts]:
            del self._tables.blocks[key]
        due = sorted((c for c in self._tables.carves.values()
                      if not c.expired and c.created_at < created_before and c.host_id in hosts),
                     key=lambda c: (c.created_at, c.id))[:limit]
        doomed = {c.id for c in due}
        for carve in due:
            self._tables.carves[carve.id] = attrs.evolve(carve, expired=True)
        for key in [k for k in self._tables.blocks if k[0] in doomed]:
            del self._tables.blocks[key]
        return len(due)
