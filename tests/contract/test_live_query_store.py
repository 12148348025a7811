"""The LiveQueryStore contract, over the in-memory store and the Redis one on a real Redis."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest
import redis.asyncio

from fleet_adapters.memory.live_queries import InMemoryLiveQueryStore
from fleet_adapters.redis.live_queries import ACTIVE_KEY, RedisLiveQueryStore, pending_key, sql_key
from fleet_core.model.campaigns import LiveResult
from fleet_core.ports import LiveQueryStore

pytestmark = pytest.mark.anyio

DEADLINE = 5.0


def answer(campaign_id: int, host_id: int, **fields: object) -> LiveResult:
    base: dict[str, object] = {"hostname": f"host-{host_id}", "display_name": f"Host {host_id}",
                               "rows": ({"a": "1"}, {"a": "2"}), "stats": {"wall_time_ms": 3}, "error": None}
    return LiveResult(campaign_id=campaign_id, host_id=host_id, **{**base, **fields})  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LiveQueryStore]:
    if request.param == "memory":
        yield InMemoryLiveQueryStore()
        return
    url: str = request.getfixturevalue("redis_url")
    client = redis.asyncio.Redis.from_url(url)
    try:
        yield RedisLiveQueryStore(client)
    finally:
        await client.aclose()


async def test_a_started_campaign_is_asked_of_its_targets_only(store: LiveQueryStore) -> None:
    await store.start(7, "SELECT 1", [1, 3, 70_000])
    await store.start(8, "SELECT 2", [3])

    assert await store.queries_for_host(1) == {7: "SELECT 1"}
    assert await store.queries_for_host(3) == {7: "SELECT 1", 8: "SELECT 2"}
    assert await store.queries_for_host(70_000) == {7: "SELECT 1"}
    assert await store.queries_for_host(2) == {}
    assert await store.active_ids() == [7, 8]


async def test_a_host_that_answered_is_not_asked_again(store: LiveQueryStore) -> None:
    await store.start(7, "SELECT 1", [1, 2])

    await store.answered(7, 1)

    assert await store.queries_for_host(1) == {}
    assert await store.queries_for_host(2) == {7: "SELECT 1"}


async def test_stopped_campaigns_are_forgotten(store: LiveQueryStore) -> None:
    await store.start(7, "SELECT 1", [1])
    await store.start(8, "SELECT 2", [1])

    await store.stop([7])
    await store.answered(7, 1)  # a late answer changes nothing

    assert await store.queries_for_host(1) == {8: "SELECT 2"}
    assert await store.active_ids() == [8]
    await store.stop([8, 99])
    assert await store.active_ids() == []
    assert await store.queries_for_host(1) == {}


async def test_nobody_receives_a_result_without_a_subscriber(store: LiveQueryStore) -> None:
    assert await store.publish(answer(7, 1)) is False


async def test_a_subscriber_receives_results_of_its_campaign_only(store: LiveQueryStore) -> None:
    subscription = await store.subscribe(7)
    try:
        assert await store.publish(answer(8, 1)) is False
        assert await store.publish(answer(7, 1)) is True
        assert await store.publish(answer(7, 2, rows=(), error="no such table: nope", stats=None)) is True

        assert await subscription.next(DEADLINE) == answer(7, 1)
        assert await subscription.next(DEADLINE) == answer(7, 2, rows=(), error="no such table: nope", stats=None)
        assert await subscription.next(0.05) is None
    finally:
        await subscription.close()
    assert await store.publish(answer(7, 3)) is False
    await subscription.close()  # idempotent


async def test_the_store_answers_pings(store: LiveQueryStore) -> None:
    assert await store.ping() is True


# ---- Redis specifics --------------------------------------------------------------------------


async def test_redis_keeps_fleets_sql_and_active_keys_and_a_pending_set_per_host(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        store = RedisLiveQueryStore(client)
        await store.start(12, "SELECT 12", [5, 6])

        assert await client.get(sql_key(12)) == b"SELECT 12"
        assert sql_key(12) == "sql:livequery:{12}" and pending_key(5) == "livequery:host:{5}"
        assert await client.smembers(pending_key(5)) == {b"12"}
        assert 0 < await client.ttl(pending_key(5)) <= 7 * 24 * 3600
        assert await client.smembers(ACTIVE_KEY) == {b"12"}

        await store.answered(12, 5)
        assert await client.exists(pending_key(5)) == 0
        await store.stop([12])
        assert await client.exists(sql_key(12)) == 0
        assert await client.smembers(ACTIVE_KEY) == set()
        # With nothing running a check-in reads nothing; while anything runs, the host that never
        # answered drops the ended campaign at its next check-in.
        assert await store.queries_for_host(6) == {}
        await store.start(13, "SELECT 13", [7])
        assert await store.queries_for_host(6) == {}
        assert await client.exists(pending_key(6)) == 0
    finally:
        await client.aclose()


async def test_an_ended_campaign_is_not_dropped_on_a_stale_cache_of_another_process(redis_url: str) -> None:
    one, two = redis.asyncio.Redis.from_url(redis_url), redis.asyncio.Redis.from_url(redis_url)
    try:
        starter, other = RedisLiveQueryStore(one), RedisLiveQueryStore(two, cache_seconds=60)
        assert await other.queries_for_host(1) == {}  # cached: nothing runs... for a minute
        await starter.start(8, "SELECT 8", [1])
        await starter.start(9, "SELECT 9", [2])
        # The other process's cache does not know the campaign yet; the host keeps it pending.
        assert await other.queries_for_host(2) == {}
        assert await two.smembers(pending_key(2)) == {b"9"}
        assert await starter.queries_for_host(2) == {9: "SELECT 9"}
    finally:
        await one.aclose()
        await two.aclose()


async def test_another_process_sees_a_new_campaign_within_its_cache_period(redis_url: str) -> None:
    one, two = redis.asyncio.Redis.from_url(redis_url), redis.asyncio.Redis.from_url(redis_url)
    try:
        starter, other = RedisLiveQueryStore(one), RedisLiveQueryStore(two, cache_seconds=0.2)
        assert await other.queries_for_host(1) == {}  # caches "nothing runs"
        await starter.start(3, "SELECT 3", [1])
        deadline = time.monotonic() + DEADLINE
        while await other.queries_for_host(1) != {3: "SELECT 3"}:
            assert time.monotonic() < deadline, "the other process never saw the campaign"
            await anyio.sleep(0.02)
    finally:
        await one.aclose()
        await two.aclose()


@pytest.mark.parametrize("campaigns", [1, 10, 100])
async def test_a_check_in_costs_one_command_whatever_the_number_of_campaigns(redis_url: str,
                                                                           campaigns: int) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        store = RedisLiveQueryStore(client, cache_seconds=60)
        for campaign_id in range(1, campaigns + 1):
            await store.start(campaign_id, f"SELECT {campaign_id}", list(range(1, 201)))
        await store.queries_for_host(1)  # fills the cache of active campaigns
        await client.config_resetstat()

        for batch in range(4):  # 50 check-ins at a time, within the client's connection pool
            async with anyio.create_task_group() as tg:
                for host_id in range(batch * 50 + 1, batch * 50 + 51):
                    tg.start_soon(store.queries_for_host, host_id)

        stats = await client.info("commandstats")
        calls = {name: stat["calls"] for name, stat in stats.items()
                 if name not in ("cmdstat_config", "cmdstat_info", "cmdstat_client", "cmdstat_hello")}
        assert calls == {"cmdstat_smembers": 200}
        assert len(await store.queries_for_host(7)) == campaigns
    finally:
        await client.aclose()


async def test_an_unreachable_redis_is_reported_as_such() -> None:
    client = redis.asyncio.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    try:
        store = RedisLiveQueryStore(client)
        assert await store.ping() is False
        from fleet_core.errors import Unavailable
        with pytest.raises(Unavailable):
            await store.start(1, "SELECT 1", [1])
        with pytest.raises(Unavailable):
            await store.queries_for_host(1)
    finally:
        await client.aclose()


async def test_redis_hands_over_results_already_received_without_waiting(redis_url: str) -> None:
    # The result stream sends a burst of results that have already arrived, then one status.
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        store = RedisLiveQueryStore(client)
        subscription = await store.subscribe(21)
        try:
            assert await subscription.next(0.0) is None
            for host_id in (1, 2, 3):
                assert await store.publish(answer(21, host_id)) is True
            first = await subscription.next(DEADLINE)
            assert first is not None and first.host_id == 1
            rest = []
            with anyio.fail_after(DEADLINE):
                while len(rest) < 2:
                    result = await subscription.next(0.0)
                    if result is not None:
                        rest.append(result.host_id)
            assert rest == [2, 3]
            assert await subscription.next(0.0) is None
        finally:
            await subscription.close()
    finally:
        await client.aclose()


async def test_redis_targets_hosts_after_its_script_was_flushed(redis_url: str) -> None:
    # Targeting runs a script (SADD and EXPIRE in one command): a Redis that lost its scripts
    # (restarted, SCRIPT FLUSH) is given it again.
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        store = RedisLiveQueryStore(client)
        await store.start(22, "SELECT 22", [8])
        await client.script_flush()
        await store.start(23, "SELECT 23", [8, 9])
        assert await client.smembers(pending_key(8)) == {b"22", b"23"}
        assert 0 < await client.ttl(pending_key(9)) <= 7 * 24 * 3600
        assert await store.queries_for_host(9) == {23: "SELECT 23"}
    finally:
        await client.aclose()
