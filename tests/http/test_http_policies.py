"""Global and team policies: list, get, add (also from a saved query), edit and bulk delete, with
the shapes of Fleet's examples, counts, validation, activities, team scoping and who may do what;
and how policies show on hosts (issues, the host's policies list, the policy filter)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import assert_error, assert_timestamp
from tests.http.test_http_hosts import add_host

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
GLOBAL = f"{V1}/global/policies"
POLICY_KEYS = {"id", "name", "query", "description", "critical", "author_id", "author_name", "author_email",
               "team_id", "resolution", "platform", "created_at", "updated_at", "passing_host_count",
               "failing_host_count"}
GATEKEEPER = {"name": "Gatekeeper enabled", "query": "SELECT 1 FROM gatekeeper WHERE assessments_enabled = 1;",
              "description": "Checks if gatekeeper is enabled on macOS devices", "resolution": "Resolution steps",
              "platform": "darwin"}


def team_url(team_id: int) -> str:
    return f"{V1}/teams/{team_id}/policies"


async def add(fleet: Fleet, url: str = GLOBAL, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    response = await fleet.client.post(url, json={**GATEKEEPER, **body}, headers=headers or fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["policy"])


async def activities(fleet: Fleet, type_: str) -> list[dict[str, Any]]:
    response = await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["activities"] if a["type"] == type_]


async def answer(fleet: Fleet, host_id: int, results: dict[int, bool | None]) -> None:
    async with fleet.kit.store.unit_of_work() as uow:
        await uow.policies.record_results(host_id, results, fleet.clock.now())
        await uow.commit()


# ---- add, get, list ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [GLOBAL, "/api/latest/fleet/policies"])
async def test_add_policy_answers_with_fleets_shape_and_records_it(fleet: Fleet, url: str) -> None:
    response = await fleet.client.post(url, json=GATEKEEPER, headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    policy = response.json()["policy"]
    assert set(policy) == POLICY_KEYS
    assert {k: policy[k] for k in GATEKEEPER} == GATEKEEPER
    assert (policy["team_id"], policy["critical"], policy["passing_host_count"], policy["failing_host_count"]) == (
        None, False, 0, 0)
    assert fleet.admin is not None
    assert (policy["author_id"], policy["author_name"], policy["author_email"]) == (
        fleet.admin.id, "Ada Admin", fleet.admin.email)
    assert_timestamp(policy["created_at"])
    [activity] = await activities(fleet, "created_policy")
    assert activity["details"] == {"policy_id": policy["id"], "policy_name": "Gatekeeper enabled"}

    got = await fleet.client.get(f"{GLOBAL}/{policy['id']}", headers=fleet.as_admin)
    assert got.status_code == 200
    assert got.json()["policy"] == policy
    listed = await fleet.client.get(GLOBAL, headers=fleet.as_admin)
    assert listed.json() == {"policies": [policy]}


async def test_the_legacy_form_copies_a_saved_query(fleet: Fleet) -> None:
    saved = await fleet.client.post(f"{V1}/queries", json={
        "name": "FileVault", "query": "SELECT 1 FROM disk_encryption;", "description": "disk"}, headers=fleet.as_admin)
    query_id = saved.json()["query"]["id"]

    policy = await fleet.client.post(GLOBAL, json={"query_id": query_id, "resolution": "encrypt"},
                                     headers=fleet.as_admin)

    assert policy.status_code == 200, policy.text
    body = policy.json()["policy"]
    assert (body["name"], body["query"], body["description"], body["resolution"]) == (
        "FileVault", "SELECT 1 FROM disk_encryption;", "disk", "encrypt")
    assert_error(await fleet.client.post(GLOBAL, json={"query_id": query_id, "query": "SELECT 1"},
                                         headers=fleet.as_admin), 422, "query")
    assert_error(await fleet.client.post(GLOBAL, json={"query_id": 999}, headers=fleet.as_admin), 404)


@pytest.mark.parametrize(("body", "field"), [
    ({"query": "SELECT 1"}, "name"),
    ({"name": "x"}, "query"),
    ({"name": " ", "query": "SELECT 1"}, "name"),
    ({"name": "x", "query": "  "}, "query"),
    ({"name": "x", "query": "SELECT 1", "platform": "darwin,beos"}, "platform"),
    ({"name": "x" * 256, "query": "SELECT 1"}, "name"),
])
async def test_invalid_policies_are_422_naming_the_field(fleet: Fleet, body: dict[str, Any], field: str) -> None:
    assert_error(await fleet.client.post(GLOBAL, json=body, headers=fleet.as_admin), 422, field)
    assert (await fleet.client.get(GLOBAL, headers=fleet.as_admin)).json() == {"policies": []}


async def test_wrong_json_types_are_400_and_names_are_unique(fleet: Fleet) -> None:
    assert_error(await fleet.client.post(GLOBAL, json={**GATEKEEPER, "critical": "yes"}, headers=fleet.as_admin),
                 400, "critical")
    await add(fleet)
    team = await fleet.add_team("blue")
    # Names are unique across global and team policies.
    assert_error(await fleet.client.post(team_url(team), json=GATEKEEPER, headers=fleet.as_admin), 409)


async def test_unknown_ids_and_teams_are_404(fleet: Fleet) -> None:
    h = fleet.as_admin
    team = await fleet.add_team("blue")
    team_policy = await add(fleet, team_url(team))
    assert_error(await fleet.client.get(f"{GLOBAL}/999", headers=h), 404)
    # A team policy is not reachable as a global one, nor through another team.
    assert_error(await fleet.client.get(f"{GLOBAL}/{team_policy['id']}", headers=h), 404)
    other = await fleet.add_team("red")
    assert_error(await fleet.client.get(f"{team_url(other)}/{team_policy['id']}", headers=h), 404)
    assert_error(await fleet.client.get(team_url(999), headers=h), 404)
    assert_error(await fleet.client.post(team_url(999), json=GATEKEEPER, headers=h), 404)
    assert_error(await fleet.client.patch(f"{GLOBAL}/999", json={"name": "x"}, headers=h), 404)
    assert_error(await fleet.client.post(f"{GLOBAL}/delete", json={"ids": [999]}, headers=h), 404)


# ---- edit and delete ----------------------------------------------------------------------------

async def test_edit_changes_only_the_given_fields_and_a_new_query_resets_answers(fleet: Fleet) -> None:
    policy = await add(fleet, platform="")
    host = await add_host(fleet, "one")
    await answer(fleet, host, {policy["id"]: False})

    renamed = await fleet.client.patch(f"{GLOBAL}/{policy['id']}", json={"name": "Renamed", "critical": True},
                                       headers=fleet.as_admin)
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()["policy"]
    assert (body["name"], body["critical"], body["query"], body["failing_host_count"]) == (
        "Renamed", True, GATEKEEPER["query"], 1)

    requery = await fleet.client.patch(f"{GLOBAL}/{policy['id']}", json={"query": "SELECT 2;"},
                                       headers=fleet.as_admin)
    assert requery.json()["policy"]["failing_host_count"] == 0
    assert [a["details"] for a in await activities(fleet, "edited_policy")] == [
        {"policy_id": policy["id"], "policy_name": "Renamed"}] * 2
    assert_error(await fleet.client.patch(f"{GLOBAL}/{policy['id']}", json={"platform": "plan9"},
                                          headers=fleet.as_admin), 422, "platform")


async def test_bulk_delete_is_all_or_nothing(fleet: Fleet) -> None:
    first = await add(fleet, name="first")
    second = await add(fleet, name="second")
    team = await fleet.add_team("blue")
    of_team = await add(fleet, team_url(team), name="team one")

    assert_error(await fleet.client.post(f"{GLOBAL}/delete", json={"ids": [first["id"], 999]},
                                         headers=fleet.as_admin), 404)
    # Team policies are deleted through their team's route only.
    assert_error(await fleet.client.post(f"{GLOBAL}/delete", json={"ids": [of_team["id"]]},
                                         headers=fleet.as_admin), 403)
    assert_error(await fleet.client.post(f"{GLOBAL}/delete", json={}, headers=fleet.as_admin), 422, "ids")
    assert_error(await fleet.client.post(f"{GLOBAL}/delete", json={"ids": []}, headers=fleet.as_admin), 422, "ids")

    response = await fleet.client.post(f"{GLOBAL}/delete", json={"ids": [first["id"], second["id"]]},
                                       headers=fleet.as_admin)
    assert response.json() == {"deleted": 2}
    assert (await fleet.client.get(GLOBAL, headers=fleet.as_admin)).json() == {"policies": []}
    assert sorted(a["details"]["policy_name"] for a in await activities(fleet, "deleted_policy")) == [
        "first", "second"]
    team_delete = await fleet.client.post(f"{team_url(team)}/delete", json={"ids": [of_team["id"]]},
                                          headers=fleet.as_admin)
    assert team_delete.json() == {"deleted": 1}


# ---- who may do what -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "maintainer", "observer", "team_admin", "team_maintainer",
                                  "team_observer"])
async def test_every_role_reads_global_policies(cast: Cast, role: str) -> None:
    policy = await add(cast.fleet)
    headers = cast[role].headers
    assert (await cast.fleet.client.get(GLOBAL, headers=headers)).json()["policies"][0]["id"] == policy["id"]
    assert (await cast.fleet.client.get(f"{GLOBAL}/{policy['id']}", headers=headers)).status_code == 200


@pytest.mark.parametrize("role", ["observer", "team_admin", "team_maintainer", "team_observer"])
async def test_only_global_writers_write_global_policies(cast: Cast, role: str) -> None:
    policy = await add(cast.fleet)
    headers = cast[role].headers
    assert_error(await cast.fleet.client.post(GLOBAL, json={**GATEKEEPER, "name": "x"}, headers=headers), 403)
    assert_error(await cast.fleet.client.patch(f"{GLOBAL}/{policy['id']}", json={"name": "y"}, headers=headers), 403)
    assert_error(await cast.fleet.client.post(f"{GLOBAL}/delete", json={"ids": [policy["id"]]}, headers=headers),
                 403)


@pytest.mark.parametrize("role", ["admin", "maintainer", "team_admin", "team_maintainer"])
async def test_team_policies_are_managed_by_global_and_team_writers(cast: Cast, role: str) -> None:
    url = team_url(cast.team_one)
    created = await add(cast.fleet, url, headers=cast[role].headers)
    assert created["team_id"] == cast.team_one
    edited = await cast.fleet.client.patch(f"{url}/{created['id']}", json={"resolution": "fix"},
                                           headers=cast[role].headers)
    assert edited.json()["policy"]["resolution"] == "fix"
    deleted = await cast.fleet.client.post(f"{url}/delete", json={"ids": [created["id"]]},
                                           headers=cast[role].headers)
    assert deleted.json() == {"deleted": 1}


async def test_team_users_stay_in_their_team(cast: Cast) -> None:
    other = team_url(cast.team_two)
    policy = await add(cast.fleet, other)
    for role in ("team_admin", "team_maintainer", "team_observer"):
        headers = cast[role].headers
        assert_error(await cast.fleet.client.get(other, headers=headers), 403)
        assert_error(await cast.fleet.client.get(f"{other}/{policy['id']}", headers=headers), 403)
        assert_error(await cast.fleet.client.post(other, json={**GATEKEEPER, "name": role}, headers=headers), 403)
    observer = cast["team_observer"].headers
    assert (await cast.fleet.client.get(team_url(cast.team_one), headers=observer)).json() == {"policies": []}
    assert_error(await cast.fleet.client.post(team_url(cast.team_one), json=GATEKEEPER, headers=observer), 403)
    assert_error(await cast.fleet.client.get(GLOBAL), 401)


# ---- counts and hosts ----------------------------------------------------------------------------

async def test_counts_issues_and_the_hosts_policy_list_follow_the_answers(fleet: Fleet) -> None:
    team = await fleet.add_team("blue")
    everywhere = await add(fleet, name="everywhere", platform="")
    mac_only = await add(fleet, name="mac only", platform="darwin")
    of_team = await add(fleet, team_url(team), name="team linux", platform="linux")
    passing = await add_host(fleet, "passing", team_id=team)
    failing = await add_host(fleet, "failing", team_id=team)
    await answer(fleet, passing, {everywhere["id"]: True, of_team["id"]: True})
    await answer(fleet, failing, {everywhere["id"]: False, of_team["id"]: None})

    listed = {p["name"]: p for p in (await fleet.client.get(GLOBAL, headers=fleet.as_admin)).json()["policies"]}
    assert (listed["everywhere"]["passing_host_count"], listed["everywhere"]["failing_host_count"]) == (1, 1)
    team_listed = (await fleet.client.get(team_url(team), headers=fleet.as_admin)).json()["policies"]
    assert [(p["passing_host_count"], p["failing_host_count"]) for p in team_listed] == [(1, 0)]

    hosts = {h["id"]: h for h in (await fleet.client.get(f"{V1}/hosts", headers=fleet.as_admin)).json()["hosts"]}
    assert hosts[failing]["issues"] == {"failing_policies_count": 1, "total_issues_count": 1}
    assert hosts[passing]["issues"] == {"failing_policies_count": 0, "total_issues_count": 0}
    no_counts = await fleet.client.get(f"{V1}/hosts", params={"disable_failing_policies": "true"},
                                       headers=fleet.as_admin)
    assert all(h["issues"]["failing_policies_count"] == 0 for h in no_counts.json()["hosts"])

    detail = (await fleet.client.get(f"{V1}/hosts/{failing}", headers=fleet.as_admin)).json()["host"]
    # An ubuntu host in the team: the global policy for every platform and the team's linux one.
    assert [(p["name"], p["response"]) for p in detail["policies"]] == [("everywhere", "fail"), ("team linux", "")]
    assert detail["issues"] == {"failing_policies_count": 1, "total_issues_count": 1}
    assert mac_only["id"] not in {p["id"] for p in detail["policies"]}

    filtered = await fleet.client.get(f"{V1}/hosts", params={"policy_id": everywhere["id"],
                                                             "policy_response": "failing"}, headers=fleet.as_admin)
    assert [h["id"] for h in filtered.json()["hosts"]] == [failing]


async def test_moving_a_host_to_another_team_drops_its_answers(fleet: Fleet) -> None:
    team = await fleet.add_team("blue")
    of_team = await add(fleet, team_url(team), name="team", platform="")
    host = await add_host(fleet, "one", team_id=team)
    await answer(fleet, host, {of_team["id"]: False})

    moved = await fleet.client.post(f"{V1}/hosts/transfer", json={"team_id": None, "hosts": [host]},
                                    headers=fleet.as_admin)
    assert moved.status_code == 200, moved.text

    got = (await fleet.client.get(f"{team_url(team)}/{of_team['id']}", headers=fleet.as_admin)).json()["policy"]
    assert got["failing_host_count"] == 0
    detail = (await fleet.client.get(f"{V1}/hosts/{host}", headers=fleet.as_admin)).json()["host"]
    assert detail["policies"] == []
    assert detail["issues"]["failing_policies_count"] == 0
