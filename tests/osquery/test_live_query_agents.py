"""Live queries end to end: agents are asked through the osquery API, their answers reach the
creator's WebSocket, and campaigns end as Fleet ends them (nobody listening, cleanup).

The management API and the osquery API run as two "processes": separate service objects over
one store, one invalidation bus and one live query store. The last test shares only Redis for
the live part: one process streams, another takes the agent's answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import argon2
import pytest
import redis.asyncio
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit, MovableClock, in_memory_kit
from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.memory.schedule_lock import InMemoryScheduleLock
from fleet_adapters.redis.live_queries import ACTIVE_KEY, RedisLiveQueryStore, sql_key
from fleet_adapters.security.argon2 import Argon2PasswordHasher
from fleet_adapters.security.tokens import SecretsTokenGenerator
from fleet_core.model.campaigns import CampaignStatus
from fleet_core.model.runtime import ServerRuntime
from fleet_core.ports import LiveQueryStore
from fleet_core.rules.targets import TargetSelection
from fleet_core.services import Services, make_services
from fleet_core.services.agents import QueryResult
from fleet_http.app import create_app as create_management_app
from fleet_osquery.app import create_app as create_osquery_app
from tests.http.support import Fleet
from tests.osquery.conftest import SECRET
from tests.osquery.test_osquery_api import MACOS_DETAILS

pytestmark = pytest.mark.anyio

API = "/api/v1/fleet"
WS = f"{API}/results/websocket"
WAIT = 10.0


class AlwaysHealthy:
    async def check(self) -> dict[str, bool]:
        return {"memory": True}


def other_process(kit: InMemoryKit, live_store: LiveQueryStore) -> Services:
    """Services of another server process: same storage, bus and live query store; caches of its own."""
    return make_services(
        uow=kit.store.unit_of_work,
        hasher=Argon2PasswordHasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)),
        tokens=SecretsTokenGenerator(), clock=kit.clock, mailer=kit.mailer,
        rate_limiter=InMemoryRateLimiter(kit.clock), health=AlwaysHealthy(), runtime=ServerRuntime(),
        bus=kit.services.bus, logs={"result": kit.logs, "status": kit.logs}, live_store=live_store,
        schedule_lock=InMemoryScheduleLock(),
    )


@pytest.fixture
def kit() -> InMemoryKit:
    return in_memory_kit()


@pytest.fixture
async def fleet(kit: InMemoryKit) -> AsyncIterator[Fleet]:
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()

    @asynccontextmanager
    async def services() -> AsyncIterator[Services]:
        yield kit.services

    async with AsyncTestClient(create_management_app(services)) as client:
        fleet = Fleet(kit=kit, client=client)
        await fleet.setup()
        yield fleet


@pytest.fixture
async def agent(kit: InMemoryKit) -> AsyncIterator[AsyncTestClient[Any]]:
    other = other_process(kit, kit.live_store)

    @asynccontextmanager
    async def services() -> AsyncIterator[Services]:
        yield other

    async with AsyncTestClient(create_osquery_app(services)) as client:
        yield client


async def enroll(agent: AsyncTestClient[Any], identifier: str) -> str:
    details = {**MACOS_DETAILS, "system_info": {**MACOS_DETAILS["system_info"], "hostname": identifier}}
    response = await agent.post("/api/osquery/enroll", json={
        "enroll_secret": SECRET, "host_identifier": identifier, "host_details": details})
    assert response.status_code == 200, response.text
    return str(response.json()["node_key"])


async def host_id_of(kit: InMemoryKit, identifier: str) -> int:
    async with kit.store.unit_of_work() as uow:
        host = await uow.hosts.get_by_osquery_host_id(identifier)
    assert host is not None
    return host.id


async def read(agent: AsyncTestClient[Any], node_key: str) -> dict[str, str]:
    response = await agent.post("/api/osquery/distributed/read", json={"node_key": node_key})
    assert response.status_code == 200, response.text
    return dict(response.json()["queries"])


async def write(agent: AsyncTestClient[Any], node_key: str, name: str, rows: list[dict[str, Any]],
                status: int = 0, message: str = "") -> None:
    response = await agent.post("/api/osquery/distributed/write", json={
        "node_key": node_key, "queries": {name: rows}, "statuses": {name: status},
        "messages": {name: message} if message else {}})
    assert response.status_code == 200, response.text


async def start(fleet: Fleet, sql: str, host_ids: list[int]) -> int:
    response = await fleet.client.post(f"{API}/queries/run", json={"query": sql, "selected": {"hosts": host_ids}},
                                       headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return int(response.json()["campaign"]["id"])


async def campaign_status(kit: InMemoryKit, campaign_id: int) -> CampaignStatus:
    async with kit.store.unit_of_work() as uow:
        campaign = await uow.campaigns.get(campaign_id)
    assert campaign is not None
    return campaign.status


async def test_agents_answer_through_the_osquery_api_and_the_creator_sees_every_answer(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    keys = {name: await enroll(agent, name) for name in ("mac-1", "mac-2")}
    ids = {name: await host_id_of(kit, name) for name in keys}
    cid = await start(fleet, "SELECT * FROM os_version", list(ids.values()))
    name = f"fleet_distributed_query_{cid}"
    assert fleet.admin is not None

    with await fleet.client.websocket_connect(WS) as ws:
        ws.send_json({"type": "auth", "data": {"token": fleet.admin.token}})
        ws.send_json({"type": "select_campaign", "data": {"campaign_id": cid}})
        assert ws.receive_json(timeout=WAIT) == {
            "type": "totals", "data": {"count": 2, "online": 2, "offline": 0, "missing_in_action": 0}}
        assert ws.receive_json(timeout=WAIT)["data"] == {"expected_results": 2, "actual_results": 0,
                                                         "status": "pending"}

        for host, rows in (("mac-1", [{"name": "macOS"}, None]), ("mac-2", [{"name": "Sonoma"}])):
            queries = await read(agent, keys[host])
            assert queries[name] == "SELECT * FROM os_version"
            await write(agent, keys[host], name, rows)
            result = ws.receive_json(timeout=WAIT)
            assert result["type"] == "result"
            assert result["data"]["host"] == {"id": ids[host], "hostname": host, "display_name": "mbp"}
            [row] = result["data"]["rows"]
            assert row == {**rows[0], "host_hostname": host, "host_display_name": "mbp"}  # type: ignore[dict-item]
            # Answered once, never asked again.
            assert name not in await read(agent, keys[host])
            status = ws.receive_json(timeout=WAIT)
            assert status["type"] == "status"
        assert status["data"] == {"expected_results": 2, "actual_results": 2, "status": "finished"}

    deadline = time.monotonic() + WAIT
    while await campaign_status(kit, cid) is not CampaignStatus.COMPLETED:
        assert time.monotonic() < deadline, "leaving the stream did not complete the campaign"
        await asyncio.sleep(0.01)
    assert await kit.live_store.active_ids() == []


async def test_an_answer_nobody_hears_is_asked_again_until_the_campaign_is_a_minute_old(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    node_key = await enroll(agent, "mac-1")
    cid = await start(fleet, "SELECT 1", [await host_id_of(kit, "mac-1")])
    name = f"fleet_distributed_query_{cid}"

    assert name in await read(agent, node_key)
    await write(agent, node_key, name, [{"one": "1"}])
    assert name in await read(agent, node_key)  # nobody listened yet: asked again
    assert await campaign_status(kit, cid) is CampaignStatus.WAITING

    assert isinstance(kit.clock, MovableClock)
    kit.clock.advance(dt.timedelta(minutes=2))
    await write(agent, node_key, name, [{"one": "1"}])

    assert await campaign_status(kit, cid) is CampaignStatus.COMPLETED
    assert name not in await read(agent, node_key)
    assert await kit.live_store.active_ids() == []


async def test_cleanup_ends_campaigns_nobody_reads_and_forgets_completed_ones(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    node_key = await enroll(agent, "mac-1")
    host = await host_id_of(kit, "mac-1")
    unread = await start(fleet, "SELECT 'unread'", [host])
    read_long = await start(fleet, "SELECT 'read for a day'", [host])
    done = await start(fleet, "SELECT 'done'", [host])
    assert isinstance(kit.clock, MovableClock)
    async with kit.store.unit_of_work() as uow:
        await uow.campaigns.set_status(read_long, CampaignStatus.RUNNING, kit.clock.now())
        # Completed while the store was unreachable: still asked of agents.
        await uow.campaigns.set_status(done, CampaignStatus.COMPLETED, kit.clock.now())
        await uow.commit()
    kit.clock.advance(dt.timedelta(minutes=2))
    fresh = await start(fleet, "SELECT 'fresh'", [host])

    assert await kit.services.live_queries.cleanup() == 2

    assert [await campaign_status(kit, c) for c in (unread, read_long, done, fresh)] == [
        CampaignStatus.COMPLETED, CampaignStatus.RUNNING, CampaignStatus.COMPLETED, CampaignStatus.WAITING]
    live = {n for n in await read(agent, node_key) if n.startswith("fleet_distributed_query_")}
    assert live == {f"fleet_distributed_query_{read_long}", f"fleet_distributed_query_{fresh}"}

    kit.clock.advance(dt.timedelta(hours=25))
    await kit.services.live_queries.cleanup()
    assert await kit.live_store.active_ids() == []


async def test_one_process_streams_what_an_agent_answered_on_another_sharing_only_redis(
        fleet: Fleet, kit: InMemoryKit, redis_url: str) -> None:
    streamer_redis, agent_redis = redis.asyncio.Redis.from_url(redis_url), redis.asyncio.Redis.from_url(redis_url)
    try:
        streamer = other_process(kit, RedisLiveQueryStore(streamer_redis))
        agents = other_process(kit, RedisLiveQueryStore(agent_redis))
        node_key = await agents.agents.enroll(enroll_secret=SECRET, host_identifier="mac-1",
                                              host_details=MACOS_DETAILS)
        host = await agents.agents.authenticate(node_key)
        assert fleet.admin is not None
        viewer = await streamer.auth.authenticate(fleet.admin.token)

        started = await streamer.live_queries.create_campaign(
            viewer, query="SELECT 42 AS answer", query_id=None, selected=TargetSelection(host_ids=[host.id]))
        cid = started.campaign.id
        name = f"fleet_distributed_query_{cid}"
        stream = await streamer.live_queries.open_stream(viewer, cid)
        try:
            deadline = time.monotonic() + WAIT
            while name not in (await agents.agents.distributed_read(host)).queries:
                assert time.monotonic() < deadline, "the agent's process never saw the campaign"
                await asyncio.sleep(0.05)
            await agents.agents.distributed_write(host, {name: QueryResult(rows=[{"answer": "42"}])})

            result = await stream.next_result(WAIT)
            assert result is not None
            assert (result.campaign_id, result.host_id, list(result.rows)) == (cid, host.id, [{"answer": "42"}])
            assert name not in (await agents.agents.distributed_read(host)).queries
        finally:
            await stream.close()

        assert await campaign_status(kit, cid) is CampaignStatus.COMPLETED
        assert await agent_redis.exists(sql_key(cid)) == 0
        assert await agent_redis.smembers(ACTIVE_KEY) == set()
    finally:
        await streamer_redis.aclose()
        await agent_redis.aclose()
