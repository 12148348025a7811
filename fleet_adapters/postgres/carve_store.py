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
        await self._run(UPSERT_BLOCK, {"id": carve.id, "block_id": block_id, "data": data})

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

    async def _run(self, statement: LiteralString, params: dict[str, object]) -> None:
        try:
            async with self._pool.connection() as conn:
                with translated():
                    await conn.execute(statement, params)
        except (PoolTimeout, psycopg.OperationalError):
            raise Unavailable("database unavailable") from None
