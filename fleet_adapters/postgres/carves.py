"""Postgres implementation of fleet_core.ports.CarveRepository (tables from migration 0009)."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, LiteralString

import attrs
from psycopg import AsyncConnection
from psycopg.rows import class_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.paging import ordered, page_params
from fleet_core.model.carves import Carve, NewCarve
from fleet_core.rules.carves import CARVE_ORDER_TYPES
from fleet_core.rules.paging import Direction, ListOptions

# A deleted host's carves cascade away with it, so no read joins hosts.
SELECT_CARVE: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
     WHERE c.id = %(id)s
"""
SELECT_CARVE_BY_SESSION: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
     WHERE c.session_id = %(session_id)s
"""
# The four pages: with or without expired carves, from the start or after a keyset value (the
# {after} slot takes `<order column> > or < <typed %(after)s>`, see keyset_condition()).
SELECT_CARVES_PAGE: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
SELECT_CARVES_PAGE_AFTER: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
     WHERE {after}
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
SELECT_UNEXPIRED_CARVES_PAGE: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
     WHERE NOT c.expired
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
SELECT_UNEXPIRED_CARVES_PAGE_AFTER: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
     WHERE NOT c.expired AND {after}
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
INSERT_CARVE: Final[LiteralString] = """
    INSERT INTO carve_metadata (host_id, created_at, name, block_count, block_size, carve_size, carve_id,
                                request_id, session_id)
    VALUES (%(host_id)s, %(created_at)s, %(name)s, %(block_count)s, %(block_size)s, %(carve_size)s,
            %(carve_id)s, %(request_id)s, %(session_id)s)
    RETURNING id
"""
# Compare-and-set on max_block: of two writers of the same block, exactly one moves it.
CLAIM_BLOCK: Final[LiteralString] = """
    UPDATE carve_metadata SET max_block = %(block_id)s
     WHERE id = %(id)s AND NOT expired AND max_block = %(block_id)s - 1
    RETURNING id
"""
INSERT_BLOCK: Final[LiteralString] = (
    "INSERT INTO carve_blocks (metadata_id, block_id, data) VALUES (%(id)s, %(block_id)s, %(data)s)")
SELECT_BLOCK: Final[LiteralString] = (
    "SELECT data FROM carve_blocks WHERE metadata_id = %(id)s AND block_id = %(block_id)s")
SET_ERROR: Final[LiteralString] = "UPDATE carve_metadata SET error = %(error)s WHERE id = %(id)s"
MARK_EXPIRED: Final[LiteralString] = """
    WITH due AS (
        SELECT id FROM carve_metadata
         WHERE NOT expired AND created_at < %(before)s
         ORDER BY created_at, id
         LIMIT %(limit)s
           FOR UPDATE SKIP LOCKED
    )
    UPDATE carve_metadata c SET expired = true FROM due WHERE c.id = due.id
    RETURNING c.id
"""
DELETE_BLOCKS: Final[LiteralString] = "DELETE FROM carve_blocks WHERE metadata_id = ANY(%(ids)s::bigint[])"

ORDER_COLUMNS: Final[dict[str, LiteralString]] = {
    "id": "c.id", "host_id": "c.host_id", "block_count": "c.block_count", "block_size": "c.block_size",
    "carve_size": "c.carve_size", "max_block": "c.max_block", "created_at": "c.created_at",
    "name": 'lower(c.name) COLLATE "C"', "carve_id": 'lower(c.carve_id) COLLATE "C"',
    "request_id": 'lower(c.request_id) COLLATE "C"',
}
AFTER_VALUE: Final[dict[str, LiteralString]] = {
    "integer": "%(after)s::bigint", "time": "%(after)s::timestamptz", "text": 'lower(%(after)s::text) COLLATE "C"',
}
assert set(ORDER_COLUMNS) == set(CARVE_ORDER_TYPES)


def keyset_condition(order_key: str, direction: Direction) -> LiteralString:
    """``<column> > <after>`` (``<`` when descending): the rows past ``%(after)s`` in page order."""
    comparison: LiteralString = " < " if direction is Direction.DESC else " > "
    return ORDER_COLUMNS[order_key] + comparison + AFTER_VALUE[CARVE_ORDER_TYPES[order_key]]


class PgCarveRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def add(self, carve: NewCarve) -> Carve:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(INSERT_CARVE, attrs.asdict(carve))
            row = await cur.fetchone()
        assert row is not None
        added = await self.get(row[0])
        assert added is not None
        return added

    async def get(self, carve_id: int) -> Carve | None:
        return await self._one(SELECT_CARVE, {"id": carve_id})

    async def get_by_session(self, session_id: str) -> Carve | None:
        return await self._one(SELECT_CARVE_BY_SESSION, {"session_id": session_id})

    async def list(self, options: ListOptions, *, expired: bool, after: Any = None) -> builtins.list[Carve]:
        params: dict[str, Any] = page_params(options)
        if after is not None and options.order_key is not None:
            page = SELECT_CARVES_PAGE_AFTER if expired else SELECT_UNEXPIRED_CARVES_PAGE_AFTER
            page = page.replace("{after}", keyset_condition(options.order_key, options.order_direction))
            params["after"] = after
        else:
            page = SELECT_CARVES_PAGE if expired else SELECT_UNEXPIRED_CARVES_PAGE
        query = ordered(page, options, ORDER_COLUMNS, id_column="c.id")
        with translated():
            async with self._conn.cursor(row_factory=class_row(Carve)) as cur:
                await cur.execute(query, params)
                return await cur.fetchall()

    async def append_block(self, carve_id: int, block_id: int, data: bytes) -> bool:
        params = {"id": carve_id, "block_id": block_id, "data": data}
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(CLAIM_BLOCK, params)
            if await cur.fetchone() is None:
                return False
            await cur.execute(INSERT_BLOCK, params)
        return True

    async def block(self, carve_id: int, block_id: int) -> bytes | None:
        with translated():
            cur = await self._conn.execute(SELECT_BLOCK, {"id": carve_id, "block_id": block_id})
            row = await cur.fetchone()
        return None if row is None else bytes(row[0])

    async def set_error(self, carve_id: int, error: str) -> None:
        with translated():
            await self._conn.execute(SET_ERROR, {"id": carve_id, "error": error})

    async def expire(self, *, created_before: dt.datetime, limit: int) -> int:
        with translated():
            cur = await self._conn.execute(MARK_EXPIRED, {"before": created_before, "limit": limit})
            ids = [row[0] for row in await cur.fetchall()]
            if ids:
                await self._conn.execute(DELETE_BLOCKS, {"ids": ids})
        return len(ids)

    async def _one(self, query: LiteralString, params: Mapping[str, Any]) -> Carve | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Carve)) as cur:
                await cur.execute(query, params)
                return await cur.fetchone()
