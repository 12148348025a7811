"""The packs in an agent's config: the global schedule, its team's schedule and the user packs
that target it, as osquery packs.

Building them is a pure function of the pack catalogue and the host (host id, team, labels).
The catalogue is read once per process and compiled into per-pack query maps, kept until a
configuration change is announced on the bus (every pack, schedule and query write announces
one) or a backstop TTL passes. A host's labels are read, one repository call, only when some
enabled user pack targets labels.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from fleet_core.model.hosts import HostIdentity
from fleet_core.model.packs import GLOBAL_PACK_NAME, GLOBAL_PACK_TYPE, PackCatalogue, ScheduledQuery
from fleet_core.model.queries import SavedQuery
from fleet_core.ports import Clock, InvalidationBus, UnitOfWorkFactory

# Backstop for a lost announcement; announcements normally drop the cache at once.
CATALOGUE_TTL = dt.timedelta(minutes=10)

QueryMap = Mapping[str, Mapping[str, Any]]


def scheduled_entry(entry: ScheduledQuery) -> dict[str, Any]:
    """osquery's query content for a scheduled query; optional keys only when set."""
    content: dict[str, Any] = {"query": entry.query, "interval": entry.interval,
                               "platform": entry.platform or "", "version": entry.version or ""}
    for key in ("snapshot", "removed", "shard", "denylist"):
        value = getattr(entry, key)
        if value is not None:
            content[key] = value
    return content


def saved_entry(saved: SavedQuery) -> dict[str, Any]:
    """osquery's query content for a saved query run on its own interval; the logging type
    decides snapshot (snapshot) or removed (differential: true, ignoring removals: false)."""
    content: dict[str, Any] = {"query": saved.query, "interval": saved.interval, "platform": saved.platform,
                               "version": saved.min_osquery_version}
    if saved.logging == "snapshot":
        content["snapshot"] = True
    elif saved.logging == "differential":
        content["removed"] = True
    elif saved.logging == "differential_ignore_removals":
        content["removed"] = False
    return content


@attrs.frozen
class UserPackContent:
    name: str
    host_ids: frozenset[int]
    label_ids: frozenset[int]
    team_ids: frozenset[int]
    queries: QueryMap

    def targets(self, host_id: int, team_id: int | None, label_ids: frozenset[int]) -> bool:
        return (host_id in self.host_ids or (team_id is not None and team_id in self.team_ids)
                or not self.label_ids.isdisjoint(label_ids))


@attrs.frozen
class CompiledPacks:
    """The catalogue as query maps: the Global pack's, each team's, and each enabled user pack's
    (empty ones already left out)."""

    global_queries: QueryMap
    team_queries: Mapping[int, QueryMap]
    user_packs: tuple[UserPackContent, ...]

    @property
    def targets_labels(self) -> bool:
        return any(pack.label_ids for pack in self.user_packs)


def compile_packs(catalogue: PackCatalogue) -> CompiledPacks:
    """Global: the global schedule's entries of global queries, then every global saved query
    with an interval whose name is not scheduled there yet. Each team: its schedule's entries of
    global or its own queries, then its own saved queries with an interval likewise. User packs:
    the enabled ones, with their entries of global queries."""
    entries: dict[int, list[ScheduledQuery]] = {}
    for entry in sorted(catalogue.scheduled, key=lambda e: e.id):
        entries.setdefault(entry.pack_id, []).append(entry)
    global_queries: dict[str, dict[str, Any]] = {}
    team_queries: dict[int, dict[str, dict[str, Any]]] = {}
    user_packs: list[UserPackContent] = []
    for pack in sorted(catalogue.packs, key=lambda p: p.id):
        mine = entries.get(pack.id, [])
        if pack.type == GLOBAL_PACK_TYPE:
            global_queries.update((e.name, scheduled_entry(e)) for e in mine if e.query_team_id is None)
        elif pack.team_id is not None:
            team = team_queries.setdefault(pack.team_id, {})
            team.update((e.name, scheduled_entry(e)) for e in mine if e.query_team_id in (None, pack.team_id))
        elif pack.type is None and not pack.disabled:
            queries = {e.name: scheduled_entry(e) for e in mine if e.query_team_id is None}
            if queries:
                targets = pack.targets
                user_packs.append(UserPackContent(
                    name=pack.name, host_ids=frozenset(targets.host_ids), label_ids=frozenset(targets.label_ids),
                    team_ids=frozenset(targets.team_ids), queries=queries))
    for saved in sorted(catalogue.saved, key=lambda q: q.id):
        if saved.interval <= 0:
            continue
        scope = global_queries if saved.team_id is None else team_queries.setdefault(saved.team_id, {})
        scope.setdefault(saved.name, saved_entry(saved))
    return CompiledPacks(global_queries=global_queries,
                         team_queries={team: queries for team, queries in team_queries.items() if queries},
                         user_packs=tuple(user_packs))


def packs_for(compiled: CompiledPacks, *, host_id: int, team_id: int | None,
              label_ids: frozenset[int]) -> dict[str, Any]:
    """osquery ``packs`` for one host: pack name -> {"queries": {...}}; only non-empty packs."""
    packs: dict[str, Any] = {}
    for pack in compiled.user_packs:
        if pack.targets(host_id, team_id, label_ids):
            packs[pack.name] = {"queries": pack.queries}
    if compiled.global_queries:
        packs[GLOBAL_PACK_NAME] = {"queries": compiled.global_queries}
    if team_id is not None and team_id in compiled.team_queries:
        packs[f"team-{team_id}"] = {"queries": compiled.team_queries[team_id]}
    return packs


def build_packs(catalogue: PackCatalogue, *, host_id: int, team_id: int | None,
                label_ids: frozenset[int]) -> dict[str, Any]:
    """packs_for() over a freshly compiled catalogue."""
    return packs_for(compile_packs(catalogue), host_id=host_id, team_id=team_id, label_ids=label_ids)


@attrs.define
class _Cached:
    packs: CompiledPacks
    until: dt.datetime


@attrs.define
class PackConfigService:
    """fleet_core.ports.PackSource over storage, caching the compiled catalogue per process."""

    uow: UnitOfWorkFactory
    clock: Clock
    bus: InvalidationBus
    _cached: _Cached | None = attrs.field(default=None, init=False)
    # Bumped by every announcement, so a load that raced one is not kept.
    _generation: int = attrs.field(default=0, init=False)
    _loading: asyncio.Future[CompiledPacks] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self.bus.subscribe_config(self.forget)

    def forget(self) -> None:
        self._cached = None
        self._generation += 1
        self._loading = None

    async def packs_for_host(self, host: HostIdentity) -> Mapping[str, Any]:
        compiled = await self._compiled()
        label_ids: frozenset[int] = frozenset()
        if compiled.targets_labels:
            async with self.uow() as uow:
                label_ids = frozenset(label.id for label in await uow.host_inventory.labels(host.id))
        return packs_for(compiled, host_id=host.id, team_id=host.team_id, label_ids=label_ids)

    async def _compiled(self) -> CompiledPacks:
        now = self.clock.now()
        if self._cached is not None and self._cached.until > now:
            return self._cached.packs
        if self._loading is not None:
            # Many agents fetch config at once after a change; one of them reads the catalogue.
            return await asyncio.shield(self._loading)
        generation = self._generation
        future: asyncio.Future[CompiledPacks] = asyncio.get_running_loop().create_future()
        self._loading = future
        try:
            async with self.uow() as uow:
                compiled = compile_packs(await uow.packs.catalogue())
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                # Waiters get the error too; with none, asyncio would warn nobody retrieved it.
                future.exception()
            raise
        finally:
            if self._loading is future:
                self._loading = None
        future.set_result(compiled)
        if generation == self._generation:
            self._cached = _Cached(compiled, now + CATALOGUE_TTL)
        return compiled
