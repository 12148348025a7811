"""Postgres implementation of fleet_core.ports.PackRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

import attrs
from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.paging import ordered, page_params, search_pattern
from fleet_core.errors import NotFound
from fleet_core.model.packs import (
    Pack,
    PackCatalogue,
    PackFields,
    PackTargets,
    ScheduledQuery,
    ScheduleFields,
    schedule_pack_name,
    schedule_pack_type,
)
from fleet_core.model.queries import SavedQuery
from fleet_core.rules.ordering import PACK_ORDER_KEYS
from fleet_core.rules.paging import ListOptions

# Every read of packs selects from the pack_details view (migration 0010), which defines once
# what a pack looks like: its targets and two counts.
SELECT_PACK: Final[LiteralString] = "SELECT * FROM pack_details p WHERE p.id = %(id)s"
SELECT_USER_PACK_BY_NAME: Final[LiteralString] = """
    SELECT * FROM pack_details p WHERE p.name = %(name)s AND p.type IS NULL
"""
SELECT_SCHEDULE_PACK: Final[LiteralString] = "SELECT * FROM pack_details p WHERE p.type = %(type)s"
SELECT_USER_PACKS_PAGE: Final[LiteralString] = """
    SELECT * FROM pack_details p
     WHERE p.type IS NULL AND (%(pattern)s::text IS NULL OR lower(p.name) LIKE lower(%(pattern)s))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
# The agent config needs the targets only (the view's counts are then never computed).
SELECT_CATALOGUE_PACKS: Final[LiteralString] = """
    SELECT p.id, p.name, p.description, p.disabled, p.type, p.team_id, p.created_at, p.updated_at,
           p.host_ids, p.label_ids, p.team_ids
      FROM pack_details p
     ORDER BY p.id
"""
INSERT_PACK: Final[LiteralString] = """
    INSERT INTO packs (name, description, disabled, created_at, updated_at)
    VALUES (%(name)s, %(description)s, %(disabled)s, %(at)s, %(at)s)
    RETURNING id
"""
UPDATE_PACK: Final[LiteralString] = """
    UPDATE packs SET name = %(name)s, description = %(description)s, disabled = %(disabled)s, updated_at = %(at)s
     WHERE id = %(id)s
    RETURNING id
"""
# A conflict can only be the schedule pack itself: no user pack may take its name.
INSERT_SCHEDULE_PACK: Final[LiteralString] = """
    INSERT INTO packs (name, pack_type, team_id, created_at, updated_at)
    VALUES (%(name)s, %(type)s, %(team_id)s, %(at)s, %(at)s)
    ON CONFLICT DO NOTHING
"""
DELETE_PACK: Final[LiteralString] = "DELETE FROM packs WHERE id = %(id)s"
DELETE_TARGETS: Final[Mapping[str, LiteralString]] = {
    "host_ids": "DELETE FROM pack_target_hosts WHERE pack_id = %(id)s",
    "label_ids": "DELETE FROM pack_target_labels WHERE pack_id = %(id)s",
    "team_ids": "DELETE FROM pack_target_teams WHERE pack_id = %(id)s",
}
INSERT_TARGETS: Final[Mapping[str, LiteralString]] = {
    "host_ids": "INSERT INTO pack_target_hosts (pack_id, host_id) SELECT %(id)s, unnest(%(ids)s::bigint[])",
    "label_ids": "INSERT INTO pack_target_labels (pack_id, label_id) SELECT %(id)s, unnest(%(ids)s::bigint[])",
    "team_ids": "INSERT INTO pack_target_teams (pack_id, team_id) SELECT %(id)s, unnest(%(ids)s::bigint[])",
}
SELECT_UNKNOWN_TARGETS: Final[LiteralString] = """
    SELECT array(SELECT DISTINCT i FROM unnest(%(host_ids)s::bigint[]) AS i
                  WHERE NOT EXISTS (SELECT 1 FROM hosts x WHERE x.id = i) ORDER BY i),
           array(SELECT DISTINCT i FROM unnest(%(label_ids)s::bigint[]) AS i
                  WHERE NOT EXISTS (SELECT 1 FROM labels x WHERE x.id = i) ORDER BY i),
           array(SELECT DISTINCT i FROM unnest(%(team_ids)s::bigint[]) AS i
                  WHERE NOT EXISTS (SELECT 1 FROM teams x WHERE x.id = i) ORDER BY i)
"""

# Each read joins the saved query's name, SQL and team at read time, so they follow its edits.
SELECT_SCHEDULED_BY_ID: Final[LiteralString] = """
    SELECT s.id, s.pack_id, s.name, s.query_id, q.name AS query_name, q.query, s.interval, s.created_at,
           s.updated_at, s.snapshot, s.removed, s.platform, s.version, s.shard, s.denylist,
           q.team_id AS query_team_id
      FROM scheduled_queries s JOIN queries q ON q.id = s.query_id
     WHERE s.id = %(id)s
"""
SELECT_SCHEDULED_OF_PACK: Final[LiteralString] = """
    SELECT s.id, s.pack_id, s.name, s.query_id, q.name AS query_name, q.query, s.interval, s.created_at,
           s.updated_at, s.snapshot, s.removed, s.platform, s.version, s.shard, s.denylist,
           q.team_id AS query_team_id
      FROM scheduled_queries s JOIN queries q ON q.id = s.query_id
     WHERE s.pack_id = %(pack_id)s
     ORDER BY s.id
"""
SELECT_ALL_SCHEDULED: Final[LiteralString] = """
    SELECT s.id, s.pack_id, s.name, s.query_id, q.name AS query_name, q.query, s.interval, s.created_at,
           s.updated_at, s.snapshot, s.removed, s.platform, s.version, s.shard, s.denylist,
           q.team_id AS query_team_id
      FROM scheduled_queries s JOIN queries q ON q.id = s.query_id
     ORDER BY s.id
"""
INSERT_SCHEDULED: Final[LiteralString] = """
    INSERT INTO scheduled_queries (pack_id, query_id, name, interval, snapshot, removed, platform, version, shard,
                                   denylist, created_at, updated_at)
    VALUES (%(pack_id)s, %(query_id)s, %(name)s, %(interval)s, %(snapshot)s, %(removed)s, %(platform)s, %(version)s,
            %(shard)s, %(denylist)s, %(at)s, %(at)s)
    RETURNING id
"""
UPDATE_SCHEDULED: Final[LiteralString] = """
    UPDATE scheduled_queries SET interval = %(interval)s, snapshot = %(snapshot)s, removed = %(removed)s,
                                 platform = %(platform)s, version = %(version)s, shard = %(shard)s,
                                 denylist = %(denylist)s, updated_at = %(at)s
     WHERE id = %(id)s
    RETURNING id
"""
DELETE_SCHEDULED: Final[LiteralString] = "DELETE FROM scheduled_queries WHERE id = %(id)s"
SELECT_USER_PACKS_OF: Final[LiteralString] = """
    SELECT DISTINCT s.query_id, p.id, p.name, p.description, p.disabled, p.pack_type AS type, p.team_id,
           p.created_at, p.updated_at
      FROM scheduled_queries s JOIN packs p ON p.id = s.pack_id
     WHERE p.pack_type IS NULL AND s.query_id = ANY(%(ids)s::bigint[])
     ORDER BY s.query_id, p.id
"""
# The saved queries that run on their own interval (> 0), with their authors.
SELECT_SAVED_WITH_INTERVAL: Final[LiteralString] = """
    SELECT q.id, q.name, q.query, q.created_at, q.updated_at, q.description, q.team_id, q.observer_can_run,
           q.interval, q.platform, q.min_osquery_version, q.automations_enabled, q.logging, q.author_id,
           coalesce(u.name, '') AS author_name, coalesce(u.email, '') AS author_email
      FROM queries q LEFT JOIN users u ON u.id = q.author_id
     WHERE q.interval > 0
     ORDER BY q.id
"""

ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "p.id",
    "name": 'lower(p.name) COLLATE "C"',
    "description": 'lower(p.description) COLLATE "C"',
    "created_at": "p.created_at",
    "updated_at": "p.updated_at",
    "disabled": "p.disabled",
}
assert ORDER_COLUMNS.keys() == PACK_ORDER_KEYS, "rules.ordering.PACK_ORDER_KEYS changed; map the new key"


def _pack(row: Mapping[str, Any]) -> Pack:
    return Pack(
        id=row["id"], name=row["name"], description=row["description"], disabled=row["disabled"],
        type=row["type"], team_id=row["team_id"], created_at=row["created_at"], updated_at=row["updated_at"],
        targets=PackTargets(host_ids=tuple(row.get("host_ids") or ()), label_ids=tuple(row.get("label_ids") or ()),
                            team_ids=tuple(row.get("team_ids") or ())),
        query_count=row.get("query_count", 0), total_hosts_count=row.get("total_hosts_count", 0),
    )


class PgPackRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    # ---- packs ------------------------------------------------------------------------------------

    async def get(self, pack_id: int) -> Pack | None:
        return await self._one(SELECT_PACK, {"id": pack_id})

    async def get_by_name(self, name: str) -> Pack | None:
        return await self._one(SELECT_USER_PACK_BY_NAME, {"name": name})

    async def list(self, options: ListOptions) -> builtins.list[Pack]:
        query = ordered(SELECT_USER_PACKS_PAGE, options, ORDER_COLUMNS, id_column="p.id")
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, {"pattern": search_pattern(options.query), **page_params(options)})
                return [_pack(row) for row in await cur.fetchall()]

    async def add(self, fields: PackFields, at: dt.datetime) -> Pack:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(INSERT_PACK, {"name": fields.name, "description": fields.description,
                                            "disabled": fields.disabled, "at": at})
            row = await cur.fetchone()
            assert row is not None
            await self._set_targets(cur, row[0], fields.targets)
        return await self._require(row[0])

    async def update(self, pack_id: int, fields: PackFields, at: dt.datetime) -> Pack:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(UPDATE_PACK, {"id": pack_id, "name": fields.name, "description": fields.description,
                                            "disabled": fields.disabled, "at": at})
            if await cur.fetchone() is None:
                raise NotFound(f"Pack with id={pack_id} was not found in the datastore")
            await self._set_targets(cur, pack_id, fields.targets)
        return await self._require(pack_id)

    async def delete(self, pack_id: int) -> bool:
        with translated():
            cur = await self._conn.execute(DELETE_PACK, {"id": pack_id})
        return cur.rowcount > 0

    async def schedule_pack(self, team_id: int | None) -> Pack | None:
        return await self._one(SELECT_SCHEDULE_PACK, {"type": schedule_pack_type(team_id)})

    async def ensure_schedule_pack(self, team_id: int | None, at: dt.datetime) -> Pack:
        async with guarded_write(self._conn):
            await self._conn.execute(INSERT_SCHEDULE_PACK, {
                "name": schedule_pack_name(team_id), "type": schedule_pack_type(team_id), "team_id": team_id,
                "at": at})
        pack = await self.schedule_pack(team_id)
        assert pack is not None
        return pack

    async def unknown_targets(self, targets: PackTargets) -> PackTargets:
        with translated():
            cur = await self._conn.execute(SELECT_UNKNOWN_TARGETS, {
                "host_ids": list(targets.host_ids), "label_ids": list(targets.label_ids),
                "team_ids": list(targets.team_ids)})
            row = await cur.fetchone()
        assert row is not None
        return PackTargets(host_ids=tuple(row[0]), label_ids=tuple(row[1]), team_ids=tuple(row[2]))

    # ---- scheduled queries ------------------------------------------------------------------------

    async def scheduled(self, pack_id: int) -> builtins.list[ScheduledQuery]:
        with translated():
            async with self._conn.cursor(row_factory=class_row(ScheduledQuery)) as cur:
                await cur.execute(SELECT_SCHEDULED_OF_PACK, {"pack_id": pack_id})
                return await cur.fetchall()

    async def get_scheduled(self, scheduled_id: int) -> ScheduledQuery | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(ScheduledQuery)) as cur:
                await cur.execute(SELECT_SCHEDULED_BY_ID, {"id": scheduled_id})
                return await cur.fetchone()

    async def add_scheduled(self, pack_id: int, *, query_id: int, name: str, fields: ScheduleFields,
                            at: dt.datetime) -> ScheduledQuery:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(INSERT_SCHEDULED, {**attrs.asdict(fields), "pack_id": pack_id, "query_id": query_id,
                                                 "name": name, "at": at})
            row = await cur.fetchone()
        assert row is not None
        return await self._require_scheduled(row[0])

    async def update_scheduled(self, scheduled_id: int, fields: ScheduleFields, at: dt.datetime) -> ScheduledQuery:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(UPDATE_SCHEDULED, {**attrs.asdict(fields), "id": scheduled_id, "at": at})
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"Scheduled query with id={scheduled_id} was not found in the datastore")
        return await self._require_scheduled(scheduled_id)

    async def delete_scheduled(self, scheduled_id: int) -> bool:
        with translated():
            cur = await self._conn.execute(DELETE_SCHEDULED, {"id": scheduled_id})
        return cur.rowcount > 0

    async def user_packs_of(self, query_ids: Sequence[int]) -> dict[int, builtins.list[Pack]]:
        found: dict[int, builtins.list[Pack]] = {}
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(SELECT_USER_PACKS_OF, {"ids": sorted(set(query_ids))})
                for row in await cur.fetchall():
                    found.setdefault(row["query_id"], []).append(_pack(row))
        return found

    async def catalogue(self) -> PackCatalogue:
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(SELECT_CATALOGUE_PACKS)
                packs = tuple(_pack(row) for row in await cur.fetchall())
            async with self._conn.cursor(row_factory=class_row(ScheduledQuery)) as cur:
                await cur.execute(SELECT_ALL_SCHEDULED)
                scheduled = tuple(await cur.fetchall())
            async with self._conn.cursor(row_factory=class_row(SavedQuery)) as cur:
                await cur.execute(SELECT_SAVED_WITH_INTERVAL)
                saved = tuple(await cur.fetchall())
        return PackCatalogue(packs=packs, scheduled=scheduled, saved=saved)

    # ---- helpers ------------------------------------------------------------------------------------

    async def _one(self, query: LiteralString, params: Mapping[str, Any]) -> Pack | None:
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, params)
                row = await cur.fetchone()
        return None if row is None else _pack(row)

    async def _require(self, pack_id: int) -> Pack:
        pack = await self.get(pack_id)
        if pack is None:
            raise NotFound(f"Pack with id={pack_id} was not found in the datastore")
        return pack

    async def _require_scheduled(self, scheduled_id: int) -> ScheduledQuery:
        entry = await self.get_scheduled(scheduled_id)
        if entry is None:
            raise NotFound(f"Scheduled query with id={scheduled_id} was not found in the datastore")
        return entry

    @staticmethod
    async def _set_targets(cur: Any, pack_id: int, targets: PackTargets) -> None:
        for kind in ("host_ids", "label_ids", "team_ids"):
            await cur.execute(DELETE_TARGETS[kind], {"id": pack_id})
            ids = sorted(set(getattr(targets, kind)))
            if ids:
                await cur.execute(INSERT_TARGETS[kind], {"id": pack_id, "ids": ids})
