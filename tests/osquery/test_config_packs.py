"""Packs reach agents: what the management API schedules is in the next osquery config fetch.

The management API and the osquery API run as two "processes": separate service objects (each
with its own caches) over one store and one invalidation bus, as two servers share Postgres
and Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import argon2
import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.memory.schedule_lock import InMemoryScheduleLock
from fleet_adapters.security.argon2 import Argon2PasswordHasher
from fleet_adapters.security.tokens import SecretsTokenGenerator
from fleet_core.model.runtime import ServerRuntime
from fleet_core.services import Services, make_services
from fleet_http.app import create_app as create_management_app
from fleet_osquery.app import create_app as create_osquery_app
from tests.http.support import Fleet
from tests.osquery.conftest import SECRET
from tests.osquery.test_osquery_api import MACOS_DETAILS

pytestmark = pytest.mark.anyio

API = "/api/v1/fleet"
TEAM_SECRET = "apples-secret"


class AlwaysHealthy:
    async def check(self) -> dict[str, bool]:
        return {"memory": True}


def second_process(kit: InMemoryKit) -> Services:
    """Services of another server process: same storage and bus, caches of its own."""
    return make_services(
        uow=kit.store.unit_of_work,
        hasher=Argon2PasswordHasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)),
        tokens=SecretsTokenGenerator(), clock=kit.clock, mailer=kit.mailer,
        rate_limiter=InMemoryRateLimiter(kit.clock), health=AlwaysHealthy(), runtime=ServerRuntime(),
        bus=kit.services.bus, logs={"result": kit.logs, "status": kit.logs}, schedule_lock=InMemoryScheduleLock(),
    )


@pytest.fixture
def kit() -> InMemoryKit:
    return in_memory_kit()


@pytest.fixture
async def fleet(kit: InMemoryKit) -> AsyncIterator[Fleet]:
    @asynccontextmanager
    async def services() -> AsyncIterator[Services]:
        yield kit.services

    async with AsyncTestClient(create_management_app(services)) as client:
        fleet = Fleet(kit=kit, client=client)
        await fleet.setup()
        yield fleet


@pytest.fixture
async def agent(kit: InMemoryKit) -> AsyncIterator[AsyncTestClient[Any]]:
    other = second_process(kit)

    @asynccontextmanager
    async def services() -> AsyncIterator[Services]:
        yield other

    async with AsyncTestClient(create_osquery_app(services)) as client:
        yield client


async def enroll(agent: AsyncTestClient[Any], identifier: str, secret: str) -> str:
    details = {**MACOS_DETAILS, "system_info": {**MACOS_DETAILS["system_info"], "hostname": identifier}}
    response = await agent.post("/api/osquery/enroll", json={
        "enroll_secret": secret, "host_identifier": identifier, "host_details": details})
    assert response.status_code == 200, response.text
    return str(response.json()["node_key"])


async def packs_of(agent: AsyncTestClient[Any], node_key: str) -> dict[str, Any]:
    response = await agent.post("/api/osquery/config", json={"node_key": node_key})
    assert response.status_code == 200, response.text
    return dict(response.json().get("packs", {}))


async def post(fleet: Fleet, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await fleet.client.post(f"{API}{path}", json=body, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_scheduled_queries_reach_the_agents_they_target_on_the_next_fetch(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    team = await fleet.add_team("Apples")
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.enroll_secrets.replace(team, [TEAM_SECRET], kit.clock.now())
        await uow.commit()
    in_team = await enroll(agent, "in-team", TEAM_SECRET)
    alone = await enroll(agent, "alone", SECRET)
    # Both agents fetch once before anything is scheduled, so every cache is warm.
    assert await packs_of(agent, in_team) == {}
    assert await packs_of(agent, alone) == {}

    hosts = (await fleet.client.get(f"{API}/hosts", headers=fleet.as_admin)).json()["hosts"]
    team_host = next(h["id"] for h in hosts if h["hostname"] == "in-team")
    label = (await post(fleet, "/labels", {"name": "chosen", "host_ids": [team_host]}))["label"]["id"]
    usb = (await post(fleet, "/queries", {"name": "USB devices", "query": "SELECT * FROM usb_devices;"}))["query"]
    ports = (await post(fleet, "/queries", {"name": "Listening ports", "query": "SELECT * FROM listening_ports;",
                                            "team_id": team}))["query"]
    uptime = (await post(fleet, "/queries", {"name": "uptime", "query": "SELECT * FROM uptime;"}))["query"]
    await post(fleet, "/queries", {"name": "os", "query": "SELECT * FROM os_version;", "interval": 300,
                                   "logging": "differential"})
    global_entry = (await post(fleet, "/global/schedule", {"query_id": usb["id"], "interval": 3600,
                                                           "snapshot": True}))["scheduled"]
    await post(fleet, f"/teams/{team}/schedule", {"query_id": ports["id"], "interval": 600, "snapshot": False,
                                                  "removed": True, "platform": "darwin,linux"})
    pack = (await post(fleet, "/packs", {"name": "by label", "label_ids": [label]}))["pack"]
    await post(fleet, "/schedule", {"pack_id": pack["id"], "query_id": uptime["id"], "interval": 60,
                                    "snapshot": True, "shard": 50, "version": "5.0.0"})

    global_pack = {"queries": {
        "USB devices": {"query": "SELECT * FROM usb_devices;", "interval": 3600, "platform": "", "version": "",
                        "snapshot": True},
        "os": {"query": "SELECT * FROM os_version;", "interval": 300, "platform": "", "version": "",
               "removed": True},
    }}
    assert await packs_of(agent, in_team) == {
        "by label": {"queries": {"uptime": {"query": "SELECT * FROM uptime;", "interval": 60, "platform": "",
                                            "version": "5.0.0", "snapshot": True, "shard": 50}}},
        "Global": global_pack,
        f"team-{team}": {"queries": {"Listening ports": {
            "query": "SELECT * FROM listening_ports;", "interval": 600, "platform": "darwin,linux", "version": "",
            "snapshot": False, "removed": True}}},
    }
    assert await packs_of(agent, alone) == {"Global": global_pack}

    response = await fleet.client.patch(f"{API}/global/schedule/{global_entry['id']}",
                                        json={"interval": 7200, "snapshot": None, "removed": False},
                                        headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    changed = (await packs_of(agent, alone))["Global"]["queries"]["USB devices"]
    assert changed == {"query": "SELECT * FROM usb_devices;", "interval": 7200, "platform": "", "version": "",
                       "removed": False}


async def test_label_membership_disabling_and_deleting_take_effect_at_once(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()
    node_key = await enroll(agent, "h", SECRET)
    host_id = (await fleet.client.get(f"{API}/hosts", headers=fleet.as_admin)).json()["hosts"][0]["id"]
    label = (await post(fleet, "/labels", {"name": "chosen", "host_ids": []}))["label"]["id"]
    query = (await post(fleet, "/queries", {"name": "q", "query": "SELECT 1;"}))["query"]
    pack = (await post(fleet, "/packs", {"name": "p", "label_ids": [label]}))["pack"]
    await post(fleet, "/schedule", {"pack_id": pack["id"], "query_id": query["id"], "interval": 60,
                                    "snapshot": True})
    assert await packs_of(agent, node_key) == {}

    response = await fleet.client.patch(f"{API}/labels/{label}", json={"host_ids": [host_id]},
                                        headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert list(await packs_of(agent, node_key)) == ["p"]

    response = await fleet.client.patch(f"{API}/packs/{pack['id']}", json={"disabled": True}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert await packs_of(agent, node_key) == {}

    await fleet.client.patch(f"{API}/packs/{pack['id']}", json={"disabled": False}, headers=fleet.as_admin)
    assert list(await packs_of(agent, node_key)) == ["p"]
    response = await fleet.client.delete(f"{API}/queries/id/{query['id']}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert await packs_of(agent, node_key) == {}
