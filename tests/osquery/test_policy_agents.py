"""Policies reach agents: agents are asked the policies that apply to them, and their answers
show as passing/failing counts, host issues and the host's policy responses.

As in test_config_packs, the management API and the osquery API are two "processes" with
caches of their own over one store and one invalidation bus.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit
from fleet_core.services.agents import NO_POLICIES, POLICY_PREFIX
from tests.http.support import Fleet
from tests.osquery import test_config_packs as packs
from tests.osquery.conftest import SECRET
from tests.osquery.test_config_packs import TEAM_SECRET, enroll, post

pytestmark = pytest.mark.anyio

# The two-process fixtures of test_config_packs.
kit = packs.kit
fleet = packs.fleet
agent = packs.agent

API = "/api/v1/fleet"


async def read(agent: AsyncTestClient[Any], node_key: str) -> dict[str, str]:
    response = await agent.post("/api/osquery/distributed/read", json={"node_key": node_key})
    assert response.status_code == 200, response.text
    return dict(response.json()["queries"])


def policy_queries(queries: dict[str, str]) -> dict[str, str]:
    return {name: sql for name, sql in queries.items() if name.startswith(POLICY_PREFIX) or name == NO_POLICIES}


async def write(agent: AsyncTestClient[Any], node_key: str, rows: dict[str, list[dict[str, str]]],
                statuses: dict[str, int] | None = None) -> None:
    response = await agent.post("/api/osquery/distributed/write", json={
        "node_key": node_key, "queries": rows, "statuses": statuses or dict.fromkeys(rows, 0), "messages": {}})
    assert response.status_code == 200, response.text


async def get(fleet: Fleet, path: str) -> dict[str, Any]:
    response = await fleet.client.get(f"{API}{path}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_agents_answer_their_policies_and_the_answers_show_as_counts_and_issues(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    team = await fleet.add_team("Apples")
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.enroll_secrets.replace(team, [TEAM_SECRET], kit.clock.now())
        await uow.commit()
    everywhere = (await post(fleet, "/global/policies", {"name": "everywhere", "query": "SELECT 1;"}))["policy"]
    await post(fleet, "/global/policies", {"name": "linux only", "query": "SELECT 2;", "platform": "linux"})
    of_team = (await post(fleet, f"/teams/{team}/policies", {"name": "team", "query": "SELECT 3;",
                                                             "platform": "darwin"}))["policy"]
    good = await enroll(agent, "good", TEAM_SECRET)
    bad = await enroll(agent, "bad", SECRET)

    # New hosts are due for everything: each gets the policies for macOS of its scope.
    assert policy_queries(await read(agent, good)) == {
        f"{POLICY_PREFIX}{everywhere['id']}": "SELECT 1;", f"{POLICY_PREFIX}{of_team['id']}": "SELECT 3;"}
    assert policy_queries(await read(agent, bad)) == {f"{POLICY_PREFIX}{everywhere['id']}": "SELECT 1;"}
    await write(agent, good, {f"{POLICY_PREFIX}{everywhere['id']}": [{"1": "1"}],
                              f"{POLICY_PREFIX}{of_team['id']}": []},
                {f"{POLICY_PREFIX}{everywhere['id']}": 0, f"{POLICY_PREFIX}{of_team['id']}": 1})
    await write(agent, bad, {f"{POLICY_PREFIX}{everywhere['id']}": []})

    counts = {p["name"]: (p["passing_host_count"], p["failing_host_count"])
              for p in (await get(fleet, "/global/policies"))["policies"]}
    assert counts == {"everywhere": (1, 1), "linux only": (0, 0)}
    hosts = {h["hostname"]: h for h in (await get(fleet, "/hosts"))["hosts"]}
    assert hosts["bad"]["issues"] == {"failing_policies_count": 1, "total_issues_count": 1}
    assert hosts["good"]["issues"]["failing_policies_count"] == 0
    good_detail = (await get(fleet, f"/hosts/{hosts['good']['id']}"))["host"]
    # The team policy errored on the agent: no response.
    assert [(p["name"], p["response"]) for p in good_detail["policies"]] == [("everywhere", "pass"), ("team", "")]

    # Answered and not due: nothing is asked again, and answering again replaces the answer.
    assert policy_queries(await read(agent, bad)) == {}
    await write(agent, bad, {f"{POLICY_PREFIX}{everywhere['id']}": [{"1": "1"}]})
    assert (await get(fleet, f"/global/policies/{everywhere['id']}"))["policy"]["passing_host_count"] == 2

    # A new policy is asked at once (with the rest), without waiting for the interval.
    kit.clock.advance(dt.timedelta(seconds=30))
    added = (await post(fleet, "/global/policies", {"name": "added", "query": "SELECT 4;"}))["policy"]
    assert set(policy_queries(await read(agent, bad))) == {
        f"{POLICY_PREFIX}{everywhere['id']}", f"{POLICY_PREFIX}{added['id']}"}


async def test_hosts_with_no_policy_get_the_wildcard_and_policies_come_due_again(
        fleet: Fleet, agent: AsyncTestClient[Any], kit: InMemoryKit) -> None:
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()
    await post(fleet, "/global/policies", {"name": "windows", "query": "SELECT 1;", "platform": "windows"})
    mac = await enroll(agent, "mac", SECRET)

    assert policy_queries(await read(agent, mac)) == {NO_POLICIES: "SELECT 1"}
    await write(agent, mac, {NO_POLICIES: [{"1": "1"}]})
    assert policy_queries(await read(agent, mac)) == {}

    kit.clock.advance(dt.timedelta(seconds=5))
    everywhere = (await post(fleet, "/global/policies", {"name": "all", "query": "SELECT 2;"}))["policy"]
    assert policy_queries(await read(agent, mac)) == {f"{POLICY_PREFIX}{everywhere['id']}": "SELECT 2;"}
    await write(agent, mac, {f"{POLICY_PREFIX}{everywhere['id']}": []})
    # After the policy interval (1 h plus jitter) the policies are due again.
    kit.clock.advance(dt.timedelta(hours=2))
    assert policy_queries(await read(agent, mac)) == {f"{POLICY_PREFIX}{everywhere['id']}": "SELECT 2;"}
