"""PATCH/GET /config for the Jira and Zendesk integrations and the vulnerabilities webhook: checked
against a local server answering as Jira and Zendesk do, tokens masked, one automation at a time;
and POST /trigger?name=vulnerabilities sending the webhook."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fleet_core.model.vulnerabilities import CVEMeta
from tests import autom_fake_ticket_systems as fake
from tests.autom_found_vulnerabilities import host_with_software, record_found
from tests.http.support import Cast, Fleet, assert_error

pytestmark = pytest.mark.anyio

CONFIG = "/api/latest/fleet/config"
MASK = "********"


@pytest.fixture
def systems() -> Iterator[fake.TicketSystems]:
    yield from fake.serve()


def jira(systems: fake.TicketSystems, **fields: Any) -> dict[str, Any]:
    return {"url": systems.url, "username": fake.JIRA_USER, "api_token": fake.JIRA_TOKEN,
            "project_key": fake.JIRA_PROJECT, "enable_software_vulnerabilities": False,
            "enable_failing_policies": False, **fields}


def zendesk(systems: fake.TicketSystems, **fields: Any) -> dict[str, Any]:
    return {"url": systems.url, "email": fake.ZENDESK_EMAIL, "api_token": fake.ZENDESK_TOKEN,
            "group_id": fake.ZENDESK_GROUP, "enable_software_vulnerabilities": False,
            "enable_failing_policies": False, **fields}


async def patch(fleet: Fleet, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return await fleet.client.patch(CONFIG, json=body, headers=fleet.as_admin if headers is None else headers)


async def stored_tokens(fleet: Fleet) -> list[str]:
    async with fleet.kit.store.unit_of_work() as uow:
        integrations = (await uow.app_config.get()).integrations
    return [i.api_token for i in [*(integrations.jira or []), *(integrations.zendesk or [])]]


async def test_integrations_are_checked_saved_and_shown_with_the_token_masked(
        cast: Cast, systems: fake.TicketSystems) -> None:
    fleet = cast.fleet
    response = await patch(fleet, {"integrations": {
        "jira": [jira(systems, enable_software_vulnerabilities=True)],
        "zendesk": [zendesk(systems, enable_failing_policies=True)]}})
    assert response.status_code == 200, response.text
    assert response.json()["integrations"] == {
        "jira": [jira(systems, api_token=MASK, enable_software_vulnerabilities=True)],
        "zendesk": [zendesk(systems, api_token=MASK, enable_failing_policies=True)]}
    assert sorted(systems.checks) == sorted([
        "/rest/api/2/myself", f"/rest/api/2/project/{fake.JIRA_PROJECT}", "/api/v2/users/me.json",
        f"/api/v2/groups/{fake.ZENDESK_GROUP}.json"])
    for actor in cast.actors.values():
        shown = await fleet.client.get(CONFIG, headers=actor.headers)
        assert shown.status_code == 200
        assert shown.json()["integrations"]["jira"][0]["api_token"] == MASK
        assert fake.JIRA_TOKEN not in shown.text and fake.ZENDESK_TOKEN not in shown.text
    assert await stored_tokens(fleet) == [fake.JIRA_TOKEN, fake.ZENDESK_TOKEN]


async def test_echoing_the_config_back_keeps_the_tokens_and_checks_nothing_again(
        fleet: Fleet, systems: fake.TicketSystems) -> None:
    assert (await patch(fleet, {"integrations": {"jira": [jira(systems)], "zendesk": [zendesk(systems)]}})
            ).status_code == 200
    checks = len(systems.checks)
    shown = (await fleet.client.get(CONFIG, headers=fleet.as_admin)).json()
    echoed = copy.deepcopy(shown["integrations"])
    echoed["jira"][0]["enable_software_vulnerabilities"] = True
    response = await patch(fleet, {"integrations": echoed})
    assert response.status_code == 200, response.text
    assert response.json()["integrations"]["jira"][0]["enable_software_vulnerabilities"] is True
    assert len(systems.checks) == checks
    assert await stored_tokens(fleet) == [fake.JIRA_TOKEN, fake.ZENDESK_TOKEN]
    # A new token is checked again, and refused tokens are not stored.
    response = await patch(fleet, {"integrations": {"jira": [jira(systems, api_token="wrong")]}})
    assert_error(response, 422, "api_token")
    assert await stored_tokens(fleet) == [fake.JIRA_TOKEN, fake.ZENDESK_TOKEN]


@pytest.mark.parametrize(("integration", "changes", "field"), [
    ("jira", {"api_token": "wrong"}, "api_token"),
    ("jira", {"username": "someone-else@example.com"}, "api_token"),
    ("jira", {"project_key": "NOPE"}, "project_key"),
    ("jira", {"url": "http://127.0.0.1:9"}, "url"),
    ("zendesk", {"api_token": "wrong"}, "api_token"),
    ("zendesk", {"group_id": 42}, "group_id"),
    ("zendesk", {"url": "http://127.0.0.1:9"}, "url"),
])
async def test_settings_the_service_refuses_are_422_naming_the_field_and_not_stored(
        fleet: Fleet, systems: fake.TicketSystems, integration: str, changes: dict[str, Any], field: str) -> None:
    settings = (jira if integration == "jira" else zendesk)(systems, **changes)
    response = await patch(fleet, {"integrations": {integration: [settings]}})
    body = assert_error(response, 422, field)
    assert fake.JIRA_TOKEN not in response.text and fake.ZENDESK_TOKEN not in response.text
    assert "wrong" not in str(body)
    assert (await fleet.client.get(CONFIG, headers=fleet.as_admin)).json()["integrations"] == {
        "jira": None, "zendesk": None}


@pytest.mark.parametrize(("integration", "changes", "field"), [
    ("jira", {"project_key": ""}, "project_key"),
    ("jira", {"username": ""}, "username"),
    ("jira", {"url": "not a url"}, "url"),
    ("jira", {"api_token": MASK}, "api_token"),
    ("zendesk", {"group_id": 0}, "group_id"),
    ("zendesk", {"email": ""}, "email"),
    ("zendesk", {"api_token": ""}, "api_token"),
])
async def test_incomplete_settings_are_422_without_asking_the_service(
        fleet: Fleet, systems: fake.TicketSystems, integration: str, changes: dict[str, Any], field: str) -> None:
    settings = (jira if integration == "jira" else zendesk)(systems, **changes)
    assert_error(await patch(fleet, {"integrations": {integration: [settings]}}), 422, field)
    assert systems.checks == []


async def test_only_one_vulnerability_and_one_failing_policy_automation_at_a_time(
        fleet: Fleet, systems: fake.TicketSystems) -> None:
    webhook = {"vulnerabilities_webhook": {"enable_vulnerabilities_webhook": True,
                                           "destination_url": systems.hook_url}}
    both = await patch(fleet, {"webhook_settings": webhook,
                               "integrations": {"jira": [jira(systems, enable_software_vulnerabilities=True)]}})
    assert_error(both, 422, "enable_software_vulnerabilities")
    two = await patch(fleet, {"integrations": {"jira": [jira(systems, enable_software_vulnerabilities=True)],
                                               "zendesk": [zendesk(systems, enable_software_vulnerabilities=True)]}})
    assert_error(two, 422, "enable_software_vulnerabilities")
    failing = await patch(fleet, {
        "webhook_settings": {"failing_policies_webhook": {"enable_failing_policies_webhook": True,
                                                          "destination_url": systems.hook_url}},
        "integrations": {"zendesk": [zendesk(systems, enable_failing_policies=True)]}})
    assert_error(failing, 422, "enable_failing_policies")
    duplicate = await patch(fleet, {"integrations": {"jira": [jira(systems), jira(systems)]}})
    assert_error(duplicate, 422, "project_key")
    assert systems.checks == []
    # One of each is fine, and switching the vulnerability automation over to Jira too.
    assert (await patch(fleet, {"webhook_settings": webhook})).status_code == 200
    switched = await patch(fleet, {
        "webhook_settings": {"vulnerabilities_webhook": {"enable_vulnerabilities_webhook": False}},
        "integrations": {"jira": [jira(systems, enable_software_vulnerabilities=True, enable_failing_policies=True)]}})
    assert switched.status_code == 200, switched.text


@pytest.mark.parametrize(("integrations", "field"), [
    ({"jira": {"url": "x"}}, "integrations.jira"),
    ({"jira": ["not an object"]}, "integrations.jira[0]"),
    ({"zendesk": [{"group_id": "abc"}]}, "integrations.zendesk[0].group_id"),
    ({"zendesk": [{"password": "x"}]}, "integrations.zendesk[0].password"),
    ({"jira": [{"enable_failing_policies": "yes"}]}, "integrations.jira[0].enable_failing_policies"),
])
async def test_wrong_types_are_400_naming_the_field(fleet: Fleet, integrations: dict[str, Any], field: str) -> None:
    assert_error(await patch(fleet, {"integrations": integrations}), 400, field)


async def test_only_global_admins_change_integrations(cast: Cast, systems: fake.TicketSystems) -> None:
    for role in ("maintainer", "observer", "team_admin", "team_maintainer", "team_observer"):
        response = await patch(cast.fleet, {"integrations": {"jira": [jira(systems)]}}, cast[role].headers)
        assert_error(response, 403)
    assert systems.checks == []


async def test_triggering_vulnerabilities_sends_the_webhook_once_per_new_cve(
        fleet: Fleet, systems: fake.TicketSystems) -> None:
    async with fleet.kit.store.unit_of_work() as uow:
        host_id, software = await host_with_software(uow, "web-1", fleet.clock.now(), [("openssl", "1.1.1k")])
        await record_found(uow, software[("openssl", "1.1.1k")], "CVE-2021-3711", fleet.clock.now(),
                           CVEMeta(cve="CVE-2021-3711", cvss_score=9.8))
        await uow.commit()
    response = await patch(fleet, {"webhook_settings": {"vulnerabilities_webhook": {
        "enable_vulnerabilities_webhook": True, "destination_url": systems.hook_url, "host_batch_size": 100}}})
    assert response.status_code == 200, response.text
    for _ in range(2):
        triggered = await fleet.client.post("/api/latest/fleet/trigger", params={"name": "vulnerabilities"},
                                            headers=fleet.as_admin)
        assert triggered.status_code == 200, triggered.text
        # The trigger answers once the run has started; the next one may start when it is over.
        async with asyncio.timeout(10):
            while fleet.kit.services.schedules.runs_in_progress():
                await asyncio.sleep(0.01)
    _, _, hooks = systems.snapshot()
    [(_, body)] = hooks
    assert body["vulnerability"]["cve"] == "CVE-2021-3711" and body["vulnerability"]["cvss_score"] == 9.8
    assert [h["id"] for h in body["vulnerability"]["hosts_affected"]] == [host_id]
