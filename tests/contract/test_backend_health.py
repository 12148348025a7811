"""BackendHealth against a real Postgres and Redis, and against ones that are gone, hang or come back;
and how the server's clients of both ride out an outage (the rate limiter's fallback, the pool's
reconnection)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio
from psycopg_pool import AsyncConnectionPool

from fleet_adapters.bootstrap import POSTGRES_RECONNECT_TIMEOUT_SECONDS, REDIS_FAULT_OPTIONS
from fleet_adapters.clock import SystemClock
from fleet_adapters.embedded import EmbeddedPostgres, EmbeddedRedis
from fleet_adapters.health import BackendHealth
from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.postgres.pool import Pool, open_pool
from fleet_adapters.redis.rate_limit import RedisRateLimiter
from fleet_core.errors import Unavailable

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


@pytest.fixture
async def gone_redis(tmp_path: Path, anyio_backend: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A client configured as the server's, for a Redis that is not there."""
    client = redis.asyncio.Redis.from_url(f"unix://{tmp_path}/no-redis.sock", **REDIS_FAULT_OPTIONS)
    try:
        yield client
    finally:
        await client.aclose()


async def test_without_redis_the_rate_limiter_counts_in_memory_and_still_limits(
    gone_redis: redis.asyncio.Redis,
) -> None:
    limiter = RedisRateLimiter(gone_redis, fallback=InMemoryRateLimiter(SystemClock()))
    waits = [await limiter.hit("login:ada", limit=2, window_seconds=60) for _ in range(3)]
    assert waits[:2] == [0, 0]
    assert waits[2] > 0
    assert await limiter.blocked("login:ada", limit=2) > 0
    await limiter.reset("login:ada")
    assert await limiter.blocked("login:ada", limit=2) == 0


async def test_without_redis_or_a_fallback_the_rate_limiter_is_unavailable(gone_redis: redis.asyncio.Redis) -> None:
    with pytest.raises(Unavailable, match="rate limiter unavailable"):
        await RedisRateLimiter(gone_redis).hit("login:ada", limit=2, window_seconds=60)


async def test_the_rate_limiter_goes_back_to_redis_once_it_answers_again(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    client = redis.asyncio.Redis.from_url(server.start(), **REDIS_FAULT_OPTIONS)
    try:
        limiter = RedisRateLimiter(client, fallback=InMemoryRateLimiter(SystemClock()))
        server.stop()
        assert await limiter.hit("login:bob", limit=5, window_seconds=60) == 0
        server.start()
        deadline = time.monotonic() + 10
        while await client.get("fleet:ratelimit:login:bob") is None:
            assert time.monotonic() < deadline, "the limiter never went back to Redis"
            await limiter.hit("login:bob", limit=5, window_seconds=60)
            await anyio.sleep(0.05)
    finally:
        await client.aclose()
        server.stop()


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A Postgres of this test's own, since the test stops it."""
    server = EmbeddedPostgres(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_the_server_pool_reconnects_promptly_after_an_outage_with_requests_all_along(
    own_postgres: EmbeddedPostgres, redis_client: redis.asyncio.Redis
) -> None:
    pool = await open_pool(own_postgres.start(), reconnect_timeout=POSTGRES_RECONNECT_TIMEOUT_SECONDS)
    try:
        health = BackendHealth(pool, redis_client, timeout=0.5)
        assert (await health.check())["postgres"]
        await anyio.to_thread.run_sync(own_postgres.stop)
        # Longer than a reconnection chain lasts, so chains give up during the outage and the pool
        # must start new ones; probes all along, as agents and load balancers keep asking.
        outage_ends = time.monotonic() + 2.5 * POSTGRES_RECONNECT_TIMEOUT_SECONDS
        while time.monotonic() < outage_ends:
            assert not (await health.check())["postgres"]
        await anyio.to_thread.run_sync(own_postgres.start)
        back = time.monotonic()
        healed_by = back + 10
        while not (await health.check())["postgres"]:
            assert time.monotonic() < healed_by, "the pool did not reconnect within 10 s of Postgres returning"
        print(f"pool healthy {time.monotonic() - back:.2f}s after Postgres returned")
    finally:
        await pool.close()
