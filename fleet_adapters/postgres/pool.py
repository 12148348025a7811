"""Opening the connection pool every Postgres adapter shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from fleet_core.errors import Unavailable

Pool = AsyncConnectionPool[AsyncConnection[Any]]


async def open_pool(conninfo: str, *, min_size: int = 1, max_size: int = 10,
                    wait_seconds: float = 10.0, name: str | None = None,
                    reconnect_timeout: float = 300.0) -> Pool:
    """An opened pool, or Unavailable if no connection could be made within ``wait_seconds``.

    ``wait_seconds`` also bounds how long a unit of work waits for a free connection.
    """
    pool: Pool = AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=wait_seconds,
        name=name,
        reconnect_timeout=reconnect_timeout,
        # open=False: opening in the constructor is deprecated for async pools, and we want
        # to wait for the first connection so a wrong URL fails at startup, not on a request.
        open=False,
        # Connections idle in the pool die with server restarts and failovers; checking on
        # checkout costs one round trip and saves the request that would get a dead one.
        check=AsyncConnectionPool.check_connection,
    )
    try:
        await pool.open(wait=True, timeout=wait_seconds)
    except PoolTimeout:
        await pool.close()
        # The driver's reason is in the pool's own warning log; it may name hosts and users.
        raise Unavailable("database unavailable") from None
    return pool


@asynccontextmanager
async def connection_pool(conninfo: str, **options: Any) -> AsyncIterator[Pool]:
    """open_pool() for the length of a block, closed afterwards."""
    pool = await open_pool(conninfo, **options)
    try:
        yield pool
    finally:
        await pool.close()
