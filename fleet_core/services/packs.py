"""Packs and schedules: user packs, the global schedule, team schedules, and their scheduled queries.

User packs and the global schedule are global objects: only global roles read them (any role) or
write them (admins and maintainers). A team's schedule belongs to its team, so that team's
admins and maintainers write it and any of its members reads it. The global and team schedule
packs are created on first use. Every write announces a configuration change after its commit,
so every process builds agents' packs afresh on their next config fetch.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import InvalidArgument, NotFound
from fleet_core.model.packs import (
    GLOBAL_PACK_NAME,
    TEAM_PACK_NAME,
    Pack,
    PackFields,
    PackTargets,
    ScheduledQuery,
    ScheduleFields,
)
from fleet_core.model.queries import SavedQuery
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.ports import Clock, InvalidationBus, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions, paginate
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce_config_change
from fleet_core.services.queries import MAX_INTERVAL, PLATFORM_REASON, normalized_platform

log = structlog.get_logger(__name__)

MAX_PACK_NAME_LENGTH = 255
MAX_SHARD = 100
# team_ids for an object no team role reaches (see fleet_core.authz.is_allowed).
GLOBAL_ONLY: tuple[int, ...] = ()
# What a team schedule may be ordered by.
SCHEDULE_ORDER_KEYS = frozenset({"id", "name", "query_name", "interval", "created_at", "updated_at"})
SCHEDULE_PACK_REASON = "the global and team schedules are changed through their schedule endpoints"


@attrs.frozen
class PackChanges:
    """A PATCH of a user pack: every field left as UNSET_FIELD stays as it is."""

    name: Any = UNSET_FIELD
    description: Any = UNSET_FIELD
    disabled: Any = UNSET_FIELD
    host_ids: Any = UNSET_FIELD
    label_ids: Any = UNSET_FIELD
    team_ids: Any = UNSET_FIELD

    def apply(self, fields: PackFields) -> PackFields:
        targets = {name: getattr(self, name) for name in ("host_ids", "label_ids", "team_ids")
                   if getattr(self, name) is not UNSET_FIELD}
        given = {name: getattr(self, name) for name in ("name", "description", "disabled")
                 if getattr(self, name) is not UNSET_FIELD}
        return attrs.evolve(fields, targets=attrs.evolve(fields.targets, **targets), **given)


@attrs.frozen
class ScheduleChanges:
    """A PATCH of a scheduled query: every field left as UNSET_FIELD stays as it is."""

    interval: Any = UNSET_FIELD
    snapshot: Any = UNSET_FIELD
    removed: Any = UNSET_FIELD
    platform: Any = UNSET_FIELD
    version: Any = UNSET_FIELD
    shard: Any = UNSET_FIELD
    denylist: Any = UNSET_FIELD

    def apply(self, fields: ScheduleFields) -> ScheduleFields:
        given = {f.name: getattr(self, f.name) for f in attrs.fields(ScheduleChanges)
                 if getattr(self, f.name) is not UNSET_FIELD}
        return attrs.evolve(fields, **given)


def is_reserved_pack_name(name: str) -> bool:
    """The names agents know the global and team schedules by; no user pack may take them."""
    return name == GLOBAL_PACK_NAME or TEAM_PACK_NAME.fullmatch(name) is not None


def checked_pack_fields(fields: PackFields, unknown: PackTargets = PackTargets()) -> PackFields:
    """The fields with the name trimmed and each target list deduplicated and sorted.

    Raises:
        InvalidArgument: a blank, too long or reserved name, or ``unknown`` target ids (naming
            host_ids, label_ids or team_ids); every problem at once.
    """
    problems: list[tuple[str, str]] = []
    name = fields.name.strip()
    if not name:
        problems.append(("name", "may not be empty"))
    elif len(name) > MAX_PACK_NAME_LENGTH:
        problems.append(("name", f"must be at most {MAX_PACK_NAME_LENGTH} characters"))
    elif is_reserved_pack_name(name):
        problems.append(("name", "is reserved for the global and team schedules"))
    problems.extend((kind, f"unknown ids: {', '.join(map(str, ids))}")
                    for kind, ids in (("host_ids", unknown.host_ids), ("label_ids", unknown.label_ids),
                                      ("team_ids", unknown.team_ids)) if ids)
    if problems:
        raise InvalidArgument(*problems)
    targets = fields.targets
    return attrs.evolve(fields, name=name, targets=PackTargets(
        host_ids=tuple(sorted(set(targets.host_ids))), label_ids=tuple(sorted(set(targets.label_ids))),
        team_ids=tuple(sorted(set(targets.team_ids)))))


def checked_schedule(fields: ScheduleFields) -> ScheduleFields:
    """The fields with the platform list normalised.

    Raises:
        InvalidArgument: an interval outside 1..2^31-1, a shard outside 0..100 or an unknown
            platform; every problem at once.
    """
    problems: list[tuple[str, str]] = []
    if not 1 <= fields.interval <= MAX_INTERVAL:
        problems.append(("interval", f"must be between 1 and {MAX_INTERVAL}"))
    if fields.shard is not None and not 0 <= fields.shard <= MAX_SHARD:
        problems.append(("shard", f"must be between 0 and {MAX_SHARD}"))
    platform = fields.platform
    if platform is not None:
        platform = normalized_platform(platform)
        if platform is None:
            problems.append(("platform", PLATFORM_REASON))
    if problems:
        raise InvalidArgument(*problems)
    return attrs.evolve(fields, platform=platform)


def pack_scope(pack: Pack) -> Sequence[int]:
    """The teams a pack belongs to for authorization: a team schedule's team, else none."""
    return GLOBAL_ONLY if pack.team_id is None else [pack.team_id]


@attrs.frozen
class PackService:
    uow: UnitOfWorkFactory
    clock: Clock
    bus: InvalidationBus

    # ---- user packs -------------------------------------------------------------------------------

    async def list(self, viewer: Viewer, options: ListOptions) -> builtins.list[Pack]:
        """User packs, paged and ordered (PACK_ORDER_KEYS); the schedules' packs are not among them."""
        authorize(viewer, Action.READ_PACKS, team_ids=GLOBAL_ONLY)
        async with self.uow() as uow:
            return await uow.packs.list(options)

    async def get(self, viewer: Viewer, pack_id: int) -> Pack:
        """One pack, a schedule's pack included.

        Raises:
            NotFound: no such pack.
            PermissionDenied: the viewer may not read it.
        """
        async with self.uow() as uow:
            pack = await _require_pack(uow, pack_id)
        authorize(viewer, Action.READ_PACKS, team_ids=pack_scope(pack))
        return pack

    async def scheduled(self, viewer: Viewer, pack_id: int) -> builtins.list[ScheduledQuery]:
        """The pack's scheduled queries. Raises NotFound, PermissionDenied as get()."""
        async with self.uow() as uow:
            pack = await _require_pack(uow, pack_id)
            authorize(viewer, Action.READ_PACKS, team_ids=pack_scope(pack))
            return await uow.packs.scheduled(pack_id)

    async def create(self, viewer: Viewer, fields: PackFields) -> Pack:
        """Create a user pack and record ``created_pack``.

        Raises:
            InvalidArgument: see checked_pack_fields; unknown target ids (naming host_ids,
                label_ids or team_ids).
            AlreadyExists: another pack has the name.
        """
        authorize(viewer, Action.WRITE_PACKS, team_ids=GLOBAL_ONLY)
        async with self.uow() as uow:
            fields = checked_pack_fields(fields, await uow.packs.unknown_targets(fields.targets))
            now = self.clock.now()
            pack = await uow.packs.add(fields, now)
            await record_activity(uow, viewer.user, "created_pack", {"pack_id": pack.id, "pack_name": pack.name}, now)
            await uow.commit()
        await announce_config_change(self.bus)
        log.info("pack_created", pack_id=pack.id)
        return pack

    async def modify(self, viewer: Viewer, pack_id: int, changes: PackChanges) -> Pack:
        """Apply a PATCH to a user pack and record ``edited_pack``.

        Raises:
            NotFound: no such pack.
            InvalidArgument: a schedule's pack, or as create().
            AlreadyExists: another pack has the new name.
        """
        authorize(viewer, Action.WRITE_PACKS, team_ids=GLOBAL_ONLY)
        async with self.uow() as uow:
            pack = await _require_user_pack(uow, pack_id)
            fields = changes.apply(pack.fields)
            fields = checked_pack_fields(fields, await uow.packs.unknown_targets(fields.targets))
            now = self.clock.now()
            pack = await uow.packs.update(pack_id, fields, now)
            await record_activity(uow, viewer.user, "edited_pack", {"pack_id": pack.id, "pack_name": pack.name}, now)
            await uow.commit()
        await announce_config_change(self.bus)
        log.info("pack_modified", pack_id=pack_id)
        return pack

    async def delete(self, viewer: Viewer, pack_id: int) -> None:
        """Delete a user pack with its scheduled queries and record ``deleted_pack``.

        Raises:
            NotFound: no such pack.
            InvalidArgument: a schedule's pack.
        """
        authorize(viewer, Action.WRITE_PACKS, team_ids=GLOBAL_ONLY)
        async with self.uow() as uow:
            await self._delete(uow, viewer, await _require_user_pack(uow, pack_id))

    async def delete_by_name(self, viewer: Viewer, name: str) -> None:
        """Delete the user pack with exactly this name. Raises NotFound."""
        authorize(viewer, Action.WRITE_PACKS, team_ids=GLOBAL_ONLY)
        async with self.uow() as uow:
            pack = await uow.packs.get_by_name(name)
            if pack is None:
                raise NotFound(f"Pack {name!r} was not found in the datastore")
            await self._delete(uow, viewer, pack)

    async def _delete(self, uow: UnitOfWork, viewer: Viewer, pack: Pack) -> None:
        await uow.packs.delete(pack.id)
        await record_activity(uow, viewer.user, "deleted_pack", {"pack_name": pack.name}, self.clock.now())
        await uow.commit()
        await announce_config_change(self.bus)
        log.info("pack_deleted", pack_id=pack.id)

    # ---- scheduled queries of any pack (/schedule) ---------------------------------------------------

    async def get_scheduled(self, viewer: Viewer, scheduled_id: int) -> ScheduledQuery:
        """One scheduled query of any pack.

        Raises:
            NotFound: no such scheduled query.
            PermissionDenied: the viewer may not read its pack.
        """
        async with self.uow() as uow:
            entry = await _require_scheduled(uow, scheduled_id)
            pack = await _require_pack(uow, entry.pack_id)
        authorize(viewer, Action.READ_PACKS, team_ids=pack_scope(pack))
        return entry

    async def schedule(self, viewer: Viewer, pack_id: int, query_id: int, fields: ScheduleFields) -> ScheduledQuery:
        """Schedule a saved query in a pack and record ``edited_pack``.

        Raises:
            InvalidArgument: see checked_schedule; a query the pack may not run (user packs and
                the global schedule run global queries; a team schedule also its team's).
            NotFound: no such pack or query.
            PermissionDenied: the viewer may not write the pack.
            AlreadyExists: the pack already schedules a query of that name.
        """
        fields = checked_schedule(fields)
        async with self.uow() as uow:
            pack = await _require_pack(uow, pack_id)
            authorize(viewer, Action.WRITE_PACKS, team_ids=pack_scope(pack))
            entry = await self._add(uow, viewer, pack, await _require_query(uow, query_id), fields)
        await announce_config_change(self.bus)
        return entry

    async def modify_scheduled(self, viewer: Viewer, scheduled_id: int, changes: ScheduleChanges) -> ScheduledQuery:
        """Apply a PATCH to a scheduled query of any pack and record ``edited_pack``.

        Raises:
            NotFound: no such scheduled query.
            PermissionDenied: the viewer may not write its pack.
            InvalidArgument: see checked_schedule.
        """
        async with self.uow() as uow:
            entry = await _require_scheduled(uow, scheduled_id)
            pack = await _require_pack(uow, entry.pack_id)
            authorize(viewer, Action.WRITE_PACKS, team_ids=pack_scope(pack))
            entry = await self._modify(uow, viewer, pack, entry, changes)
        await announce_config_change(self.bus)
        return entry

    async def delete_scheduled(self, viewer: Viewer, scheduled_id: int) -> None:
        """Unschedule a query from any pack and record ``edited_pack``.

        Raises:
            NotFound: no such scheduled query.
            PermissionDenied: the viewer may not write its pack.
        """
        async with self.uow() as uow:
            entry = await _require_scheduled(uow, scheduled_id)
            pack = await _require_pack(uow, entry.pack_id)
            authorize(viewer, Action.WRITE_PACKS, team_ids=pack_scope(pack))
            await self._remove(uow, viewer, pack, entry)
        await announce_config_change(self.bus)

    # ---- the global schedule (team_id None) and team schedules ----------------------------------------

    async def schedule_of(self, viewer: Viewer, team_id: int | None,
                          options: ListOptions | None = None) -> builtins.list[ScheduledQuery]:
        """The global schedule, or the team's, paged and ordered (SCHEDULE_ORDER_KEYS).

        Raises:
            NotFound: no such team.
            PermissionDenied: the viewer may not read that schedule.
        """
        authorize(viewer, Action.READ_PACKS, team_ids=_schedule_scope(team_id))
        async with self.uow() as uow:
            await _require_team(uow, team_id)
            pack = await uow.packs.schedule_pack(team_id)
            entries = await uow.packs.scheduled(pack.id) if pack is not None else []
        return paginate(entries, options or ListOptions(), lambda e, key: getattr(e, key), tie_breaker=lambda e: e.id)

    async def add_to_schedule(self, viewer: Viewer, team_id: int | None, query_id: int,
                              fields: ScheduleFields) -> ScheduledQuery:
        """Schedule a query globally or for the team (creating that schedule's pack on first use).

        Raises:
            InvalidArgument, NotFound, AlreadyExists: as schedule(); NotFound also for no such team.
            PermissionDenied: the viewer may not write that schedule.
        """
        authorize(viewer, Action.WRITE_PACKS, team_ids=_schedule_scope(team_id))
        fields = checked_schedule(fields)
        async with self.uow() as uow:
            await _require_team(uow, team_id)
            saved = await _require_query(uow, query_id)
            pack = await uow.packs.ensure_schedule_pack(team_id, self.clock.now())
            entry = await self._add(uow, viewer, pack, saved, fields)
        await announce_config_change(self.bus)
        return entry

    async def modify_in_schedule(self, viewer: Viewer, team_id: int | None, scheduled_id: int,
                                 changes: ScheduleChanges) -> ScheduledQuery:
        """Apply a PATCH to an entry of the global or the team's schedule.

        Raises:
            NotFound: no such team, or no such entry in that schedule.
            PermissionDenied: the viewer may not write that schedule.
            InvalidArgument: see checked_schedule.
        """
        authorize(viewer, Action.WRITE_PACKS, team_ids=_schedule_scope(team_id))
        async with self.uow() as uow:
            pack, entry = await _require_schedule_entry(uow, team_id, scheduled_id)
            entry = await self._modify(uow, viewer, pack, entry, changes)
        await announce_config_change(self.bus)
        return entry

    async def remove_from_schedule(self, viewer: Viewer, team_id: int | None, scheduled_id: int) -> None:
        """Remove an entry from the global or the team's schedule. Raises as modify_in_schedule()."""
        authorize(viewer, Action.WRITE_PACKS, team_ids=_schedule_scope(team_id))
        async with self.uow() as uow:
            pack, entry = await _require_schedule_entry(uow, team_id, scheduled_id)
            await self._remove(uow, viewer, pack, entry)
        await announce_config_change(self.bus)

    # ---- the writes, each ending in a commit ----------------------------------------------------------

    async def _add(self, uow: UnitOfWork, viewer: Viewer, pack: Pack, saved: SavedQuery,
                   fields: ScheduleFields) -> ScheduledQuery:
        if saved.team_id is not None and saved.team_id != pack.team_id:
            raise InvalidArgument(("query_id", "only global queries and the team's own queries may be scheduled "
                                               "for a team; only global queries elsewhere"))
        now = self.clock.now()
        entry = await uow.packs.add_scheduled(pack.id, query_id=saved.id, name=saved.name, fields=fields, at=now)
        await record_activity(uow, viewer.user, "edited_pack", {"pack_id": pack.id, "pack_name": pack.name}, now)
        await uow.commit()
        log.info("query_scheduled", pack_id=pack.id, scheduled_id=entry.id)
        return entry

    async def _modify(self, uow: UnitOfWork, viewer: Viewer, pack: Pack, entry: ScheduledQuery,
                      changes: ScheduleChanges) -> ScheduledQuery:
        fields = checked_schedule(changes.apply(entry.fields))
        now = self.clock.now()
        entry = await uow.packs.update_scheduled(entry.id, fields, now)
        await record_activity(uow, viewer.user, "edited_pack", {"pack_id": pack.id, "pack_name": pack.name}, now)
        await uow.commit()
        log.info("scheduled_query_modified", pack_id=pack.id, scheduled_id=entry.id)
        return entry

    async def _remove(self, uow: UnitOfWork, viewer: Viewer, pack: Pack, entry: ScheduledQuery) -> None:
        await uow.packs.delete_scheduled(entry.id)
        await record_activity(uow, viewer.user, "edited_pack", {"pack_id": pack.id, "pack_name": pack.name},
                              self.clock.now())
        await uow.commit()
        log.info("scheduled_query_deleted", pack_id=pack.id, scheduled_id=entry.id)


def _schedule_scope(team_id: int | None) -> Sequence[int]:
    return GLOBAL_ONLY if team_id is None else [team_id]


async def _require_pack(uow: UnitOfWork, pack_id: int) -> Pack:
    pack = await uow.packs.get(pack_id)
    if pack is None:
        raise NotFound(f"Pack with id={pack_id} was not found in the datastore")
    return pack


async def _require_user_pack(uow: UnitOfWork, pack_id: int) -> Pack:
    pack = await _require_pack(uow, pack_id)
    if pack.type is not None:
        raise InvalidArgument(("id", SCHEDULE_PACK_REASON))
    return pack


async def _require_scheduled(uow: UnitOfWork, scheduled_id: int) -> ScheduledQuery:
    entry = await uow.packs.get_scheduled(scheduled_id)
    if entry is None:
        raise NotFound(f"Scheduled query with id={scheduled_id} was not found in the datastore")
    return entry


async def _require_schedule_entry(uow: UnitOfWork, team_id: int | None,
                                  scheduled_id: int) -> tuple[Pack, ScheduledQuery]:
    await _require_team(uow, team_id)
    pack = await uow.packs.schedule_pack(team_id)
    entry = await uow.packs.get_scheduled(scheduled_id)
    if pack is None or entry is None or entry.pack_id != pack.id:
        where = "the global schedule" if team_id is None else f"the schedule of team {team_id}"
        raise NotFound(f"Scheduled query with id={scheduled_id} was not found in {where}")
    return pack, entry


async def _require_query(uow: UnitOfWork, query_id: int) -> SavedQuery:
    saved = await uow.queries.get(query_id)
    if saved is None:
        raise NotFound(f"Query with id={query_id} was not found in the datastore")
    return saved


async def _require_team(uow: UnitOfWork, team_id: int | None) -> None:
    if team_id is not None and await uow.teams.get(team_id) is None:
        raise NotFound(f"Team with id={team_id} was not found in the datastore")
