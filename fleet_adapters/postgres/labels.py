"""Postgres implementation of fleet_core.ports.LabelRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import class_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.paging import ordered, page_params, search_pattern
from fleet_core.errors import NotFound
from fleet_core.model.hosts import Label
from fleet_core.rules.ordering import LABEL_ORDER_KEYS
from fleet_core.rules.paging import ListOptions

SELECT_BUILTIN_LABELS: Final[LiteralString] = """
    SELECT l.id, l.name, l.description, l.query, l.platform, l.label_type, l.label_membership_type,
           l.created_at, l.updated_at, l.team_id
      FROM labels l WHERE l.label_type = 'builtin' ORDER BY l.id
"""
SELECT_DYNAMIC_LABELS: Final[LiteralString] = """
    SELECT l.id, l.name, l.description, l.query, l.platform, l.label_type, l.label_membership_type,
           l.created_at, l.updated_at, l.team_id
      FROM labels l WHERE l.label_membership_type = 'dynamic' ORDER BY l.id
"""
SELECT_LABEL: Final[LiteralString] = """
    SELECT l.id, l.name, l.description, l.query, l.platform, l.label_type, l.label_membership_type,
           l.created_at, l.updated_at, l.team_id
      FROM labels l WHERE l.id = %(id)s
"""
SELECT_LABEL_BY_NAME: Final[LiteralString] = """
    SELECT l.id, l.name, l.description, l.query, l.platform, l.label_type, l.label_membership_type,
           l.created_at, l.updated_at, l.team_id
      FROM labels l WHERE l.name = %(name)s
"""
SELECT_LABELS_PAGE: Final[LiteralString] = """
    SELECT l.id, l.name, l.description, l.query, l.platform, l.label_type, l.label_membership_type,
           l.created_at, l.updated_at, l.team_id
      FROM labels l
     WHERE (%(pattern)s::text IS NULL OR lower(l.name) LIKE lower(%(pattern)s))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
INSERT_LABEL: Final[LiteralString] = """
    INSERT INTO labels (name, description, query, platform, label_type, label_membership_type, created_at,
                        updated_at)
    VALUES (%(name)s, %(description)s, %(query)s, %(platform)s, 'regular', %(membership_type)s, %(at)s, %(at)s)
    RETURNING id, name, description, query, platform, label_type, label_membership_type, created_at, updated_at,
              team_id
"""
# The old row is read in the same statement so the memberships are cleared only when the
# query or platform really changed.
UPDATE_LABEL: Final[LiteralString] = """
    UPDATE labels l SET name = %(name)s, description = %(description)s, query = %(query)s,
                        platform = %(platform)s, updated_at = %(at)s
      FROM labels old
     WHERE l.id = %(id)s AND old.id = l.id
    RETURNING l.id, l.name, l.description, l.query, l.platform, l.label_type, l.label_membership_type,
              l.created_at, l.updated_at, l.team_id, (old.query <> l.query OR old.platform <> l.platform) AS changed
"""
DELETE_LABEL: Final[LiteralString] = "DELETE FROM labels WHERE id = %(id)s"
DELETE_ALL_LABEL_MEMBERSHIP: Final[LiteralString] = "DELETE FROM label_membership WHERE label_id = %(id)s"
SELECT_MEMBER_IDS: Final[LiteralString] = """
    SELECT host_id FROM label_membership WHERE label_id = %(id)s ORDER BY host_id
"""
INSERT_MEMBERS: Final[LiteralString] = """
    INSERT INTO label_membership (label_id, host_id, updated_at)
    SELECT %(id)s, h.id, %(at)s FROM hosts h WHERE h.id = ANY(%(host_ids)s::bigint[]) ORDER BY h.id
    ON CONFLICT (label_id, host_id) DO NOTHING
"""
DELETE_OTHER_MEMBERS: Final[LiteralString] = """
    DELETE FROM label_membership WHERE label_id = %(id)s AND NOT host_id = ANY(%(host_ids)s::bigint[])
"""
LOCK_LABEL: Final[LiteralString] = "SELECT id FROM labels WHERE id = %(id)s FOR UPDATE"

ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "l.id",
    "name": 'lower(l.name) COLLATE "C"',
    "description": 'lower(l.description) COLLATE "C"',
    "created_at": "l.created_at",
    "updated_at": "l.updated_at",
    "platform": 'lower(l.platform) COLLATE "C"',
    "label_type": 'l.label_type COLLATE "C"',
}
assert ORDER_COLUMNS.keys() == LABEL_ORDER_KEYS, "rules.ordering.LABEL_ORDER_KEYS changed; map the new key"

# One statement for a host's label answers: the memberships it left are deleted, the ones it
# holds inserted when new (the two label sets are disjoint). A membership that did not change is
# not rewritten: updated_at is when the host joined, and nothing reads it. Unknown labels and hosts are
# skipped by joining them instead of relying on foreign keys, so a label deleted mid-flight never
# fails a check-in.
RECORD_LABEL_MEMBERSHIP: Final[LiteralString] = """
    WITH removed AS (
        DELETE FROM label_membership
         WHERE host_id = %(host_id)s AND label_id = ANY(%(other_ids)s::bigint[])
    )
    INSERT INTO label_membership (label_id, host_id, updated_at)
    SELECT l.id, h.id, %(at)s
      FROM labels l, hosts h
     WHERE l.id = ANY(%(member_ids)s::bigint[]) AND h.id = %(host_id)s
     ORDER BY l.id
    ON CONFLICT (label_id, host_id) DO NOTHING
"""


class PgLabelRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def builtin(self) -> builtins.list[Label]:
        return await self._all(SELECT_BUILTIN_LABELS)

    async def dynamic(self) -> builtins.list[Label]:
        return await self._all(SELECT_DYNAMIC_LABELS)

    async def get(self, label_id: int) -> Label | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Label)) as cur:
                await cur.execute(SELECT_LABEL, {"id": label_id})
                return await cur.fetchone()

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime) -> None:
        members = sorted(label_id for label_id, result in results.items() if result is True)
        others = sorted(label_id for label_id, result in results.items() if result is not True)
        if not members and not others:
            return
        with translated():
            await self._conn.execute(RECORD_LABEL_MEMBERSHIP, {"host_id": host_id, "member_ids": members,
                                                               "other_ids": others, "at": at})

    async def get_by_name(self, name: str) -> Label | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Label)) as cur:
                await cur.execute(SELECT_LABEL_BY_NAME, {"name": name})
                return await cur.fetchone()

    async def list(self, options: ListOptions) -> builtins.list[Label]:
        query = ordered(SELECT_LABELS_PAGE, options, ORDER_COLUMNS, id_column="l.id")
        with translated():
            async with self._conn.cursor(row_factory=class_row(Label)) as cur:
                await cur.execute(query, {"pattern": search_pattern(options.query), **page_params(options)})
                return await cur.fetchall()

    async def add(self, *, name: str, description: str, query: str, platform: str, membership_type: str,
                  at: dt.datetime) -> Label:
        async with guarded_write(self._conn), self._conn.cursor(row_factory=class_row(Label)) as cur:
            await cur.execute(INSERT_LABEL, {"name": name, "description": description, "query": query,
                                             "platform": platform, "membership_type": membership_type, "at": at})
            row = await cur.fetchone()
        assert row is not None
        return row

    async def update(self, label_id: int, *, name: str, description: str, query: str, platform: str,
                     at: dt.datetime) -> Label:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(UPDATE_LABEL, {"id": label_id, "name": name, "description": description,
                                             "query": query, "platform": platform, "at": at})
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"Label with id={label_id} was not found in the datastore")
            *fields, changed = row
            if changed:
                await cur.execute(DELETE_ALL_LABEL_MEMBERSHIP, {"id": label_id})
        names = ("id", "name", "description", "query", "platform", "label_type", "label_membership_type",
                 "created_at", "updated_at", "team_id")
        return Label(**dict(zip(names, fields, strict=True)))

    async def delete(self, label_id: int) -> bool:
        with translated():
            cur = await self._conn.execute(DELETE_LABEL, {"id": label_id})
        return cur.rowcount > 0

    async def member_ids(self, label_id: int) -> builtins.list[int]:
        with translated():
            cur = await self._conn.execute(SELECT_MEMBER_IDS, {"id": label_id})
            return [row[0] for row in await cur.fetchall()]

    async def set_members(self, label_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        ids = sorted(set(host_ids))
        with translated():
            cur = await self._conn.execute(LOCK_LABEL, {"id": label_id})
            if await cur.fetchone() is None:
                raise NotFound(f"Label with id={label_id} was not found in the datastore")
            await self._conn.execute(DELETE_OTHER_MEMBERS, {"id": label_id, "host_ids": ids})
            await self._conn.execute(INSERT_MEMBERS, {"id": label_id, "host_ids": ids, "at": at})

    async def _all(self, query: LiteralString) -> builtins.list[Label]:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Label)) as cur:
                await cur.execute(query)
                return await cur.fetchall()
