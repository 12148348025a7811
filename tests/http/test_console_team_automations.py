"""The console's policy automations page for a team (/policies/automations?team_id=): the team's
failing-policies webhook over its own policies, saved through the core's team service, offered
only to those who may write the team (global admins, that team's admins)."""

from __future__ import annotations

import pytest

from tests.http.support import ADMIN_EMAIL, Cast
from tests.http.test_console_admin_pages import _no_redirects, console_login, csrf_of

pytestmark = pytest.mark.anyio

__all__ = ["_no_redirects"]


async def add_policy(cast: Cast, name: str, team_id: int | None) -> int:
    path = "/api/v1/fleet/global/policies" if team_id is None else f"/api/v1/fleet/teams/{team_id}/policies"
    response = await cast.fleet.client.post(path, json={"name": name, "query": "SELECT 1;"},
                                            headers=cast.fleet.as_admin)
    assert response.status_code == 200, response.text
    return int(response.json()["policy"]["id"])


@pytest.mark.parametrize("email_of", ["team_admin", "admin"])
async def test_a_team_writer_sets_the_teams_failing_policies_webhook(cast: Cast, email_of: str) -> None:
    team_policy = await add_policy(cast, "Team check", cast.team_one)
    await add_policy(cast, "Global check", None)
    client = cast.fleet.client
    await console_login(client, ADMIN_EMAIL if email_of == "admin" else cast[email_of].email)
    listing = await client.get(f"/policies?team_id={cast.team_one}")
    assert f'href="/policies/automations?team_id={cast.team_one}"' in listing.text
    page = await client.get(f"/policies/automations?team_id={cast.team_one}")
    assert page.status_code == 200, page.text
    assert f'name="policy_ids" value="{team_policy}"' in page.text and "Global check" not in page.text
    assert "Team One" in page.text
    action = f"/policies/automations?team_id={cast.team_one}"
    bad = await client.post(action, data={"enabled": "on", "destination_url": "not a url",
                                          "policy_ids": [str(team_policy)], "csrf_token": csrf_of(page)})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    saved = await client.post(action, data={
        "enabled": "on", "destination_url": "https://hooks.example.com/team-one", "host_batch_size": "5",
        "policy_ids": [str(team_policy)], "csrf_token": csrf_of(page)})
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith(action)
    async with cast.fleet.kit.store.unit_of_work() as uow:
        webhook = (await uow.teams.automations(cast.team_one)).failing_policies_webhook
        assert (await uow.app_config.get()).webhook_settings.failing_policies_webhook.destination_url == ""
    assert webhook.enable_failing_policies_webhook and webhook.destination_url == "https://hooks.example.com/team-one"
    assert (webhook.policy_ids, webhook.host_batch_size) == ([team_policy], 5)
    assert f'value="{team_policy}" checked' in (await client.get(action)).text


async def test_a_team_maintainer_is_offered_no_edit_and_a_crafted_post_is_refused(cast: Cast) -> None:
    client = cast.fleet.client
    await console_login(client, cast["team_maintainer"].email)
    listing = await client.get(f"/policies?team_id={cast.team_one}")
    assert "Manage automations" not in listing.text
    page = await client.get(f"/policies/automations?team_id={cast.team_one}")
    assert page.status_code == 200 and "Save automations" not in page.text
    refused = await client.post(f"/policies/automations?team_id={cast.team_one}", data={
        "enabled": "on", "destination_url": "https://hooks.example.com/sneaky", "csrf_token": csrf_of(page)})
    assert refused.status_code == 403
    async with cast.fleet.kit.store.unit_of_work() as uow:
        assert (await uow.teams.automations(cast.team_one)).failing_policies_webhook.destination_url == ""


async def test_a_team_admin_cannot_open_another_teams_automations(cast: Cast) -> None:
    client = cast.fleet.client
    await console_login(client, cast["team_admin"].email)
    assert (await client.get(f"/policies/automations?team_id={cast.team_two}")).status_code == 403
