"""Global enroll secrets (GET/POST /spec/enroll_secret) and team secrets (GET/PATCH /teams/{id}/secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import assert_error, assert_timestamp

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
GLOBAL = f"{V1}/spec/enroll_secret"


def spec(*secrets: str) -> dict[str, Any]:
    return {"spec": {"secrets": [{"secret": s} for s in secrets]}}


async def global_secrets(fleet: Fleet) -> list[dict[str, Any]]:
    response = await fleet.client.get(GLOBAL, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return list(response.json()["spec"]["secrets"])


async def test_global_secrets_start_empty_and_are_replaced_whole(fleet: Fleet) -> None:
    assert await global_secrets(fleet) == []
    response = await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=spec("first-secret", "second-secret"))
    assert response.status_code == 200, response.text
    assert response.json() == {}
    secrets = await global_secrets(fleet)
    assert sorted(s["secret"] for s in secrets) == ["first-secret", "second-secret"]
    for secret in secrets:
        # The documented shape has no team_id for global secrets.
        assert set(secret) == {"secret", "created_at"}
        assert_timestamp(secret["created_at"])
    await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=spec("second-secret", "third-secret"))
    assert sorted(s["secret"] for s in await global_secrets(fleet)) == ["second-secret", "third-secret"]


async def test_an_empty_list_deletes_every_global_secret(fleet: Fleet) -> None:
    await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=spec("first-secret"))
    response = await fleet.client.post(GLOBAL, headers=fleet.as_admin, json={"spec": {"secrets": []}})
    assert response.status_code == 200
    assert await global_secrets(fleet) == []


async def test_a_dry_run_checks_but_keeps_nothing(fleet: Fleet) -> None:
    await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=spec("kept"))
    response = await fleet.client.post(GLOBAL, headers=fleet.as_admin, json={**spec("dropped"), "dry_run": True})
    assert response.status_code == 200
    assert [s["secret"] for s in await global_secrets(fleet)] == ["kept"]
    bad = await fleet.client.post(GLOBAL, headers=fleet.as_admin, json={**spec("", "x"), "dry_run": True})
    assert_error(bad, 422)
    # As a query parameter, like the other spec endpoints take it.
    response = await fleet.client.post(GLOBAL, headers=fleet.as_admin, params={"dry_run": "true"},
                                       json=spec("dropped"))
    assert response.status_code == 200
    assert [s["secret"] for s in await global_secrets(fleet)] == ["kept"]


async def test_replacing_global_secrets_is_an_activity(fleet: Fleet) -> None:
    await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=spec("first-secret"))
    activities = (await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)).json()["activities"]
    assert "edited_enroll_secrets" in [a["type"] for a in activities]
    assert "first-secret" not in str(activities)


async def test_applying_global_secrets_without_a_spec_is_422_naming_it(fleet: Fleet) -> None:
    assert_error(await fleet.client.post(GLOBAL, headers=fleet.as_admin, json={}), 422, "spec")


@pytest.mark.parametrize(("body", "name"), [
    (spec(""), "secret"),
    (spec("same", "same"), "secrets"),
    (spec("x" * 256), "secret"),
    (spec(*(f"secret-{i}" for i in range(51))), "secrets"),
])
async def test_invalid_global_secrets_are_422(fleet: Fleet, body: dict[str, Any], name: str) -> None:
    assert_error(await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=body), 422, name)
    assert await global_secrets(fleet) == []


@pytest.mark.parametrize("body", [
    {"spec": []},
    {"spec": {"secrets": "abc"}},
    {"spec": {"secrets": [{"secret": 5}]}},
    {"spec": {"secrets": ["abc"]}},
    {"spec": {"secrets": [{"secret": "abc"}]}, "dry_run": "yes"},
])
async def test_global_secrets_with_wrong_types_are_400(fleet: Fleet, body: dict[str, Any]) -> None:
    assert_error(await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=body), 400)


async def test_team_secrets_are_replaced_and_listed_with_the_team_id(cast: Cast) -> None:
    fleet, url = cast.fleet, f"{V1}/teams/{cast.team_one}/secrets"
    empty = await fleet.client.get(url, headers=fleet.as_admin)
    assert empty.status_code == 200
    assert empty.json()["secrets"] in ([], None)
    response = await fleet.client.patch(url, headers=fleet.as_admin,
                                        json={"secrets": [{"secret": "n07v32y53c237734m3n201153c237"}]})
    assert response.status_code == 200, response.text
    secrets = response.json()["secrets"]
    assert [s["secret"] for s in secrets] == ["n07v32y53c237734m3n201153c237"]
    assert_timestamp(secrets[0]["created_at"])
    listed = (await fleet.client.get(url, headers=fleet.as_admin)).json()["secrets"]
    assert [(s["secret"], s["team_id"]) for s in listed] == [("n07v32y53c237734m3n201153c237", cast.team_one)]
    # Other teams and the global list are untouched.
    other = (await fleet.client.get(f"{V1}/teams/{cast.team_two}/secrets", headers=fleet.as_admin)).json()
    assert other["secrets"] in ([], None)
    assert await global_secrets(fleet) == []


async def test_an_empty_list_deletes_a_teams_secrets_and_answers_null(cast: Cast) -> None:
    fleet, url = cast.fleet, f"{V1}/teams/{cast.team_one}/secrets"
    await fleet.client.patch(url, headers=fleet.as_admin, json={"secrets": [{"secret": "abc"}]})
    response = await fleet.client.patch(url, headers=fleet.as_admin, json={"secrets": []})
    assert response.status_code == 200
    assert response.json() == {"secrets": None}


async def test_a_team_admin_manages_their_own_teams_secrets(cast: Cast) -> None:
    fleet, url = cast.fleet, f"{V1}/teams/{cast.team_one}/secrets"
    response = await fleet.client.patch(url, headers=cast["team_admin"].headers, json={"secrets": [{"secret": "t1"}]})
    assert response.status_code == 200, response.text
    listed = await fleet.client.get(url, headers=cast["team_maintainer"].headers)
    assert [s["secret"] for s in listed.json()["secrets"]] == ["t1"]


async def test_a_secret_in_use_elsewhere_is_409(cast: Cast) -> None:
    fleet = cast.fleet
    await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=spec("shared"))
    response = await fleet.client.patch(f"{V1}/teams/{cast.team_one}/secrets", headers=fleet.as_admin,
                                        json={"secrets": [{"secret": "shared"}]})
    assert_error(response, 409, "base")
    await fleet.client.patch(f"{V1}/teams/{cast.team_one}/secrets", headers=fleet.as_admin,
                             json={"secrets": [{"secret": "team-only"}]})
    assert_error(await fleet.client.post(GLOBAL, headers=fleet.as_admin, json=spec("team-only")), 409, "base")


async def test_team_secrets_without_the_secrets_field_are_422_naming_it(cast: Cast) -> None:
    response = await cast.fleet.client.patch(f"{V1}/teams/{cast.team_one}/secrets", headers=cast.fleet.as_admin,
                                             json={})
    assert_error(response, 422, "secrets")


@pytest.mark.parametrize("body", [{"secrets": {"secret": "a"}}, {"secrets": [{"secret": None}]}, {"secrets": [1]}])
async def test_team_secrets_with_wrong_types_are_400(cast: Cast, body: dict[str, Any]) -> None:
    response = await cast.fleet.client.patch(f"{V1}/teams/{cast.team_one}/secrets", headers=cast.fleet.as_admin,
                                             json=body)
    assert_error(response, 400)


async def test_secrets_of_an_unknown_team_are_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(f"{V1}/teams/4242/secrets", headers=fleet.as_admin), 404, "base")
    response = await fleet.client.patch(f"{V1}/teams/4242/secrets", headers=fleet.as_admin,
                                        json={"secrets": [{"secret": "abc"}]})
    body = assert_error(response, 404, "base")
    assert body["errors"][0]["reason"] == "Team with id=4242 was not found in the datastore"
