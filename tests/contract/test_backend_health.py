"""BackendHealth against a real Postgres and Redis, and against ones that are gone or hang."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from psycopg_pool import AsyncConnectionPool

from fleet_adapters.health import BackendHealth
from fleet_adapters.postgres.pool import Pool

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def redis_client(redis_url: str, anyio_backend: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections (into the kernel backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


@pytest.fixture
async def dead_pool(anyio_backend: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    closed_port = socket.socket()
    closed_port.bind(("127.0.0.1", 0))
    port = closed_port.getsockname()[1]
    closed_port.close()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        f"postgresql://fleet@127.0.0.1:{port}/fleet?connect_timeout=1", open=False, min_size=1
    )
    # wait=False: the pool keeps retrying in the background, as a live server's pool would
    # after its database went away.
    await pool.open(wait=False)
    try:
        yield pool
    finally:
        await pool.close()


async def test_both_backends_answering_are_healthy(pg_pool: Pool, redis_client: redis.asyncio.Redis) -> None:
    assert await BackendHealth(pg_pool, redis_client).check() == {"postgres": True, "redis": True}


async def test_an_unreachable_redis_is_reported_not_raised(pg_pool: Pool, tmp_path: Path) -> None:
    gone = redis.asyncio.Redis.from_url(f"unix://{tmp_path}/no-redis.sock")
    try:
        assert await BackendHealth(pg_pool, gone).check() == {"postgres": True, "redis": False}
    finally:
        await gone.aclose()


async def test_a_redis_that_hangs_is_unhealthy_within_the_timeout(pg_pool: Pool, silent_port: int) -> None:
    hanging = redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{silent_port}")
    try:
        started = time.monotonic()
        assert await BackendHealth(pg_pool, hanging, timeout=0.3).check() == {"postgres": True, "redis": False}
        assert time.monotonic() - started < 3
    finally:
        await hanging.aclose()


async def test_an_unreachable_postgres_is_unhealthy_within_the_timeout(
    dead_pool: AsyncConnectionPool[Any], redis_client: redis.asyncio.Redis
) -> None:
    started = time.monotonic()
    assert await BackendHealth(dead_pool, redis_client, timeout=0.3).check() == {"postgres": False, "redis": True}
    assert time.monotonic() - started < 3


async def test_a_closed_pool_is_unhealthy(pg_dsn: str, redis_client: redis.asyncio.Redis) -> None:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(pg_dsn, open=False)
    assert await BackendHealth(pool, redis_client, timeout=0.3).check() == {"postgres": False, "redis": True}
