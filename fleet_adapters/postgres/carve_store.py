"""Postgres implementation of fleet_core.ports.CarveStore: one carve_blocks row per block.

Each call borrows its own pooled connection and commits at once, outside the caller's unit of
work: a block is durable before the service acknowledges it. Only one block is ever in memory
per request, so a carve of any size streams through block by block.
"""

from __future__ import annotations

from typing import Final, LiteralString

import psycopg
from psycopg_pool import PoolTimeout

from fleet_adapters.postgres.errors import translated
from fleet_adapters.postgres.pool import Pool
from fleet_core.errors import Unavailable
from fleet_core.model.carves import Carve

# The block's commit does not wait for its WAL flush: the acknowledgement that follows it (the
# service's claim, a synchronous commit on the same database) cannot be durable before it, since
# WAL is flushed in order, and an unacknowledged block lost to a crash is sent again by the agent.
# One disk flush per block instead of two.
NO_FLUSH_WAIT: Final[LiteralString] = "SET LOCAL synchronous_commit = off"
# A retried block replaces what an unacknowledged earlier attempt left.
UPSERT_BLOCK: Final[LiteralString] = """
    INSERT INTO carve_blocks (metadata_id, block_id, data) VALUES (%(id)s, %(block_id)s, %(data)b)
    ON CONFLICT (metadata_id, block_id) DO UPDATE SET data = EXCLUDED.data
"""
SELECT_BLOCK: Final[LiteralString] = (
    "SELECT data FROM carve_blocks WHERE metadata_id = %(id)s AND block_id = %(block_id)s")
DELETE_BLOCKS: Final[LiteralString] = "DELETE FROM carve_blocks WHERE metadata_id = %(id)s"


class PgCarveStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def put_block(self, carve: Carve, block_id: int, data: bytes) -> None:
        await self._run(UPSERT_BLOCK, {"id": carve.id, "block_id": block_id, "data": data}, flush_later=True)

    async def get_block(self, carve: Carve, block_id: int) -> bytes | None:
        try:
            async with self._pool.connection() as conn:
                with translated():
                    cur = await conn.execute(SELECT_BLOCK, {"id": carve.id, "block_id": block_id})
                    row = await cur.fetchone()
        except (PoolTimeout, psycopg.OperationalError):
            raise Unavailable("database unavailable") from None
        return None if row is None else bytes(row[0])

    async def delete(self, carve: Carve) -> None:
        await self._run(DELETE_BLOCKS, {"id": carve.id})

    async def _run(self, statement: LiteralString, params: dict[str, object], *, flush_later: bool = False) -> None:
        try:
            async with self._pool.connection() as conn:
                with translated():
                    if flush_later:
                        await conn.execute(NO_FLUSH_WAIT)
                    await conn.execute(statement, params)
        except (PoolTimeout, psycopg.OperationalError):
            raise Unavailable("database unavailable") from None
