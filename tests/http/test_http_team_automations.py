"""A team's failing-policy automations: PATCH /teams/{id} stores its webhook and its use of the
global Jira and Zendesk integrations (validated as the global settings are), GET shows them
without credentials, and the periodic job sends a team policy's failing hosts to that team's
webhook or integration, over real HTTP to a local server speaking Jira's API."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.model.policies import PolicyFields
from fleet_core.model.webhooks import WebhookSchedule
from tests import autom_fake_ticket_systems as fake
from tests.http.support import SERVER_URL, Cast, Fleet, assert_error

pytestmark = pytest.mark.anyio

TEAMS = "/api/v1/fleet/teams"
DEADLINE_SECONDS = 10.0
# The periodic job would only run again after this long: what arrives was sent by POST /trigger
# (the test's own requests then never wait on the store behind the job's thread).
SCHEDULE = WebhookSchedule(check_interval=dt.timedelta(hours=1))


@pytest.fixture
def kit() -> InMemoryKit:
    return in_memory_kit(webhook_schedule=SCHEDULE)


@pytest.fixture
def systems() -> Iterator[fake.TicketSystems]:
    yield from fake.serve()


async def run_automations(fleet: Fleet) -> None:
    """Trigger the automations and return once the run has finished."""
    response = await fleet.client.post("/api/latest/fleet/trigger", params={"name": "automations"},
                                       headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + DEADLINE_SECONDS
    while fleet.kit.services.schedules.runs_in_progress():
        assert time.monotonic() < deadline, "the triggered run never finished"
        await anyio.sleep(0.01)


def hook(url: str, policy_ids: list[int], *, enabled: bool = True, batch: int = 0) -> dict[str, Any]:
    return {"failing_policies_webhook": {"enable_failing_policies_webhook": enabled, "destination_url": url,
                                         "policy_ids": policy_ids, "host_batch_size": batch}}


def team_jira(systems: fake.TicketSystems, enabled: bool = True) -> dict[str, Any]:
    return {"url": systems.url, "project_key": fake.JIRA_PROJECT, "enable_failing_policies": enabled}


async def configure_global_jira(fleet: Fleet, systems: fake.TicketSystems) -> None:
    # The global integration exists but is not the global failing-policy automation.
    response = await fleet.client.patch("/api/latest/fleet/config", headers=fleet.as_admin, json={
        "integrations": {"jira": [{"url": systems.url, "username": fake.JIRA_USER, "api_token": fake.JIRA_TOKEN,
                                   "project_key": fake.JIRA_PROJECT, "enable_failing_policies": False,
                                   "enable_software_vulnerabilities": False}]}})
    assert response.status_code == 200, response.text


async def team_policy(fleet: Fleet, team_id: int | None, name: str, failing_hosts: int) -> tuple[int, list[int]]:
    """A policy of the team (None: global) failed by that many new hosts of the team."""
    async with fleet.kit.store.unit_of_work() as uow:
        policy = await uow.policies.add(PolicyFields(name=name, query="SELECT 1;", resolution="Fix it"),
                                        team_id=team_id, author_id=None, at=fleet.clock.now())
        hosts = []
        for n in range(failing_hosts):
            key = f"{name}-{n}"
            host = (await uow.hosts.enroll(osquery_host_id=key, node_key_hash=key, team_id=team_id,
                                           at=fleet.clock.now(), fields={"hostname": key})).host
            await uow.policies.record_results(host.id, {policy.id: False}, fleet.clock.now())
            hosts.append(host.id)
        await uow.commit()
    return policy.id, hosts


async def modify(fleet: Fleet, team_id: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> httpx.Response:
    return await fleet.client.patch(f"{TEAMS}/{team_id}", json=body,
                                    headers=fleet.as_admin if headers is None else headers)


async def test_team_automations_are_stored_and_shown_without_credentials(
        cast: Cast, systems: fake.TicketSystems) -> None:
    fleet = cast.fleet
    await configure_global_jira(fleet, systems)
    policy_id, _ = await team_policy(fleet, cast.team_one, "Disk encrypted", 0)
    response = await modify(fleet, cast.team_one, {
        "webhook_settings": hook("https://hooks.example.com/one", [policy_id], enabled=False, batch=10),
        "integrations": {"jira": [team_jira(systems)], "zendesk": []}})
    assert response.status_code == 200, response.text
    expected_hook = hook("https://hooks.example.com/one", [policy_id], enabled=False, batch=10)
    assert response.json()["team"]["webhook_settings"] == expected_hook
    assert response.json()["team"]["integrations"] == {"jira": [team_jira(systems)], "zendesk": None}
    shown = await fleet.client.get(f"{TEAMS}/{cast.team_one}", headers=cast["team_admin"].headers)
    assert shown.json()["team"]["webhook_settings"] == expected_hook
    assert shown.json()["team"]["integrations"]["jira"] == [team_jira(systems)]
    listed = {t["id"]: t for t in (await fleet.client.get(TEAMS, headers=fleet.as_admin)).json()["teams"]}
    assert listed[cast.team_one]["webhook_settings"] == expected_hook
    assert listed[cast.team_two]["integrations"] == {"jira": None, "zendesk": None}
    assert fake.JIRA_TOKEN not in shown.text and fake.JIRA_USER not in shown.text
    # A PATCH naming only the webhook keeps the integrations, and the reverse.
    response = await modify(fleet, cast.team_one, {"webhook_settings": hook("", [], enabled=False)})
    assert response.json()["team"]["integrations"]["jira"] == [team_jira(systems)]
    response = await modify(fleet, cast.team_one, {"integrations": {"jira": []}})
    assert response.json()["team"]["integrations"] == {"jira": None, "zendesk": None}
    assert response.json()["team"]["webhook_settings"]["failing_policies_webhook"]["destination_url"] == ""


@pytest.mark.parametrize(("body", "field"), [
    ({"webhook_settings": hook("not a url", [])}, "destination_url"),
    ({"webhook_settings": hook("https://hooks.example.com", [], batch=-1)}, "host_batch_size"),
    ({"webhook_settings": hook("https://hooks.example.com", [], enabled=True),
      "integrations": {"jira": ["TEAM_JIRA"]}}, "enable_failing_policies"),
    ({"integrations": {"zendesk": [{"url": "https://zd.example.com", "group_id": 5,
                                    "enable_failing_policies": True}]}}, "integrations"),
    ({"integrations": {"jira": [{"url": "https://elsewhere.example.com", "project_key": "X"}]}}, "integrations"),
])
async def test_bad_team_automations_are_422_naming_the_field_and_not_stored(
        fleet: Fleet, systems: fake.TicketSystems, body: dict[str, Any], field: str) -> None:
    await configure_global_jira(fleet, systems)
    team_id = await fleet.add_team("Servers")
    if "integrations" in body and body["integrations"].get("jira") == ["TEAM_JIRA"]:
        body = {**body, "integrations": {"jira": [team_jira(systems)]}}
    response = await modify(fleet, team_id, {"description": "changed", **body})
    assert_error(response, 422, field)
    team = (await fleet.client.get(f"{TEAMS}/{team_id}", headers=fleet.as_admin)).json()["team"]
    assert team["description"] == ""
    assert team["webhook_settings"]["failing_policies_webhook"]["destination_url"] == ""
    assert team["integrations"] == {"jira": None, "zendesk": None}


async def test_a_mistyped_team_webhook_is_400_naming_the_field(fleet: Fleet) -> None:
    team_id = await fleet.add_team("Servers")
    response = await modify(fleet, team_id, {"webhook_settings": {"failing_policies_webhook": {"policy_ids": ["x"]}}})
    assert_error(response, 400, "webhook_settings.failing_policies_webhook.policy_ids[0]")


async def test_a_team_webhook_may_only_watch_that_teams_policies(cast: Cast) -> None:
    global_policy, _ = await team_policy(cast.fleet, None, "Global one", 0)
    other_policy, _ = await team_policy(cast.fleet, cast.team_two, "Other team's", 0)
    response = await modify(cast.fleet, cast.team_one, {
        "webhook_settings": hook("https://hooks.example.com", [global_policy, other_policy])})
    body = assert_error(response, 422, "policy_ids")
    assert str(global_policy) in str(body) and str(other_policy) in str(body)


@pytest.mark.parametrize(("role", "status"), [
    ("admin", 200), ("team_admin", 200), ("maintainer", 403), ("observer", 403),
    ("team_maintainer", 403), ("team_observer", 403),
])
async def test_who_may_set_a_teams_automations(cast: Cast, role: str, status: int) -> None:
    response = await modify(cast.fleet, cast.team_one, {"webhook_settings": hook("https://h.example.com", [])},
                            headers=cast[role].headers)
    assert response.status_code == status, response.text
    # A team admin of team one is no admin of team two.
    if role == "team_admin":
        other = await modify(cast.fleet, cast.team_two, {"webhook_settings": hook("https://h.example.com", [])},
                             headers=cast[role].headers)
        assert_error(other, 403)


async def test_a_team_policys_failing_hosts_reach_the_teams_webhook_only(
        cast: Cast, systems: fake.TicketSystems) -> None:
    fleet = cast.fleet
    policy_id, hosts = await team_policy(fleet, cast.team_one, "Firewall on", 3)
    await team_policy(fleet, cast.team_two, "Other team's policy", 1)
    response = await modify(fleet, cast.team_one, {"webhook_settings": hook(systems.hook_url, [policy_id], batch=2)})
    assert response.status_code == 200, response.text
    await run_automations(fleet)
    first, second = (body for _, body in systems.snapshot()[2])
    assert set(first) == {"timestamp", "policy", "hosts"}
    assert first["policy"]["id"] == policy_id and first["policy"]["team_id"] == cast.team_one
    assert first["hosts"][0] == {"id": hosts[0], "hostname": "Firewall on-0", "display_name": "Firewall on-0",
                                 "url": f"{SERVER_URL}/hosts/{hosts[0]}"}
    assert [h["id"] for h in [*first["hosts"], *second["hosts"]]] == hosts
    # The global settings are untouched, and the other team's policy went nowhere.
    async with fleet.kit.store.unit_of_work() as uow:
        assert await uow.webhooks.pending() == []
    assert len(systems.snapshot()[2]) == 2


async def test_a_team_policys_failure_opens_a_ticket_in_the_teams_jira(
        cast: Cast, systems: fake.TicketSystems) -> None:
    fleet = cast.fleet
    await configure_global_jira(fleet, systems)
    policy_id, hosts = await team_policy(fleet, cast.team_one, "Antivirus running", 2)
    # A failing global policy opens no ticket: the global integration is not enabled for it.
    await team_policy(fleet, None, "Global policy", 1)
    response = await modify(fleet, cast.team_one, {
        "webhook_settings": hook("", [policy_id], enabled=False),
        "integrations": {"jira": [team_jira(systems)]}})
    assert response.status_code == 200, response.text
    await run_automations(fleet)
    (issue,) = systems.snapshot()[0]
    assert issue["project"] == {"key": fake.JIRA_PROJECT}
    assert issue["summary"] == "Antivirus running policy failed on 2 host(s)"
    assert f"team_id={cast.team_one}&policy_id={policy_id}" in issue["description"]
    assert systems.snapshot()[2] == []
    assert [f"/hosts/{h}" in issue["description"] for h in hosts] == [True, True]
