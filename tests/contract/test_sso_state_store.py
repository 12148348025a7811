"""The SSOStateStore contract, over the in-memory store and the Redis one on a real Redis."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import attrs
import pytest
import redis.asyncio

from fleet_adapters.memory.sso import InMemorySSOStateStore
from fleet_adapters.redis.sso import RedisSSOStateStore
from fleet_core.ports import SSOStateStore

pytestmark = pytest.mark.anyio


@attrs.define
class FakeClock:
    current: dt.datetime = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.current


@attrs.frozen
class Harness:
    store: SSOStateStore
    # Returns once an entry kept for one second has expired, by moving time or by waiting for it.
    expire: Callable[[Callable[[], Awaitable[bool]]], Awaitable[None]]


@pytest.fixture
async def redis_client(redis_url: str, anyio_backend: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "memory":
        clock = FakeClock()

        async def advance(gone: Callable[[], Awaitable[bool]]) -> None:
            clock.current += dt.timedelta(seconds=1)
            assert await gone()

        return Harness(InMemorySSOStateStore(clock), advance)
    client: redis.asyncio.Redis = request.getfixturevalue("redis_client")

    async def wait(gone: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + 5.0
        while not await gone():
            assert time.monotonic() < deadline, "the entry never expired"
            await anyio.sleep(0.05)

    return Harness(RedisSSOStateStore(client), wait)


def _id() -> str:
    return "ONELOGIN_" + uuid.uuid4().hex


async def test_a_request_is_pending_until_taken_and_taken_once(harness: Harness) -> None:
    store, request_id = harness.store, _id()
    assert await store.pending_request(request_id) is None
    await store.add_request(request_id, "/hosts/manage", ttl=dt.timedelta(minutes=5))
    assert await store.pending_request(request_id) == "/hosts/manage"
    assert await store.pending_request(request_id) == "/hosts/manage"
    assert await store.take_request(request_id) == "/hosts/manage"
    assert await store.take_request(request_id) is None
    assert await store.pending_request(request_id) is None


async def test_requests_are_independent(harness: Harness) -> None:
    first, second = _id(), _id()
    await harness.store.add_request(first, "/one", ttl=dt.timedelta(minutes=5))
    await harness.store.add_request(second, "/two", ttl=dt.timedelta(minutes=5))
    assert await harness.store.take_request(first) == "/one"
    assert await harness.store.pending_request(second) == "/two"


async def test_of_concurrent_takers_of_one_request_exactly_one_gets_it(harness: Harness) -> None:
    request_id = _id()
    await harness.store.add_request(request_id, "/", ttl=dt.timedelta(minutes=5))
    results: list[str | None] = []

    async def take() -> None:
        results.append(await harness.store.take_request(request_id))

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(take)
    assert sorted(results, key=lambda r: r is None) == ["/"] + [None] * 7


async def test_a_request_expires(harness: Harness) -> None:
    request_id = _id()
    await harness.store.add_request(request_id, "/", ttl=dt.timedelta(seconds=1))

    async def gone() -> bool:
        return await harness.store.pending_request(request_id) is None

    await harness.expire(gone)
    assert await harness.store.take_request(request_id) is None


async def test_an_assertion_is_used_once_and_concurrent_uses_have_one_winner(harness: Harness) -> None:
    assertion_id = "_a" + uuid.uuid4().hex
    outcomes: list[bool] = []

    async def use() -> None:
        outcomes.append(await harness.store.use_assertion(assertion_id, ttl=dt.timedelta(minutes=5)))

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(use)
    assert sorted(outcomes) == [False] * 7 + [True]
    assert await harness.store.use_assertion(assertion_id, ttl=dt.timedelta(minutes=5)) is False
    assert await harness.store.use_assertion("_a" + uuid.uuid4().hex, ttl=dt.timedelta(minutes=5)) is True


async def test_a_used_assertion_is_forgotten_after_its_ttl(harness: Harness) -> None:
    assertion_id = "_a" + uuid.uuid4().hex
    assert await harness.store.use_assertion(assertion_id, ttl=dt.timedelta(seconds=1))

    async def gone() -> bool:
        # A probe that finds it forgotten records a use of its own, which is what expiry allows.
        return await harness.store.use_assertion(assertion_id, ttl=dt.timedelta(seconds=1))

    await harness.expire(gone)


async def test_metadata_is_kept_per_url_and_replaced(harness: Harness) -> None:
    url = f"https://idp.example.com/{uuid.uuid4().hex}/metadata"
    assert await harness.store.metadata(url) is None
    await harness.store.put_metadata(url, "<md:EntityDescriptor/>")
    assert await harness.store.metadata(url) == "<md:EntityDescriptor/>"
    await harness.store.put_metadata(url, "<md:EntityDescriptor entityID='2'/>")
    assert await harness.store.metadata(url) == "<md:EntityDescriptor entityID='2'/>"
    assert await harness.store.metadata(url + "?other") is None
