"""In-memory PackRepository.

Targets and entries are joined with the live hosts, labels, teams and queries at read time, which
is what Postgres' ON DELETE CASCADE foreign keys make visible: a deleted host, label, team or query
drops out of every pack, and a deleted team's schedule pack is gone.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound
from fleet_core.model.packs import (
    GLOBAL_PACK_TYPE,
    Pack,
    PackCatalogue,
    PackFields,
    PackTargets,
    ScheduledQuery,
    ScheduleFields,
    schedule_pack_name,
    schedule_pack_type,
)
from fleet_core.rules.ordering import PACK_ORDER_KEYS
from fleet_core.rules.paging import ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State

NAME_TAKEN = "a pack with this name already exists"
ENTRY_NAME_TAKEN = "the pack already schedules a query with this name"


@attrs.define
class InMemoryPackRepository:
    state: _State
    store: InMemoryStore

    # ---- packs ------------------------------------------------------------------------------------

    async def get(self, pack_id: int) -> Pack | None:
        pack = self._live_packs().get(pack_id)
        return None if pack is None else self._counted(pack)

    async def get_by_name(self, name: str) -> Pack | None:
        found = next((p for p in self._live_packs().values() if p.name == name and p.type is None), None)
        return None if found is None else self._counted(found)

    async def list(self, options: ListOptions) -> builtins.list[Pack]:
        if options.order_key is not None and options.order_key not in PACK_ORDER_KEYS:
            raise InvalidArgument(("order_key", f"must be one of {', '.join(sorted(PACK_ORDER_KEYS))}"))
        user_packs = [p for p in self._live_packs().values() if p.type is None]
        page = paginate(user_packs, options, lambda p, key: getattr(p, key), tie_breaker=lambda p: p.id,
                        matches=lambda p, text: text in p.name.lower())
        return [self._counted(p) for p in page]

    async def add(self, fields: PackFields, at: dt.datetime) -> Pack:
        self._check(fields, except_id=None)
        pack = Pack(id=self.store.next_id("packs"), name=fields.name, description=fields.description,
                    disabled=fields.disabled, targets=fields.targets, created_at=at, updated_at=at)
        self.state.packs[pack.id] = pack
        return self._counted(pack)

    async def update(self, pack_id: int, fields: PackFields, at: dt.datetime) -> Pack:
        old = self._live_packs().get(pack_id)
        if old is None:
            raise NotFound(f"Pack with id={pack_id} was not found in the datastore")
        self._check(fields, except_id=pack_id)
        pack = attrs.evolve(old, name=fields.name, description=fields.description, disabled=fields.disabled,
                            targets=fields.targets, updated_at=at)
        self.state.packs[pack_id] = pack
        return self._counted(pack)

    async def delete(self, pack_id: int) -> bool:
        if pack_id not in self._live_packs():
            return False
        del self.state.packs[pack_id]
        for entry_id, entry in list(self.state.scheduled_queries.items()):
            if entry.pack_id == pack_id:
                del self.state.scheduled_queries[entry_id]
        return True

    async def schedule_pack(self, team_id: int | None) -> Pack | None:
        kind = schedule_pack_type(team_id)
        found = next((p for p in self._live_packs().values() if p.type == kind), None)
        return None if found is None else self._counted(found)

    async def ensure_schedule_pack(self, team_id: int | None, at: dt.datetime) -> Pack:
        existing = await self.schedule_pack(team_id)
        if existing is not None:
            return existing
        if team_id is not None and team_id not in self.state.teams:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        # A deleted team's pack may linger unseen; its name is free again.
        for pack_id, pack in list(self.state.packs.items()):
            if pack.name == schedule_pack_name(team_id):
                del self.state.packs[pack_id]
        pack = Pack(id=self.store.next_id("packs"), name=schedule_pack_name(team_id), type=schedule_pack_type(team_id),
                    team_id=team_id, created_at=at, updated_at=at)
        self.state.packs[pack.id] = pack
        return self._counted(pack)

    async def unknown_targets(self, targets: PackTargets) -> PackTargets:
        return PackTargets(
            host_ids=tuple(sorted({i for i in targets.host_ids if i not in self.state.host_tables.hosts})),
            label_ids=tuple(sorted({i for i in targets.label_ids if i not in self.state.host_tables.labels})),
            team_ids=tuple(sorted({i for i in targets.team_ids if i not in self.state.teams})),
        )

    # ---- scheduled queries ------------------------------------------------------------------------

    async def scheduled(self, pack_id: int) -> builtins.list[ScheduledQuery]:
        if pack_id not in self._live_packs():
            return []
        return [e for e in self._live_entries() if e.pack_id == pack_id]

    async def get_scheduled(self, scheduled_id: int) -> ScheduledQuery | None:
        return next((e for e in self._live_entries() if e.id == scheduled_id), None)

    async def add_scheduled(self, pack_id: int, *, query_id: int, name: str, fields: ScheduleFields,
                            at: dt.datetime) -> ScheduledQuery:
        if pack_id not in self._live_packs():
            raise NotFound(f"Pack with id={pack_id} was not found in the datastore")
        if query_id not in self.state.queries:
            raise NotFound(f"Query with id={query_id} was not found in the datastore")
        if any(e.pack_id == pack_id and e.name == name for e in self._live_entries()):
            raise AlreadyExists(ENTRY_NAME_TAKEN)
        entry = ScheduledQuery(id=self.store.next_id("scheduled_queries"), pack_id=pack_id, name=name,
                               query_id=query_id, query_name="", query="", created_at=at, updated_at=at,
                               **attrs.asdict(fields))
        self.state.scheduled_queries[entry.id] = entry
        return self._joined(entry)

    async def update_scheduled(self, scheduled_id: int, fields: ScheduleFields, at: dt.datetime) -> ScheduledQuery:
        if await self.get_scheduled(scheduled_id) is None:
            raise NotFound(f"Scheduled query with id={scheduled_id} was not found in the datastore")
        entry = attrs.evolve(self.state.scheduled_queries[scheduled_id], updated_at=at, **attrs.asdict(fields))
        self.state.scheduled_queries[scheduled_id] = entry
        return self._joined(entry)

    async def delete_scheduled(self, scheduled_id: int) -> bool:
        if await self.get_scheduled(scheduled_id) is None:
            return False
        del self.state.scheduled_queries[scheduled_id]
        return True

    async def user_packs_of(self, query_ids: Sequence[int]) -> dict[int, builtins.list[Pack]]:
        wanted = set(query_ids)
        packs = self._live_packs()
        found: dict[int, set[int]] = {}
        for entry in self._live_entries():
            if entry.query_id in wanted and packs[entry.pack_id].type is None:
                found.setdefault(entry.query_id, set()).add(entry.pack_id)
        return {query_id: [packs[i] for i in sorted(pack_ids)] for query_id, pack_ids in found.items()}

    async def catalogue(self) -> PackCatalogue:
        packs = self._live_packs()
        return PackCatalogue(
            packs=tuple(self._live_targets(packs[i]) for i in sorted(packs)),
            scheduled=tuple(self._live_entries()),
            saved=tuple(q for _, q in sorted(self.state.queries.items()) if q.interval > 0),
        )

    # ---- the joins ----------------------------------------------------------------------------------

    def _check(self, fields: PackFields, *, except_id: int | None) -> None:
        if any(p.name == fields.name and p.id != except_id for p in self._live_packs().values()):
            raise AlreadyExists(NAME_TAKEN)
        if not self._known(fields.targets):
            raise NotFound("a pack target was not found in the datastore")

    def _known(self, targets: PackTargets) -> bool:
        tables = self.state.host_tables
        return (all(i in tables.hosts for i in targets.host_ids) and all(i in tables.labels for i in targets.label_ids)
                and all(i in self.state.teams for i in targets.team_ids))

    def _live_packs(self) -> dict[int, Pack]:
        return {i: p for i, p in self.state.packs.items() if p.team_id is None or p.team_id in self.state.teams}

    def _live_targets(self, pack: Pack) -> Pack:
        tables = self.state.host_tables
        targets = pack.targets
        return attrs.evolve(pack, targets=PackTargets(
            host_ids=tuple(i for i in targets.host_ids if i in tables.hosts),
            label_ids=tuple(i for i in targets.label_ids if i in tables.labels),
            team_ids=tuple(i for i in targets.team_ids if i in self.state.teams)))

    def _live_entries(self) -> builtins.list[ScheduledQuery]:
        packs = self._live_packs()
        return [self._joined(e) for _, e in sorted(self.state.scheduled_queries.items())
                if e.pack_id in packs and e.query_id in self.state.queries]

    def _joined(self, entry: ScheduledQuery) -> ScheduledQuery:
        saved = self.state.queries[entry.query_id]
        return attrs.evolve(entry, query_name=saved.name, query=saved.query, query_team_id=saved.team_id)

    def _counted(self, pack: Pack) -> Pack:
        pack = self._live_targets(pack)
        tables = self.state.host_tables
        if pack.type == GLOBAL_PACK_TYPE:
            hosts: set[int] = set(tables.hosts)
        elif pack.team_id is not None:
            hosts = {h.id for h in tables.hosts.values() if h.team_id == pack.team_id}
        else:
            labels = set(pack.targets.label_ids)
            teams = set(pack.targets.team_ids)
            hosts = set(pack.targets.host_ids)
            hosts |= {h for h, member_of in tables.label_membership.items() if labels & member_of}
            hosts |= {h.id for h in tables.hosts.values() if h.team_id in teams}
        queries = sum(1 for e in self._live_entries() if e.pack_id == pack.id)
        return attrs.evolve(pack, query_count=queries, total_hosts_count=len(hosts))

