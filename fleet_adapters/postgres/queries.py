"""Postgres implementation of fleet_core.ports.QueryRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

import attrs
from psycopg import AsyncConnection
from psycopg.rows import class_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.paging import ordered, page_params, search_pattern
from fleet_core.errors import NotFound
from fleet_core.model.queries import QueryFields, SavedQuery
from fleet_core.rules.ordering import QUERY_ORDER_KEYS
from fleet_core.rules.paging import ListOptions

# Every read joins the author's name and email at read time, so they follow changes to the user.
SELECT_QUERY: Final[LiteralString] = """
    SELECT q.id, q.name, q.query, q.created_at, q.updated_at, q.description, q.team_id, q.observer_can_run,
           q.interval, q.platform, q.min_osquery_version, q.automations_enabled, q.logging, q.author_id,
           coalesce(u.name, '') AS author_name, coalesce(u.email, '') AS author_email
      FROM queries q LEFT JOIN users u ON u.id = q.author_id
     WHERE q.id = %(id)s AND q.saved
"""
SELECT_QUERY_BY_NAME: Final[LiteralString] = """
    SELECT q.id, q.name, q.query, q.created_at, q.updated_at, q.description, q.team_id, q.observer_can_run,
           q.interval, q.platform, q.min_osquery_version, q.automations_enabled, q.logging, q.author_id,
           coalesce(u.name, '') AS author_name, coalesce(u.email, '') AS author_email
      FROM queries q LEFT JOIN users u ON u.id = q.author_id
     WHERE q.name = %(name)s AND q.team_id IS NOT DISTINCT FROM %(team_id)s::bigint AND q.saved
"""
SELECT_QUERIES_PAGE: Final[LiteralString] = """
    SELECT q.id, q.name, q.query, q.created_at, q.updated_at, q.description, q.team_id, q.observer_can_run,
           q.interval, q.platform, q.min_osquery_version, q.automations_enabled, q.logging, q.author_id,
           coalesce(u.name, '') AS author_name, coalesce(u.email, '') AS author_email
      FROM queries q LEFT JOIN users u ON u.id = q.author_id
     WHERE q.team_id IS NOT DISTINCT FROM %(team_id)s::bigint AND q.saved
       AND (%(pattern)s::text IS NULL OR lower(q.name) LIKE lower(%(pattern)s))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
INSERT_QUERY: Final[LiteralString] = """
    INSERT INTO queries (team_id, name, description, query, observer_can_run, interval, platform,
                         min_osquery_version, automations_enabled, logging, author_id, created_at, updated_at)
    VALUES (%(team_id)s, %(name)s, %(description)s, %(query)s, %(observer_can_run)s, %(interval)s, %(platform)s,
            %(min_osquery_version)s, %(automations_enabled)s, %(logging)s, %(author_id)s, %(at)s, %(at)s)
    RETURNING id
"""
UPDATE_QUERY: Final[LiteralString] = """
    UPDATE queries SET name = %(name)s, description = %(description)s, query = %(query)s,
                       observer_can_run = %(observer_can_run)s, interval = %(interval)s, platform = %(platform)s,
                       min_osquery_version = %(min_osquery_version)s,
                       automations_enabled = %(automations_enabled)s, logging = %(logging)s, updated_at = %(at)s
     WHERE id = %(id)s AND saved
    RETURNING id
"""
DELETE_QUERY: Final[LiteralString] = "DELETE FROM queries WHERE id = %(id)s AND saved"
DELETE_QUERIES: Final[LiteralString] = "DELETE FROM queries WHERE id = ANY(%(ids)s::bigint[]) AND saved RETURNING id"
INSERT_HIDDEN: Final[LiteralString] = """
    INSERT INTO queries (name, query, author_id, saved, created_at, updated_at)
    VALUES (%(name)s, %(query)s, %(author_id)s, false, %(at)s, %(at)s)
    RETURNING id
"""
# A hidden query goes once no unfinished campaign (status 0 waiting, 1 running) uses it.
DELETE_UNUSED_HIDDEN: Final[LiteralString] = """
    DELETE FROM queries q
     WHERE NOT q.saved
       AND NOT EXISTS (SELECT 1 FROM distributed_query_campaigns c WHERE c.query_id = q.id AND c.status < 2)
    RETURNING q.id
"""

ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "q.id",
    "name": 'lower(q.name) COLLATE "C"',
    "description": 'lower(q.description) COLLATE "C"',
    "query": 'lower(q.query) COLLATE "C"',
    "created_at": "q.created_at",
    "updated_at": "q.updated_at",
    "author_id": "q.author_id",
    "observer_can_run": "q.observer_can_run",
    "interval": "q.interval",
    "platform": 'lower(q.platform) COLLATE "C"',
    "team_id": "q.team_id",
    "logging": 'q.logging COLLATE "C"',
    "automations_enabled": "q.automations_enabled",
}
assert ORDER_COLUMNS.keys() == QUERY_ORDER_KEYS, "rules.ordering.QUERY_ORDER_KEYS changed; map the new key"


class PgQueryRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def get(self, query_id: int) -> SavedQuery | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(SavedQuery)) as cur:
                await cur.execute(SELECT_QUERY, {"id": query_id})
                return await cur.fetchone()

    async def get_by_name(self, name: str, *, team_id: int | None) -> SavedQuery | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(SavedQuery)) as cur:
                await cur.execute(SELECT_QUERY_BY_NAME, {"name": name, "team_id": team_id})
                return await cur.fetchone()

    async def list(self, options: ListOptions, *, team_id: int | None) -> builtins.list[SavedQuery]:
        query = ordered(SELECT_QUERIES_PAGE, options, ORDER_COLUMNS, id_column="q.id")
        with translated():
            async with self._conn.cursor(row_factory=class_row(SavedQuery)) as cur:
                await cur.execute(query, {"team_id": team_id, "pattern": search_pattern(options.query),
                                          **page_params(options)})
                return await cur.fetchall()

    async def add(self, fields: QueryFields, *, team_id: int | None, author_id: int | None,
                  at: dt.datetime) -> SavedQuery:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(INSERT_QUERY, {**attrs.asdict(fields), "team_id": team_id, "author_id": author_id,
                                             "at": at})
            row = await cur.fetchone()
        assert row is not None
        return await self._require(row[0])

    async def update(self, query_id: int, fields: QueryFields, at: dt.datetime) -> SavedQuery:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(UPDATE_QUERY, {**attrs.asdict(fields), "id": query_id, "at": at})
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"Query with id={query_id} was not found in the datastore")
        return await self._require(query_id)

    async def delete(self, query_id: int) -> bool:
        with translated():
            cur = await self._conn.execute(DELETE_QUERY, {"id": query_id})
        return cur.rowcount > 0

    async def delete_many(self, query_ids: Sequence[int]) -> builtins.list[int]:
        with translated():
            cur = await self._conn.execute(DELETE_QUERIES, {"ids": sorted(set(query_ids))})
            return sorted(row[0] for row in await cur.fetchall())

    async def add_hidden(self, query: str, *, name: str, author_id: int | None, at: dt.datetime) -> int:
        with translated():
            cur = await self._conn.execute(INSERT_HIDDEN, {"name": name, "query": query, "author_id": author_id,
                                                           "at": at})
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def delete_unused_hidden(self) -> builtins.list[int]:
        with translated():
            cur = await self._conn.execute(DELETE_UNUSED_HIDDEN)
            return sorted(row[0] for row in await cur.fetchall())

    async def _require(self, query_id: int) -> SavedQuery:
        saved = await self.get(query_id)
        if saved is None:
            raise NotFound(f"Query with id={query_id} was not found in the datastore")
        return saved
