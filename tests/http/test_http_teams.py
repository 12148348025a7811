"""Teams: list, get, create, modify (name, agent options, members, hosts) and delete, with the
shapes of Fleet's examples, validation, and who may do what."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import assert_error, assert_timestamp
from tests.http.test_http_hosts import add_host

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

PREFIXES = ("/api/v1/fleet", "/api/latest/fleet")
TEAMS = "/api/v1/fleet/teams"
TEAM_KEYS = {"id", "created_at", "name", "description", "agent_options", "user_count", "host_count",
             "webhook_settings", "integrations"}
AGENT_OPTIONS = {
    "config": {"options": {"logger_tls_period": 20, "distributed_interval": 60}, "decorators": {"load": []}},
    "overrides": {},
}


async def activities(fleet: Fleet, type_: str) -> list[dict[str, Any]]:
    response = await fleet.client.get("/api/v1/fleet/activities", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["activities"] if a["type"] == type_]


async def create(fleet: Fleet, name: str, **extra: Any) -> dict[str, Any]:
    response = await fleet.client.post(TEAMS, json={"name": name, **extra}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["team"])


async def get_team(fleet: Fleet, team_id: int) -> dict[str, Any]:
    response = await fleet.client.get(f"{TEAMS}/{team_id}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["team"])


# ---- create -------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_create_team_answers_with_the_new_team_and_records_it(fleet: Fleet, prefix: str) -> None:
    response = await fleet.client.post(f"{prefix}/teams", json={"name": "workstations"}, headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    body = response.json()
    team = body["team"]
    assert body["teams"] == [team]
    assert set(team) == TEAM_KEYS | {"user_ids", "host_ids", "secrets"}
    assert (team["name"], team["description"], team["user_ids"], team["host_ids"]) == ("workstations", "", [], [])
    assert (team["user_count"], team["host_count"], team["secrets"]) == (0, 0, [])
    assert_timestamp(team["created_at"])
    # A new team follows the global agent options until it is given its own.
    config = (await fleet.client.get(f"{prefix}/config", headers=fleet.as_admin)).json()
    assert team["agent_options"] == config["agent_options"]
    assert team["webhook_settings"] == {"failing_policies_webhook": {
        "enable_failing_policies_webhook": False, "destination_url": "", "policy_ids": None, "host_batch_size": 0}}
    assert team["integrations"] == {"jira": None, "zendesk": None}
    assert [a["details"] for a in await activities(fleet, "created_team")] == [
        {"team_id": team["id"], "team_name": "workstations"}]


async def test_a_taken_team_name_is_409_whatever_its_case(fleet: Fleet) -> None:
    await create(fleet, "Servers")
    response = await fleet.client.post(TEAMS, json={"name": "SERVERS"}, headers=fleet.as_admin)
    assert_error(response, 409)


@pytest.mark.parametrize(("body", "status", "names"), [
    ({}, 422, ["name"]),
    ({"name": ""}, 422, ["name"]),
    ({"name": "   "}, 422, ["name"]),
    ({"name": "x" * 256}, 422, ["name"]),
    ({"name": 5}, 400, ["name"]),
    ({"name": "ok", "description": ["no"]}, 400, ["description"]),
])
async def test_create_team_validation(fleet: Fleet, body: dict[str, Any], status: int, names: list[str]) -> None:
    response = await fleet.client.post(TEAMS, json=body, headers=fleet.as_admin)
    assert_error(response, status, *names)


async def test_create_team_with_a_body_that_is_not_json_is_400(fleet: Fleet) -> None:
    response = await fleet.client.post(TEAMS, content=b"{nope", headers={**fleet.as_admin,
                                                                        "Content-Type": "application/json"})
    assert_error(response, 400)


@pytest.mark.parametrize("role", ["maintainer", "observer", "team_admin", "team_maintainer", "team_observer"])
async def test_only_global_admins_create_teams(cast: Cast, role: str) -> None:
    response = await cast.fleet.client.post(TEAMS, json={"name": "Mine"}, headers=cast[role].headers)
    assert_error(response, 403)


async def test_team_endpoints_need_a_token(fleet: Fleet) -> None:
    team_id = (await create(fleet, "Locked"))["id"]
    client = fleet.client
    for response in (
        await client.get(TEAMS),
        await client.get(f"{TEAMS}/{team_id}"),
        await client.post(TEAMS, json={"name": "x"}),
        await client.patch(f"{TEAMS}/{team_id}", json={"name": "y"}),
        await client.delete(f"{TEAMS}/{team_id}"),
    ):
        assert_error(response, 401)


# ---- list ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_list_teams_counts_users_and_hosts(cast: Cast, prefix: str) -> None:
    fleet = cast.fleet
    await add_host(fleet, "one-a", team_id=cast.team_one)
    await add_host(fleet, "one-b", team_id=cast.team_one)
    await add_host(fleet, "none")

    response = await fleet.client.get(f"{prefix}/teams", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    teams = response.json()["teams"]
    assert [t["name"] for t in teams] == ["Team One", "Team Two"]
    assert set(teams[0]) == TEAM_KEYS | {"secrets"}
    assert [(t["user_count"], t["host_count"]) for t in teams] == [(3, 2), (0, 0)]


async def test_list_teams_searches_orders_and_pages(fleet: Fleet) -> None:
    for name in ("beta", "Alpha", "alphabet"):
        await create(fleet, name)

    async def names(**params: Any) -> list[str]:
        response = await fleet.client.get(TEAMS, params=params, headers=fleet.as_admin)
        assert response.status_code == 200, response.text
        return [t["name"] for t in response.json()["teams"]]

    assert await names() == ["beta", "Alpha", "alphabet"]
    assert await names(order_key="name") == ["Alpha", "alphabet", "beta"]
    assert await names(order_key="name", order_direction="desc") == ["beta", "alphabet", "Alpha"]
    assert await names(query="ALPH") == ["Alpha", "alphabet"]
    assert await names(per_page=2, page=1) == ["alphabet"]


@pytest.mark.parametrize(("params", "name"), [
    ({"order_key": "secret"}, "order_key"),
    ({"order_direction": "up", "order_key": "name"}, "order_direction"),
    ({"order_direction": "desc"}, "order_direction"),
    ({"per_page": 0}, "per_page"),
    ({"page": -1}, "page"),
])
async def test_list_teams_validation(fleet: Fleet, params: dict[str, Any], name: str) -> None:
    response = await fleet.client.get(TEAMS, params=params, headers=fleet.as_admin)
    assert_error(response, 422, name)


async def test_list_teams_with_a_non_numeric_page_is_400(fleet: Fleet) -> None:
    response = await fleet.client.get(TEAMS, params={"page": "two"}, headers=fleet.as_admin)
    assert_error(response, 400)


@pytest.mark.parametrize(("role", "expected", "shows_secrets"), [
    ("maintainer", ["Team One", "Team Two"], True),
    ("observer", ["Team One", "Team Two"], False),
    ("team_admin", ["Team One"], True),
    ("team_observer", ["Team One"], False),
])
async def test_team_users_list_only_their_teams_and_see_secrets_only_as_writers(
    cast: Cast, role: str, expected: list[str], shows_secrets: bool
) -> None:
    response = await cast.fleet.client.get(TEAMS, headers=cast[role].headers)
    assert response.status_code == 200, response.text
    teams = response.json()["teams"]
    assert [t["name"] for t in teams] == expected
    assert all(("secrets" in t) is shows_secrets for t in teams)


# ---- get ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_get_team_shows_members_and_hosts(cast: Cast, prefix: str) -> None:
    fleet = cast.fleet
    host_id = await add_host(fleet, "member-host", team_id=cast.team_one)

    response = await fleet.client.get(f"{prefix}/teams/{cast.team_one}", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    team = response.json()["team"]
    assert set(team) == TEAM_KEYS | {"user_ids", "host_ids", "secrets"}
    members = sorted(cast[r].id for r in ("team_admin", "team_maintainer", "team_observer"))
    assert (team["user_ids"], team["host_ids"]) == (members, [host_id])
    assert (team["user_count"], team["host_count"]) == (3, 1)


async def test_get_unknown_team_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(f"{TEAMS}/999", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get(f"{TEAMS}/abc", headers=fleet.as_admin), 404)


@pytest.mark.parametrize(("role", "team", "status"), [
    ("observer", "team_two", 200),
    ("team_observer", "team_one", 200),
    ("team_observer", "team_two", 403),
    ("team_admin", "team_two", 403),
])
async def test_who_may_read_a_team(cast: Cast, role: str, team: str, status: int) -> None:
    team_id = getattr(cast, team)
    response = await cast.fleet.client.get(f"{TEAMS}/{team_id}", headers=cast[role].headers)
    if status == 200:
        assert response.status_code == 200, response.text
        assert response.json()["team"]["id"] == team_id
    else:
        assert_error(response, status)


# ---- modify -------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_modify_team_renames_and_redescribes(fleet: Fleet, prefix: str) -> None:
    team_id = (await create(fleet, "Old"))["id"]
    response = await fleet.client.patch(f"{prefix}/teams/{team_id}", headers=fleet.as_admin,
                                        json={"name": "New", "description": "renamed"})
    assert response.status_code == 200, response.text
    team = response.json()["team"]
    assert (team["id"], team["name"], team["description"]) == (team_id, "New", "renamed")
    assert (await get_team(fleet, team_id))["name"] == "New"


async def test_renaming_onto_a_taken_name_is_409(fleet: Fleet) -> None:
    await create(fleet, "Taken")
    team_id = (await create(fleet, "Free"))["id"]
    response = await fleet.client.patch(f"{TEAMS}/{team_id}", json={"name": "taken"}, headers=fleet.as_admin)
    assert_error(response, 409)


async def test_team_agent_options_are_stored_recorded_and_announced(fleet: Fleet) -> None:
    team_id = (await create(fleet, "Workstations"))["id"]
    announced: list[bool] = []
    fleet.kit.services.bus.subscribe_config(lambda: announced.append(True))

    # Fleet's docs wrap the options in "spec"; they are stored unwrapped.
    response = await fleet.client.patch(f"{TEAMS}/{team_id}", json={"agent_options": {"spec": AGENT_OPTIONS}},
                                        headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    assert response.json()["team"]["agent_options"] == AGENT_OPTIONS
    assert (await get_team(fleet, team_id))["agent_options"] == AGENT_OPTIONS
    assert announced == [True]
    assert [a["details"] for a in await activities(fleet, "edited_agent_options")] == [
        {"global": False, "team_id": team_id, "team_name": "Workstations"}]

    # The same options again change nothing, so nothing is recorded.
    response = await fleet.client.patch(f"{TEAMS}/{team_id}", json={"agent_options": AGENT_OPTIONS},
                                        headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert len(await activities(fleet, "edited_agent_options")) == 1

    # null hands the team back to the global options.
    response = await fleet.client.patch(f"{TEAMS}/{team_id}", json={"agent_options": None}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    config = (await fleet.client.get("/api/v1/fleet/config", headers=fleet.as_admin)).json()
    assert response.json()["team"]["agent_options"] == config["agent_options"]


async def test_user_ids_make_the_team_membership(cast: Cast) -> None:
    fleet = cast.fleet
    newcomer = await fleet.create_user(teams=[{"id": cast.team_two, "role": "maintainer"}], login=False)
    keep = cast["team_admin"].id

    response = await fleet.client.patch(f"{TEAMS}/{cast.team_one}", json={"user_ids": [keep, newcomer.id]},
                                        headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    team = response.json()["team"]
    assert (team["user_ids"], team["user_count"]) == (sorted([keep, newcomer.id]), 2)
    user = (await fleet.client.get(f"/api/v1/fleet/users/{newcomer.id}", headers=fleet.as_admin)).json()["user"]
    assert sorted((t["id"], t["role"]) for t in user["teams"]) == sorted(
        [(cast.team_one, "observer"), (cast.team_two, "maintainer")])
    dropped = (await fleet.client.get(f"/api/v1/fleet/users/{cast['team_observer'].id}",
                                      headers=fleet.as_admin)).json()["user"]
    assert dropped["teams"] == []
    kept = (await fleet.client.get(f"/api/v1/fleet/users/{keep}", headers=fleet.as_admin)).json()["user"]
    assert [(t["id"], t["role"]) for t in kept["teams"]] == [(cast.team_one, "admin")]


async def test_host_ids_transfer_hosts_to_the_team(cast: Cast) -> None:
    fleet = cast.fleet
    hosts = [await add_host(fleet, f"h{i}") for i in range(3)]
    invalidated: list[Sequence[int]] = []
    fleet.kit.services.bus.subscribe(invalidated.append)

    response = await fleet.client.patch(f"{TEAMS}/{cast.team_two}", json={"host_ids": hosts[:2]},
                                        headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    team = response.json()["team"]
    assert (team["host_ids"], team["host_count"]) == (hosts[:2], 2)
    assert [list(ids) for ids in invalidated] == [hosts[:2]]
    transferred = await activities(fleet, "transferred_hosts")
    assert transferred[0]["details"]["team_id"] == cast.team_two


@pytest.mark.parametrize(("body", "status", "names"), [
    ({"name": ""}, 422, ["name"]),
    ({"name": 3}, 400, ["name"]),
    ({"agent_options": {"bogus": {}}}, 422, ["agent_options"]),
    ({"agent_options": {"config": "text"}}, 422, ["agent_options.config"]),
    ({"agent_options": []}, 400, ["agent_options"]),
    ({"user_ids": [999]}, 422, ["user_ids"]),
    ({"user_ids": ["one"]}, 400, ["user_ids[0]"]),
    ({"host_ids": [999]}, 422, ["host_ids"]),
    ({"host_ids": None}, 400, ["host_ids"]),
])
async def test_modify_team_validation(cast: Cast, body: dict[str, Any], status: int, names: list[str]) -> None:
    response = await cast.fleet.client.patch(f"{TEAMS}/{cast.team_one}", json=body, headers=cast.fleet.as_admin)
    assert_error(response, status, *names)


async def test_a_user_with_a_global_role_cannot_join_a_team(cast: Cast) -> None:
    response = await cast.fleet.client.patch(f"{TEAMS}/{cast.team_one}", json={"user_ids": [cast["observer"].id]},
                                             headers=cast.fleet.as_admin)
    assert_error(response, 422, "user_ids")


async def test_modify_unknown_team_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.patch(f"{TEAMS}/999", json={"name": "x"}, headers=fleet.as_admin), 404)


@pytest.mark.parametrize(("role", "team", "status"), [
    ("team_admin", "team_one", 200),
    ("team_admin", "team_two", 403),
    ("team_maintainer", "team_one", 403),
    ("team_observer", "team_one", 403),
    ("maintainer", "team_one", 403),
    ("observer", "team_one", 403),
])
async def test_who_may_modify_a_team(cast: Cast, role: str, team: str, status: int) -> None:
    team_id = getattr(cast, team)
    response = await cast.fleet.client.patch(f"{TEAMS}/{team_id}", json={"description": "mine"},
                                             headers=cast[role].headers)
    if status == 200:
        assert response.status_code == 200, response.text
        assert response.json()["team"]["description"] == "mine"
    else:
        assert_error(response, status)


async def test_a_team_admin_may_not_pull_in_hosts_from_outside_the_team(cast: Cast) -> None:
    stray = await add_host(cast.fleet, "stray")
    response = await cast.fleet.client.patch(f"{TEAMS}/{cast.team_one}", json={"host_ids": [stray]},
                                             headers=cast["team_admin"].headers)
    assert_error(response, 403)


# ---- delete -------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_delete_team_frees_hosts_and_drops_secrets_and_roles(cast: Cast, prefix: str) -> None:
    fleet = cast.fleet
    host_id = await add_host(fleet, "orphan", team_id=cast.team_one)
    response = await fleet.client.patch(f"{TEAMS}/{cast.team_one}/secrets", json={"secrets": [{"secret": "s1"}]},
                                        headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    invalidated: list[Sequence[int]] = []
    fleet.kit.services.bus.subscribe(invalidated.append)

    response = await fleet.client.delete(f"{prefix}/teams/{cast.team_one}", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert_error(await fleet.client.get(f"{TEAMS}/{cast.team_one}", headers=fleet.as_admin), 404)
    host = (await fleet.client.get(f"/api/v1/fleet/hosts/{host_id}", headers=fleet.as_admin)).json()["host"]
    assert host["team_id"] is None
    assert [list(ids) for ids in invalidated] == [[host_id]]
    async with fleet.kit.store.unit_of_work() as uow:
        assert await uow.enroll_secrets.find("s1") is None
    user = (await fleet.client.get(f"/api/v1/fleet/users/{cast['team_admin'].id}",
                                   headers=fleet.as_admin)).json()["user"]
    assert user["teams"] == []
    assert [a["details"] for a in await activities(fleet, "deleted_team")] == [
        {"team_id": cast.team_one, "team_name": "Team One"}]


async def test_delete_unknown_team_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.delete(f"{TEAMS}/999", headers=fleet.as_admin), 404)


@pytest.mark.parametrize("role", ["maintainer", "observer", "team_admin", "team_maintainer", "team_observer"])
async def test_only_global_admins_delete_teams(cast: Cast, role: str) -> None:
    response = await cast.fleet.client.delete(f"{TEAMS}/{cast.team_one}", headers=cast[role].headers)
    assert_error(response, 403)
    assert (await get_team(cast.fleet, cast.team_one))["id"] == cast.team_one
