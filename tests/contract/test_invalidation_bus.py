"""The InvalidationBus contract, over the in-memory bus and the Redis one on a real Redis."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path

import anyio
import attrs
import pytest
import redis.asyncio

from fleet_adapters.memory.invalidation import InMemoryInvalidationBus
from fleet_adapters.redis.invalidation import CHANNEL, EVERYTHING, RedisInvalidationBus
from fleet_core.errors import Unavailable
from fleet_core.ports import InvalidationBus

pytestmark = pytest.mark.anyio

DEADLINE = 5.0


@attrs.define
class Inbox:
    """A subscriber that remembers every announcement it was given."""

    received: list[tuple[int, ...]] = attrs.field(factory=list)

    def __call__(self, host_ids: Sequence[int]) -> None:
        self.received.append(tuple(host_ids))

    async def wait_for(self, expected: tuple[int, ...], deadline: float = DEADLINE) -> None:
        await until(lambda: expected in self.received, f"never received {expected}", deadline)


def flushed_more(inbox: Inbox, than: int) -> bool:
    return inbox.received.count(tuple(EVERYTHING)) > than


async def until(condition: Callable[[], bool], failure: str, deadline: float = DEADLINE) -> None:
    ends = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < ends, failure
        await anyio.sleep(0.01)


@pytest.fixture
async def redis_client(redis_url: str, anyio_backend: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_bus(redis_client: redis.asyncio.Redis) -> AsyncIterator[RedisInvalidationBus]:
    bus = RedisInvalidationBus(redis_client, backoff_initial=0.01, backoff_max=0.2)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def bus(request: pytest.FixtureRequest) -> InvalidationBus:
    if request.param == "memory":
        return InMemoryInvalidationBus()
    redis_bus: RedisInvalidationBus = request.getfixturevalue("redis_bus")
    return redis_bus


async def test_a_subscriber_receives_the_announced_ids(bus: InvalidationBus) -> None:
    inbox = Inbox()
    bus.subscribe(inbox)
    await bus.publish([3, 1, 2])
    await inbox.wait_for((3, 1, 2))


async def test_every_subscriber_receives_every_announcement_in_order(bus: InvalidationBus) -> None:
    first, second = Inbox(), Inbox()
    bus.subscribe(first)
    bus.subscribe(second)
    for host_id in range(1, 6):
        await bus.publish([host_id])
    await first.wait_for((5,))
    await second.wait_for((5,))
    assert first.received == second.received == [(1,), (2,), (3,), (4,), (5,)]


async def test_announcing_no_hosts_announces_nothing(bus: InvalidationBus) -> None:
    inbox = Inbox()
    bus.subscribe(inbox)
    await bus.publish([])
    await bus.publish([7])
    await inbox.wait_for((7,))
    assert inbox.received == [(7,)]


async def test_a_failing_subscriber_does_not_stop_the_others(bus: InvalidationBus) -> None:
    def broken(host_ids: Sequence[int]) -> None:
        raise RuntimeError("cache bug")

    inbox = Inbox()
    bus.subscribe(broken)
    bus.subscribe(inbox)
    await bus.publish([1])
    await bus.publish([2])
    await inbox.wait_for((2,))
    assert inbox.received == [(1,), (2,)]


async def test_the_publishing_process_is_told_before_publish_returns(bus: InvalidationBus) -> None:
    # A request that deletes a host must not be followed, in the same process, by an answer from
    # the stale cache while the announcement travels through Redis and back.
    inbox, configs = Inbox(), Inbox()
    bus.subscribe(inbox)
    bus.subscribe_config(lambda: configs([0]))
    await bus.publish([4, 2])
    assert inbox.received == [(4, 2)]
    await bus.publish_config_changed()
    assert configs.received == [(0,)]


async def test_many_ids_arrive_intact(bus: InvalidationBus) -> None:
    inbox = Inbox()
    bus.subscribe(inbox)
    ids = tuple(range(1, 20_001))
    await bus.publish(ids)
    await inbox.wait_for(ids)


# --- what only Redis can show


@pytest.mark.redis
async def test_two_processes_both_receive_each_others_announcements(redis_url: str, anyio_backend: str) -> None:
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(2)]
    buses = [RedisInvalidationBus(client) for client in clients]
    inboxes = [Inbox(), Inbox()]
    try:
        for bus, inbox in zip(buses, inboxes, strict=True):
            bus.subscribe(inbox)
            await bus.start()
        await buses[0].publish([10])
        await buses[1].publish([20, 21])
        for inbox in inboxes:
            await inbox.wait_for((10,))
            await inbox.wait_for((20, 21))
        # Each process hears its own announcement at once, the other's through Redis.
        assert inboxes[0].received == [(10,), (20, 21)]
        assert sorted(inboxes[1].received) == [(10,), (20, 21)]
        assert inboxes[1].received[0] == (20, 21)
    finally:
        for bus in buses:
            await bus.stop()
        for client in clients:
            await client.aclose()


@pytest.mark.redis
async def test_the_publishers_own_message_is_not_delivered_again(
    redis_bus: RedisInvalidationBus, redis_client: redis.asyncio.Redis
) -> None:
    inbox, configs = Inbox(), Inbox()
    redis_bus.subscribe(inbox)
    redis_bus.subscribe_config(lambda: configs([0]))
    await redis_bus.publish([1])
    await redis_bus.publish_config_changed()
    await redis_bus.publish([1])
    # The same ids from another process afterwards are a change of their own and are delivered.
    await redis_client.publish(CHANNEL, b"[1]")
    await redis_client.publish(CHANNEL, b"[2]")
    await inbox.wait_for((2,))
    assert inbox.received == [(1,), (1,), (1,), (2,)]
    assert configs.received == [(0,)]


@pytest.mark.redis
async def test_messages_on_the_channel_are_compact_json_arrays(
    redis_bus: RedisInvalidationBus, redis_client: redis.asyncio.Redis
) -> None:
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    await listener.subscribe(CHANNEL)
    try:
        await redis_bus.publish([1, 22, 333])
        ends = time.monotonic() + DEADLINE
        message = None
        while message is None:
            assert time.monotonic() < ends, "nothing published"
            message = await listener.get_message(timeout=0.1)
        assert message["data"] == b"[1,22,333]"
    finally:
        await listener.aclose()  # type: ignore[no-untyped-call]


@pytest.mark.redis
async def test_after_the_connection_is_killed_subscribers_drop_everything_and_keep_receiving(
    redis_bus: RedisInvalidationBus, redis_url: str
) -> None:
    inbox = Inbox()
    redis_bus.subscribe(inbox)
    await redis_bus.publish([1])
    await inbox.wait_for((1,))
    assert redis_bus.subscribed
    async with redis.asyncio.Redis.from_url(redis_url) as admin:
        # Whatever is published while the subscriber is away is lost: that is why it must flush.
        assert await admin.client_kill_filter(_type="pubsub") >= 1
        await admin.publish(CHANNEL, b"[2]")
    await inbox.wait_for(tuple(EVERYTHING))
    await until(lambda: redis_bus.subscribed, "never subscribed again")
    await redis_bus.publish([3])
    await inbox.wait_for((3,))
    assert inbox.received[0] == (1,)
    assert inbox.received.index(tuple(EVERYTHING)) < inbox.received.index((3,))


@pytest.mark.redis
async def test_the_listener_survives_repeated_disconnects(redis_bus: RedisInvalidationBus, redis_url: str) -> None:
    inbox = Inbox()
    redis_bus.subscribe(inbox)
    async with redis.asyncio.Redis.from_url(redis_url) as admin:
        for round_ in range(3):
            await until(lambda: redis_bus.subscribed, "never subscribed")
            assert await admin.client_kill_filter(_type="pubsub") >= 1
            flushes = inbox.received.count(tuple(EVERYTHING))
            await until(partial(flushed_more, inbox, flushes), f"no flush after kill {round_}")
    await until(lambda: redis_bus.subscribed, "never subscribed")
    await redis_bus.publish([42])
    await inbox.wait_for((42,))


@pytest.mark.redis
async def test_an_undecodable_message_drops_everything(
    redis_bus: RedisInvalidationBus, redis_client: redis.asyncio.Redis
) -> None:
    inbox = Inbox()
    redis_bus.subscribe(inbox)
    await redis_client.publish(CHANNEL, b"not json")
    await redis_client.publish(CHANNEL, b"[5]")
    await inbox.wait_for((5,))
    assert inbox.received == [(), (5,)]


@pytest.mark.redis
async def test_starting_without_redis_returns_and_publishing_is_unavailable(tmp_path: Path, anyio_backend: str) -> None:
    client = redis.asyncio.Redis.from_url(f"unix://{tmp_path}/nothing-here.sock")
    bus = RedisInvalidationBus(client, backoff_initial=0.01, backoff_max=0.05)
    try:
        await bus.start(ready_timeout=0.2)
        assert not bus.subscribed
        with pytest.raises(Unavailable):
            await bus.publish([1])
    finally:
        await bus.stop()
        await client.aclose()


@pytest.mark.redis
async def test_a_restarted_listener_drops_everything_and_resumes(redis_bus: RedisInvalidationBus) -> None:
    inbox = Inbox()
    redis_bus.subscribe(inbox)
    await redis_bus.stop()
    assert not redis_bus.subscribed
    await redis_bus.publish([1])
    await redis_bus.start()
    await redis_bus.publish([2])
    await inbox.wait_for((2,))
    # This process's own announcement reaches it even while stopped; what others announced
    # meanwhile is lost, so the restart drops everything.
    assert inbox.received == [(1,), tuple(EVERYTHING), (2,)]


async def test_config_announcements_reach_config_subscribers_only(bus: InvalidationBus) -> None:
    inbox = Inbox()
    config_calls: list[str] = []
    bus.subscribe(inbox)
    bus.subscribe_config(lambda: config_calls.append("changed"))
    await bus.publish_config_changed()
    await until(lambda: config_calls == ["changed"], "config subscriber never called")
    await bus.publish([9])
    await inbox.wait_for((9,))
    assert inbox.received == [(9,)]
    assert config_calls == ["changed"]


@pytest.mark.redis
async def test_config_subscribers_are_told_after_a_lost_connection(redis_bus: RedisInvalidationBus,
                                                                   redis_url: str) -> None:
    config_calls: list[str] = []
    redis_bus.subscribe_config(lambda: config_calls.append("changed"))
    assert redis_bus.subscribed
    async with redis.asyncio.Redis.from_url(redis_url) as admin:
        assert await admin.client_kill_filter(_type="pubsub") >= 1
    await until(lambda: config_calls != [], "config subscriber not told after reconnect")
