"""The ErrorReportStore contract, over the in-memory store and the Redis one on a real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import pytest
import redis.asyncio

from fleet_adapters.memory.error_reports import InMemoryErrorReportStore
from fleet_adapters.redis.error_reports import KEY, RedisErrorReportStore
from fleet_core.errors import Unavailable
from fleet_core.ports import ErrorReportStore

pytestmark = pytest.mark.anyio

MAX_REPORTS = 5
MAX_BYTES = 512


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[ErrorReportStore]:
    if request.param == "memory":
        yield InMemoryErrorReportStore(max_reports=MAX_REPORTS, max_report_bytes=MAX_BYTES)
        return
    client = redis.asyncio.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisErrorReportStore(client, max_reports=MAX_REPORTS, max_report_bytes=MAX_BYTES)
    finally:
        await client.aclose()


async def test_reports_come_back_oldest_first_as_they_were_added(store: ErrorReportStore) -> None:
    assert await store.list() == []
    first = {"host_id": 1, "error_message": "boom", "error_additional_info": {"nested": [1, "two", None]}}
    second = {"host_id": 2, "error_message": "ünïcode ✓", "ok": True}
    await store.add(first)
    await store.add(second)
    assert await store.list() == [first, second]


async def test_only_the_latest_reports_are_kept(store: ErrorReportStore) -> None:
    for n in range(MAX_REPORTS + 3):
        await store.add({"n": n})
    assert await store.list() == [{"n": n} for n in range(3, MAX_REPORTS + 3)]


async def test_concurrent_adds_never_exceed_the_bound(store: ErrorReportStore) -> None:
    async with anyio.create_task_group() as tasks:
        for n in range(40):
            tasks.start_soon(store.add, {"n": n})
    kept = await store.list()
    assert len(kept) == MAX_REPORTS
    assert len({report["n"] for report in kept}) == MAX_REPORTS


async def test_a_report_over_the_size_bound_is_kept_as_a_bounded_excerpt(store: ErrorReportStore) -> None:
    await store.add({"error_message": "x" * 5000 + '"\\\n' * 200, "host_id": 7})
    [kept] = await store.list()
    assert kept["truncated"] is True
    assert kept["excerpt"].startswith('{"error_message":"xxx')
    assert len(json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode()) <= MAX_BYTES


async def test_values_json_cannot_hold_are_kept_as_text(store: ErrorReportStore) -> None:
    await store.add({"when": anyio, "n": 1})
    [kept] = await store.list()
    assert kept["n"] == 1 and "anyio" in kept["when"]


async def test_flush_forgets_every_report(store: ErrorReportStore) -> None:
    await store.add({"n": 1})
    await store.flush()
    assert await store.list() == []
    await store.add({"n": 2})
    assert await store.list() == [{"n": 2}]


@pytest.mark.redis
async def test_the_redis_store_is_one_list_shared_by_every_client(redis_url: str) -> None:
    one, two = redis.asyncio.Redis.from_url(redis_url), redis.asyncio.Redis.from_url(redis_url)
    try:
        await RedisErrorReportStore(one).add({"from": "one"})
        await RedisErrorReportStore(two).add({"from": "two"})
        assert await RedisErrorReportStore(one).list() == [{"from": "one"}, {"from": "two"}]
        assert await one.llen(KEY) == 2  # type: ignore[misc]
    finally:
        await one.aclose()
        await two.aclose()


async def test_an_unreachable_redis_is_unavailable(tmp_path: object) -> None:
    client = redis.asyncio.Redis.from_url("unix:///nonexistent/fleet-test.sock")
    try:
        store = RedisErrorReportStore(client)
        with pytest.raises(Unavailable):
            await store.add({"n": 1})
        with pytest.raises(Unavailable):
            await store.list()
        with pytest.raises(Unavailable):
            await store.flush()
    finally:
        await client.aclose()
