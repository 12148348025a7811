"""Fleet Desktop against the two APIs: a host gets its device token through its node key
(POST /api/v1/osquery/device_token), the simulated desktop polls `desktop` and `policies` with
it, and sees its failing policy count follow the answers the host's agent sends.

As in test_config_packs, the management API and the osquery API are two "processes" over one
store and one invalidation bus.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.services.agents import POLICY_PREFIX
from fleet_osquery.sim.desktop import FleetDesktop
from tests.http.support import Fleet
from tests.osquery import test_config_packs as packs
from tests.osquery.conftest import SECRET
from tests.osquery.test_config_packs import enroll
from tests.osquery.test_policy_agents import read, write

pytestmark = pytest.mark.anyio

kit = packs.kit
fleet = packs.fleet
agent = packs.agent

API = "/api/v1/fleet"


async def enrolled(kit: InMemoryKit, agent: AsyncTestClient[Any], name: str) -> str:
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()
    return await enroll(agent, name, SECRET)


async def add_policy(fleet: Fleet, name: str) -> int:
    response = await fleet.client.post(f"{API}/global/policies", headers=fleet.as_admin,
                                       json={"name": name, "query": "SELECT 1;"})
    assert response.status_code == 200, response.text
    return int(response.json()["policy"]["id"])


async def test_a_simulated_desktop_sees_its_failing_policy_count_follow_the_agent(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    node_key = await enrolled(kit, agent, "laptop")
    clock = kit.clock
    assert isinstance(clock, MovableClock)
    desktop = FleetDesktop(osquery=agent, fleet=fleet.client, node_key=node_key, now=clock.now)

    first = await desktop.poll()
    assert first.failing_policies_count == 0 and first.policies == {}
    assert desktop.tokens_fetched == 1

    firewall = await add_policy(fleet, "Firewall")
    disk = await add_policy(fleet, "Encryption")
    asked = await read(agent, node_key)
    assert {f"{POLICY_PREFIX}{firewall}", f"{POLICY_PREFIX}{disk}"} <= set(asked)
    # An empty result fails a policy; a row passes it.
    await write(agent, node_key, {f"{POLICY_PREFIX}{firewall}": [], f"{POLICY_PREFIX}{disk}": [{"1": "1"}]})
    failing = await desktop.poll()
    assert failing.failing_policies_count == 1
    assert failing.policies == {"Firewall": "fail", "Encryption": "pass"}

    await write(agent, node_key, {f"{POLICY_PREFIX}{firewall}": [{"1": "1"}]})
    assert (await desktop.poll()).failing_policies_count == 0
    await write(agent, node_key, {f"{POLICY_PREFIX}{firewall}": [], f"{POLICY_PREFIX}{disk}": []})
    assert (await desktop.poll()).failing_policies_count == 2
    # One token served every poll: nothing was near its expiry.
    assert desktop.tokens_fetched == 1


async def test_the_token_is_refreshed_before_expiry_and_replaced_after(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    node_key = await enrolled(kit, agent, "laptop")
    clock = kit.clock
    assert isinstance(clock, MovableClock)
    desktop = FleetDesktop(osquery=agent, fleet=fleet.client, node_key=node_key, now=clock.now)
    await desktop.poll()
    token, expires_at = desktop.token, desktop.expires_at
    assert expires_at == clock.now() + dt.timedelta(hours=1)

    # Near expiry the desktop presents its token again: the same token lives another hour.
    clock.advance(dt.timedelta(minutes=55))
    await desktop.poll()
    assert desktop.token == token and desktop.expires_at == clock.now() + dt.timedelta(hours=1)
    clock.advance(dt.timedelta(minutes=30))
    assert (await fleet.client.get(f"{API}/device/{token}/desktop")).status_code == 200

    # An admin rotates it: the old one is refused, and the desktop fetches a new one.
    host_id = (await kit.services.agents.authenticate(node_key)).id
    rotated = await fleet.client.post(f"{API}/hosts/{host_id}/device_token", headers=fleet.as_admin)
    assert rotated.status_code == 200
    assert (await fleet.client.get(f"{API}/device/{token}/desktop")).status_code == 401
    await desktop.poll()
    assert desktop.token not in (token, rotated.json()["device_token"])


@pytest.mark.parametrize("prefix", ["/api/osquery", "/api/v1/osquery"])
async def test_the_device_token_route_refuses_what_is_not_a_node_key(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit, prefix: str) -> None:
    node_key = await enrolled(kit, agent, "laptop")
    assert fleet.admin is not None
    for not_a_node_key in ("", "unknown", fleet.admin.token):
        response = await agent.post(f"{prefix}/device_token", json={"node_key": not_a_node_key})
        assert response.status_code == 401, response.text
        assert response.json()["node_invalid"] is True
    # A device token is not a node key either.
    issued = await agent.post(f"{prefix}/device_token", json={"node_key": node_key})
    assert issued.status_code == 200, issued.text
    device_token = issued.json()["device_auth_token"]
    refused = await agent.post(f"{prefix}/device_token", json={"node_key": device_token})
    assert refused.status_code == 401
    bad = await agent.post(f"{prefix}/device_token", json={"node_key": node_key, "device_auth_token": 5})
    assert bad.status_code == 400
    assert "error" in bad.json()
