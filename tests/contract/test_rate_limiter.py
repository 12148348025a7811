"""The RateLimiter contract, over the in-memory limiter and the Redis one on a real Redis."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import attrs
import pytest
import redis.asyncio

from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.redis.rate_limit import KEY_PREFIX, RedisRateLimiter
from fleet_core.errors import Unavailable
from fleet_core.ports import RateLimiter

pytestmark = pytest.mark.anyio


@attrs.define
class FakeClock:
    current: dt.datetime = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.current


@attrs.frozen
class Harness:
    limiter: RateLimiter
    # Returns once the window holding ``key`` has ended, by moving time or by waiting for it.
    end_window: Callable[[str], Awaitable[None]]


@pytest.fixture
async def redis_client(redis_url: str, anyio_backend: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def _until_gone(client: redis.asyncio.Redis, key: str, deadline_seconds: float = 5.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while await client.exists(KEY_PREFIX + key):
        assert time.monotonic() < deadline, f"window for {key!r} never ended"
        await _pause()


async def _pause() -> None:
    await anyio.sleep(0.02)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "memory":
        clock = FakeClock()
        memory = InMemoryRateLimiter(clock)

        async def advance(key: str) -> None:
            clock.current += dt.timedelta(seconds=1)

        return Harness(memory, advance)
    client: redis.asyncio.Redis = request.getfixturevalue("redis_client")

    async def wait(key: str) -> None:
        await _until_gone(client, key)

    return Harness(RedisRateLimiter(client), wait)


@pytest.fixture
def key() -> str:
    # Unique per test, and shaped like what the auth service passes: no secret in it.
    return f"login:email:{uuid.uuid4().hex}"


async def test_attempts_within_the_limit_are_allowed(harness: Harness, key: str) -> None:
    for _ in range(3):
        assert await harness.limiter.hit(key, limit=3, window_seconds=60) == 0


async def test_the_attempt_past_the_limit_gets_the_seconds_until_the_window_resets(harness: Harness, key: str) -> None:
    for _ in range(3):
        await harness.limiter.hit(key, limit=3, window_seconds=60)
    wait = await harness.limiter.hit(key, limit=3, window_seconds=60)
    assert 0 < wait <= 60
    again = await harness.limiter.hit(key, limit=3, window_seconds=60)
    assert 0 < again <= wait


async def test_keys_are_counted_separately(harness: Harness, key: str) -> None:
    other = key + ":other"
    await harness.limiter.hit(key, limit=1, window_seconds=60)
    assert await harness.limiter.hit(key, limit=1, window_seconds=60) > 0
    assert await harness.limiter.hit(other, limit=1, window_seconds=60) == 0


async def test_reset_forgets_the_attempts(harness: Harness, key: str) -> None:
    await harness.limiter.hit(key, limit=1, window_seconds=60)
    assert await harness.limiter.hit(key, limit=1, window_seconds=60) > 0
    await harness.limiter.reset(key)
    assert await harness.limiter.hit(key, limit=1, window_seconds=60) == 0


async def test_resetting_an_unknown_key_is_harmless(harness: Harness, key: str) -> None:
    await harness.limiter.reset(key)
    assert await harness.limiter.hit(key, limit=1, window_seconds=60) == 0


async def test_a_limit_of_zero_refuses_the_first_attempt(harness: Harness, key: str) -> None:
    assert await harness.limiter.hit(key, limit=0, window_seconds=60) > 0


async def test_the_count_starts_over_when_the_window_ends(harness: Harness, key: str) -> None:
    assert await harness.limiter.hit(key, limit=1, window_seconds=1) == 0
    assert await harness.limiter.hit(key, limit=1, window_seconds=1) == 1
    await harness.end_window(key)
    assert await harness.limiter.hit(key, limit=1, window_seconds=1) == 0
    assert await harness.limiter.hit(key, limit=1, window_seconds=1) == 1


async def test_failed_attempts_do_not_extend_the_window(harness: Harness, key: str) -> None:
    # Fixed window: hammering while locked out must not keep the lock-out alive forever.
    await harness.limiter.hit(key, limit=1, window_seconds=1)
    for _ in range(5):
        await harness.limiter.hit(key, limit=1, window_seconds=1)
    await harness.end_window(key)
    assert await harness.limiter.hit(key, limit=1, window_seconds=1) == 0


async def test_blocked_reports_without_counting(harness: Harness, key: str) -> None:
    assert await harness.limiter.blocked(key, limit=2) == 0
    for _ in range(5):
        assert await harness.limiter.blocked(key, limit=2) == 0
    await harness.limiter.hit(key, limit=2, window_seconds=60)
    assert await harness.limiter.blocked(key, limit=2) == 0
    await harness.limiter.hit(key, limit=2, window_seconds=60)
    assert 0 < await harness.limiter.blocked(key, limit=2) <= 60
    await harness.limiter.reset(key)
    assert await harness.limiter.blocked(key, limit=2) == 0


# --- what only one implementation can show


async def test_memory_wait_counts_down_with_the_clock(key: str) -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(clock)
    await limiter.hit(key, limit=1, window_seconds=60)
    assert await limiter.hit(key, limit=1, window_seconds=60) == 60
    clock.current += dt.timedelta(seconds=29.5)
    assert await limiter.hit(key, limit=1, window_seconds=60) == 31
    clock.current += dt.timedelta(seconds=30.5)
    assert await limiter.hit(key, limit=1, window_seconds=60) == 0


@pytest.mark.redis
async def test_redis_counts_are_shared_between_clients(redis_url: str, anyio_backend: str, key: str) -> None:
    first = redis.asyncio.Redis.from_url(redis_url)
    second = redis.asyncio.Redis.from_url(redis_url)
    try:
        await RedisRateLimiter(first).hit(key, limit=1, window_seconds=60)
        assert await RedisRateLimiter(second).hit(key, limit=1, window_seconds=60) > 0
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.redis
async def test_redis_keys_are_prefixed_and_always_expire(redis_client: redis.asyncio.Redis, key: str) -> None:
    await RedisRateLimiter(redis_client).hit(key, limit=5, window_seconds=60)
    assert await redis_client.get(KEY_PREFIX + key) == b"1"
    assert 0 < await redis_client.ttl(KEY_PREFIX + key) <= 60
    assert await redis_client.exists(key) == 0


@pytest.mark.redis
async def test_redis_repairs_a_counter_that_lost_its_expiry(redis_client: redis.asyncio.Redis, key: str) -> None:
    # A counter without a TTL would lock the key out forever; the next hit must give it one.
    await redis_client.set(KEY_PREFIX + key, 7)
    assert await RedisRateLimiter(redis_client).hit(key, limit=5, window_seconds=60) > 0
    assert 0 < await redis_client.ttl(KEY_PREFIX + key) <= 60


@pytest.mark.redis
async def test_redis_unreachable_is_unavailable(anyio_backend: str, tmp_path: Path, key: str) -> None:
    client = redis.asyncio.Redis.from_url(f"unix://{tmp_path}/nothing-here.sock")
    try:
        with pytest.raises(Unavailable):
            await RedisRateLimiter(client).hit(key, limit=1, window_seconds=60)
        with pytest.raises(Unavailable):
            await RedisRateLimiter(client).reset(key)
    finally:
        await client.aclose()
