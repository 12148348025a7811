"""Postgres implementation of fleet_core.ports.LabelRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import class_row

from fleet_adapters.postgres.errors import translated
from fleet_core.model.hosts import Label

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

# Both statements skip unknown labels and hosts by joining them instead of relying on foreign
# keys, so a label deleted mid-flight never fails a check-in.
INSERT_LABEL_MEMBERSHIP: Final[LiteralString] = """
    INSERT INTO label_membership (label_id, host_id, updated_at)
    SELECT l.id, h.id, %(at)s
      FROM labels l, hosts h
     WHERE l.id = ANY(%(label_ids)s::bigint[]) AND h.id = %(host_id)s
     ORDER BY l.id
    ON CONFLICT (label_id, host_id) DO UPDATE SET updated_at = EXCLUDED.updated_at
"""
DELETE_LABEL_MEMBERSHIP: Final[LiteralString] = """
    DELETE FROM label_membership
     WHERE host_id = %(host_id)s AND label_id = ANY(%(label_ids)s::bigint[])
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
        with translated():
            if members:
                await self._conn.execute(INSERT_LABEL_MEMBERSHIP,
                                         {"host_id": host_id, "label_ids": members, "at": at})
            if others:
                await self._conn.execute(DELETE_LABEL_MEMBERSHIP, {"host_id": host_id, "label_ids": others})

    async def _all(self, query: LiteralString) -> builtins.list[Label]:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Label)) as cur:
                await cur.execute(query)
                return await cur.fetchall()
