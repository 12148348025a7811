"""Postgres implementation of fleet_core.ports.CarveRepository (tables from migrations 0009 and 0014);
the blocks themselves are the carve store's (fleet_adapters.postgres.carve_store)."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection, Mapping
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
SELECT_HOST_REQUEST_CARVE: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
     WHERE c.host_id = %(host_id)s AND c.request_id = %(request_id)s
     ORDER BY c.id DESC
     LIMIT 1
"""
# A page of carves: SELECT_CARVES, then WHERE with the conditions that apply (see page_query()).
SELECT_CARVES: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
"""
UNEXPIRED: Final[LiteralString] = "NOT c.expired"
OF_TEAMS: Final[LiteralString] = (
    "c.host_id IN (SELECT h.id FROM hosts h WHERE h.team_id = ANY(%(team_ids)s::bigint[]))")
PAGE: Final[LiteralString] = """
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
SELECT_HOST_TEAM: Final[LiteralString] = """
    SELECT h.team_id FROM carve_metadata c JOIN hosts h ON h.id = c.host_id WHERE c.id = %(id)s
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
    UPDATE carve_metadata
       SET max_block = %(block_id)s,
           first_block_at = CASE WHEN %(block_id)s = 0 THEN %(at)s ELSE first_block_at END
     WHERE id = %(id)s AND NOT expired AND max_block = %(block_id)s - 1
    RETURNING id
"""
INSERT_DIGEST: Final[LiteralString] = (
    "INSERT INTO carve_block_digests (metadata_id, block_id, sha256) VALUES (%(id)s, %(block_id)s, %(sha256)s)")
SELECT_DIGEST: Final[LiteralString] = (
    "SELECT sha256 FROM carve_block_digests WHERE metadata_id = %(id)s AND block_id = %(block_id)s")
SET_ERROR: Final[LiteralString] = "UPDATE carve_metadata SET error = %(error)s WHERE id = %(id)s"
SELECT_DUE: Final[LiteralString] = """
    SELECT c.id, c.host_id, c.created_at, c.name, c.block_count, c.block_size, c.carve_size, c.carve_id,
           c.request_id, c.session_id, c.expired, c.max_block, c.error
      FROM carve_metadata c
     WHERE NOT c.expired AND COALESCE(c.first_block_at, c.created_at) < %(before)s
     ORDER BY COALESCE(c.first_block_at, c.created_at), c.id
     LIMIT %(limit)s
"""
MARK_EXPIRED: Final[LiteralString] = """
    UPDATE carve_metadata SET expired = true WHERE id = ANY(%(ids)s::bigint[]) AND NOT expired RETURNING id
"""
DELETE_DIGESTS: Final[LiteralString] = "DELETE FROM carve_block_digests WHERE metadata_id = ANY(%(ids)s::bigint[])"

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


def page_query(options: ListOptions, *, expired: bool, after: bool, teams: bool) -> LiteralString:
    """SELECT_CARVES WHERE [NOT c.expired] [AND <keyset after>] [AND OF_TEAMS], ordered and paged."""
    conditions: list[LiteralString] = []
    if not expired:
        conditions.append(UNEXPIRED)
    if after and options.order_key is not None:
        conditions.append(keyset_condition(options.order_key, options.order_direction))
    if teams:
        conditions.append(OF_TEAMS)
    where: LiteralString = ("     WHERE " + " AND ".join(conditions)) if conditions else ""
    return ordered(SELECT_CARVES + where + PAGE, options, ORDER_COLUMNS, id_column="c.id")


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

    async def for_host_request(self, host_id: int, request_id: str) -> Carve | None:
        return await self._one(SELECT_HOST_REQUEST_CARVE, {"host_id": host_id, "request_id": request_id})

    async def host_team(self, carve_id: int) -> int | None:
        with translated():
            cur = await self._conn.execute(SELECT_HOST_TEAM, {"id": carve_id})
            row = await cur.fetchone()
        return None if row is None else row[0]

    async def list(self, options: ListOptions, *, expired: bool, after: Any = None,
                   team_ids: Collection[int] | None = None) -> builtins.list[Carve]:
        params: dict[str, Any] = page_params(options)
        keyset = after is not None and options.order_key is not None
        if keyset:
            params["after"] = after
        if team_ids is not None:
            params["team_ids"] = sorted(team_ids)
        query = page_query(options, expired=expired, after=keyset, teams=team_ids is not None)
        with translated():
            async with self._conn.cursor(row_factory=class_row(Carve)) as cur:
                await cur.execute(query, params)
                return await cur.fetchall()

    async def claim_block(self, carve_id: int, block_id: int, sha256: bytes, at: dt.datetime) -> bool:
        params = {"id": carve_id, "block_id": block_id, "sha256": sha256, "at": at}
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(CLAIM_BLOCK, params)
            if await cur.fetchone() is None:
                return False
            await cur.execute(INSERT_DIGEST, params)
        return True

    async def block_digest(self, carve_id: int, block_id: int) -> bytes | None:
        with translated():
            cur = await self._conn.execute(SELECT_DIGEST, {"id": carve_id, "block_id": block_id})
            row = await cur.fetchone()
        return None if row is None else bytes(row[0])

    async def set_error(self, carve_id: int, error: str) -> None:
        with translated():
            await self._conn.execute(SET_ERROR, {"id": carve_id, "error": error})

    async def due_for_expiry(self, *, before: dt.datetime, limit: int) -> builtins.list[Carve]:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Carve)) as cur:
                await cur.execute(SELECT_DUE, {"before": before, "limit": limit})
                return await cur.fetchall()

    async def mark_expired(self, carve_ids: Collection[int]) -> int:
        ids = sorted(carve_ids)
        with translated():
            cur = await self._conn.execute(MARK_EXPIRED, {"ids": ids})
            changed = len(await cur.fetchall())
            await self._conn.execute(DELETE_DIGESTS, {"ids": ids})
        return changed

    async def _one(self, query: LiteralString, params: Mapping[str, Any]) -> Carve | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Carve)) as cur:
                await cur.execute(query, params)
                return await cur.fetchone()
