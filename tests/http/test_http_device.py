"""The device-authenticated policies route (Fleet Desktop) and the admin route that issues a
host's device token."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.http.support import assert_error
from tests.http.test_http_hosts import add_host
from tests.http.test_http_policies import GLOBAL, add, answer, team_url

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"


async def issue(fleet: Fleet, host_id: int, headers: dict[str, str] | None = None) -> str:
    response = await fleet.client.post(f"{V1}/hosts/{host_id}/device_token", headers=headers or fleet.as_admin)
    assert response.status_code == 200, response.text
    token = response.json()["device_token"]
    assert isinstance(token, str) and len(token) >= 32
    return token


@pytest.mark.parametrize("prefix", ["/api/v1/fleet", "/api/latest/fleet"])
async def test_a_device_sees_its_policies_with_its_responses(fleet: Fleet, prefix: str) -> None:
    team = await fleet.add_team("blue")
    passed = await add(fleet, name="passed", platform="linux")
    failed = await add(fleet, name="failed", platform="")
    await add(fleet, name="mac only", platform="darwin")
    unanswered = await add(fleet, team_url(team), name="team policy", platform="")
    other_team = await fleet.add_team("red")
    await add(fleet, team_url(other_team), name="other team")
    host = await add_host(fleet, "laptop", team_id=team)
    await answer(fleet, host, {passed["id"]: True, failed["id"]: False})
    token = await issue(fleet, host)

    response = await fleet.client.get(f"{prefix}/device/{token}/policies")

    assert response.status_code == 200, response.text
    policies = response.json()["policies"]
    assert [(p["id"], p["name"], p["response"]) for p in policies] == [
        (passed["id"], "passed", "pass"), (failed["id"], "failed", "fail"), (unanswered["id"], "team policy", "")]
    assert {"id", "name", "query", "description", "resolution", "platform", "response"} <= set(policies[0])


async def test_unknown_rotated_and_deleted_tokens_are_refused(fleet: Fleet) -> None:
    host = await add_host(fleet, "laptop")
    assert_error(await fleet.client.get(f"{V1}/device/not-a-token/policies"), 401)
    first = await issue(fleet, host)
    second = await issue(fleet, host)
    assert first != second
    assert_error(await fleet.client.get(f"{V1}/device/{first}/policies"), 401)
    assert (await fleet.client.get(f"{V1}/device/{second}/policies")).status_code == 200
    # A user's API token is no device token.
    assert fleet.admin is not None
    assert_error(await fleet.client.get(f"{V1}/device/{fleet.admin.token}/policies"), 401)
    deleted = await fleet.client.delete(f"{V1}/hosts/{host}", headers=fleet.as_admin)
    assert deleted.status_code == 200
    assert_error(await fleet.client.get(f"{V1}/device/{second}/policies"), 401)


async def test_issuing_a_token_needs_write_access_to_the_host(cast: Cast) -> None:
    fleet = cast.fleet
    in_team = await add_host(fleet, "in-team", team_id=cast.team_one)
    no_team = await add_host(fleet, "no-team")
    for role in ("observer", "team_observer"):
        assert_error(await fleet.client.post(f"{V1}/hosts/{in_team}/device_token", headers=cast[role].headers), 403)
    await issue(fleet, in_team, cast["team_maintainer"].headers)
    await issue(fleet, no_team, cast["maintainer"].headers)
    assert_error(await fleet.client.post(f"{V1}/hosts/{no_team}/device_token",
                                         headers=cast["team_admin"].headers), 403)
    assert_error(await fleet.client.post(f"{V1}/hosts/999/device_token", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.post(f"{V1}/hosts/{in_team}/device_token"), 401)
    assert (await fleet.client.get(GLOBAL, headers=cast["team_observer"].headers)).status_code == 200
