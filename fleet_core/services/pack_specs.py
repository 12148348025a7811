"""Packs as code: what ``fleetctl get packs`` reads and ``fleetctl apply`` writes, by name.

A pack spec names its targets (labels and teams) and its saved queries by name. Applying is
all-or-nothing like every spec: each spec is checked and every problem is named
``specs[i].<field>`` before anything is written, and the writes share one unit of work.
Applying a pack replaces its label and team targets and its scheduled queries with the spec's;
host targets, which a spec cannot name, are kept.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import InvalidArgument, NotFound
from fleet_core.model.packs import Pack, PackFields, PackTargets, ScheduledQuery, ScheduleFields
from fleet_core.ports import Clock, InvalidationBus, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce_config_change
from fleet_core.services.packs import GLOBAL_ONLY, checked_pack_fields, checked_schedule

log = structlog.get_logger(__name__)


@attrs.frozen
class PackQuerySpec:
    """One scheduled query: ``query`` names a global saved query, ``name`` the entry in the pack."""

    query: str
    name: str
    fields: ScheduleFields
    description: str = ""


@attrs.frozen
class PackSpec:
    name: str
    description: str = ""
    disabled: bool = False
    # Label and team names; None targets none.
    labels: tuple[str, ...] | None = None
    teams: tuple[str, ...] | None = None
    queries: tuple[PackQuerySpec, ...] = ()
    id: int | None = None


@attrs.frozen
class _Resolved:
    pack: Pack | None
    fields: PackFields
    # (saved query id, entry name, schedule) per query spec.
    entries: tuple[tuple[int, str, ScheduleFields], ...]


@attrs.frozen
class PackSpecService:
    uow: UnitOfWorkFactory
    clock: Clock
    bus: InvalidationBus

    async def packs(self, viewer: Viewer) -> builtins.list[PackSpec]:
        """Every user pack as a spec, by id."""
        authorize(viewer, Action.READ_PACKS, team_ids=GLOBAL_ONLY)
        async with self.uow() as uow:
            return [await _spec_of(uow, pack) for pack in await uow.packs.list(ListOptions(order_key="id"))]

    async def pack(self, viewer: Viewer, name: str) -> PackSpec:
        """The user pack with exactly this name. Raises NotFound."""
        authorize(viewer, Action.READ_PACKS, team_ids=GLOBAL_ONLY)
        async with self.uow() as uow:
            pack = await uow.packs.get_by_name(name)
            if pack is None:
                raise NotFound(f"Pack {name!r} was not found in the datastore")
            return await _spec_of(uow, pack)

    async def apply(self, viewer: Viewer, specs: Sequence[PackSpec]) -> None:
        """Create or replace each pack by name, with its targets and scheduled queries; records
        ``applied_spec_pack``.

        Raises:
            PermissionDenied: the viewer may not write packs.
            InvalidArgument: a bad field, an unknown label, team or query, a name given twice
                (nothing applied).
        """
        authorize(viewer, Action.WRITE_PACKS, team_ids=GLOBAL_ONLY)
        async with self.uow() as uow:
            problems: builtins.list[tuple[str, str]] = []
            resolved = [await _resolve(uow, index, spec, problems) for index, spec in enumerate(specs)]
            seen: dict[str, int] = {}
            for index, item in enumerate(resolved):
                key = item.fields.name
                if key in seen:
                    problems.append((f"specs[{index}].name", f"is the same as specs[{seen[key]}].name"))
                seen.setdefault(key, index)
            if problems:
                raise InvalidArgument(*problems)
            now = self.clock.now()
            for item in resolved:
                await _write(uow, item, now)
            if resolved:
                await record_activity(uow, viewer.user, "applied_spec_pack", {}, now)
            await uow.commit()
        await announce_config_change(self.bus)
        log.info("pack_specs_applied", count=len(resolved))


async def _spec_of(uow: UnitOfWork, pack: Pack) -> PackSpec:
    labels = [label.name for i in pack.targets.label_ids if (label := await uow.labels.get(i)) is not None]
    teams = [team.name for team in await uow.teams.get_many(pack.targets.team_ids)]
    return PackSpec(
        id=pack.id, name=pack.name, description=pack.description, disabled=pack.disabled,
        labels=tuple(labels) or None, teams=tuple(teams) or None,
        queries=tuple(_query_spec(entry) for entry in await uow.packs.scheduled(pack.id)),
    )


def _query_spec(entry: ScheduledQuery) -> PackQuerySpec:
    return PackQuerySpec(query=entry.query_name, name=entry.name, fields=entry.fields)


async def _resolve(uow: UnitOfWork, index: int, spec: PackSpec, problems: builtins.list[tuple[str, str]]) -> _Resolved:
    at = f"specs[{index}]"
    existing = await uow.packs.get_by_name(spec.name.strip())
    label_ids = []
    for name in spec.labels or ():
        label = await uow.labels.get_by_name(name)
        if label is None:
            problems.append((f"{at}.targets.labels", f"no label is named {name!r}"))
        else:
            label_ids.append(label.id)
    team_ids = []
    for name in spec.teams or ():
        team = await uow.teams.get_by_name(name)
        if team is None:
            problems.append((f"{at}.targets.teams", f"no team is named {name!r}"))
        else:
            team_ids.append(team.id)
    fields = PackFields(name=spec.name, description=spec.description, disabled=spec.disabled, targets=PackTargets(
        host_ids=() if existing is None else existing.targets.host_ids,
        label_ids=tuple(label_ids), team_ids=tuple(team_ids)))
    try:
        fields = checked_pack_fields(fields)
    except InvalidArgument as exc:
        problems.extend((f"{at}.{name}", reason) for name, reason in exc.problems)

    entries: builtins.list[tuple[int, str, ScheduleFields]] = []
    names: dict[str, int] = {}
    for position, query_spec in enumerate(spec.queries):
        here = f"{at}.queries[{position}]"
        saved = await uow.queries.get_by_name(query_spec.query, team_id=None)
        if saved is None:
            problems.append((f"{here}.query", f"no global query is named {query_spec.query!r}"))
        name = query_spec.name.strip() or query_spec.query
        if name in names:
            problems.append((f"{here}.name", f"is the same as queries[{names[name]}].name"))
        names.setdefault(name, position)
        try:
            schedule = checked_schedule(query_spec.fields)
        except InvalidArgument as exc:
            problems.extend((f"{here}.{field}", reason) for field, reason in exc.problems)
            continue
        if saved is not None:
            entries.append((saved.id, name, schedule))
    return _Resolved(pack=existing, fields=fields, entries=tuple(entries))


async def _write(uow: UnitOfWork, item: _Resolved, now: dt.datetime) -> None:
    if item.pack is None:
        pack = await uow.packs.add(item.fields, now)
        current: builtins.list[ScheduledQuery] = []
    else:
        pack = await uow.packs.update(item.pack.id, item.fields, now)
        current = await uow.packs.scheduled(pack.id)
    by_name = {entry.name: entry for entry in current}
    wanted = {name for _, name, _ in item.entries}
    for entry in current:
        if entry.name not in wanted:
            await uow.packs.delete_scheduled(entry.id)
    for query_id, name, schedule in item.entries:
        same_name = by_name.get(name)
        if same_name is not None and same_name.query_id == query_id:
            if same_name.fields != schedule:
                await uow.packs.update_scheduled(same_name.id, schedule, now)
            continue
        if same_name is not None:
            await uow.packs.delete_scheduled(same_name.id)
        await uow.packs.add_scheduled(pack.id, query_id=query_id, name=name, fields=schedule, at=now)
