"""Saved queries: list, get, create, modify and delete (by name, by id, in bulk), with the shapes of
Fleet's examples, validation, activities, and who may do what."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import assert_error, assert_timestamp

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

PREFIXES = ("/api/v1/fleet", "/api/latest/fleet")
QUERIES = "/api/v1/fleet/queries"
QUERY_KEYS = {"created_at", "updated_at", "id", "team_id", "name", "description", "query", "interval", "platform",
              "min_osquery_version", "automations_enabled", "logging", "saved", "observer_can_run", "author_id",
              "author_name", "author_email", "packs"}
WRITERS = ("admin", "maintainer")
READ_ONLY = ("observer", "team_admin", "team_maintainer", "team_observer")


async def activities(fleet: Fleet, type_: str) -> list[dict[str, Any]]:
    response = await fleet.client.get("/api/v1/fleet/activities", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["activities"] if a["type"] == type_]


async def create(fleet: Fleet, name: str, headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "query": "SELECT * FROM osquery_info", **extra}
    response = await fleet.client.post(QUERIES, json=body, headers=headers or fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["query"])


async def names(fleet: Fleet, params: dict[str, Any] | None = None) -> list[str]:
    response = await fleet.client.get(QUERIES, params=params or {}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [q["name"] for q in response.json()["queries"]]


# ---- create -------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_create_query_answers_with_the_saved_query_and_records_it(fleet: Fleet, prefix: str) -> None:
    response = await fleet.client.post(f"{prefix}/queries", json={
        "description": "This is a new query.", "name": "new_query", "query": "SELECT * FROM osquery_info",
    }, headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    query = response.json()["query"]
    assert set(query) == QUERY_KEYS
    assert (query["name"], query["description"], query["query"]) == (
        "new_query", "This is a new query.", "SELECT * FROM osquery_info")
    assert (query["saved"], query["observer_can_run"], query["packs"], query["team_id"]) == (True, False, [], None)
    assert (query["interval"], query["platform"], query["min_osquery_version"]) == (0, "", "")
    assert (query["automations_enabled"], query["logging"]) == (False, "snapshot")
    assert fleet.admin is not None
    assert (query["author_id"], query["author_name"], query["author_email"]) == (
        fleet.admin.id, "Ada Admin", fleet.admin.email)
    assert_timestamp(query["created_at"])
    assert_timestamp(query["updated_at"])
    assert [a["details"] for a in await activities(fleet, "created_saved_query")] == [
        {"query_id": query["id"], "query_name": "new_query"}]


async def test_create_query_takes_every_field(fleet: Fleet) -> None:
    query = await create(fleet, "everything", description="d", observer_can_run=True, interval=60,
                         platform="darwin,linux", min_osquery_version="5.2.0", automations_enabled=True,
                         logging="differential_ignore_removals")

    assert (query["observer_can_run"], query["interval"], query["platform"]) == (True, 60, "darwin,linux")
    assert (query["min_osquery_version"], query["automations_enabled"]) == ("5.2.0", True)
    assert query["logging"] == "differential_ignore_removals"


async def test_a_taken_name_is_409_but_teams_have_their_own_names(cast: Cast) -> None:
    fleet = cast.fleet
    await create(fleet, "dup")
    response = await fleet.client.post(QUERIES, json={"name": "dup", "query": "SELECT 1"}, headers=fleet.as_admin)
    assert_error(response, 409)

    team_query = await create(fleet, "dup", team_id=cast.team_one)
    assert team_query["team_id"] == cast.team_one
    response = await fleet.client.post(QUERIES, json={"name": "dup", "query": "SELECT 1", "team_id": cast.team_one},
                                       headers=fleet.as_admin)
    assert_error(response, 409)


@pytest.mark.parametrize(("body", "status", "error_names"), [
    ({"query": "SELECT 1"}, 422, ["name"]),
    ({"name": "x"}, 422, ["query"]),
    ({}, 422, ["name", "query"]),
    ({"name": "  ", "query": "SELECT 1"}, 422, ["name"]),
    ({"name": "x", "query": "  "}, 422, ["query"]),
    ({"name": "x" * 256, "query": "SELECT 1"}, 422, ["name"]),
    ({"name": "x", "query": "SELECT 1", "logging": "sometimes"}, 422, ["logging"]),
    ({"name": "x", "query": "SELECT 1", "platform": "beos"}, 422, ["platform"]),
    ({"name": "x", "query": "SELECT 1", "interval": -1}, 422, ["interval"]),
    ({"name": 5, "query": "SELECT 1"}, 400, ["name"]),
    ({"name": "x", "query": "SELECT 1", "observer_can_run": "yes"}, 400, ["observer_can_run"]),
    ({"name": "x", "query": "SELECT 1", "interval": "often"}, 400, ["interval"]),
])
async def test_create_query_validation(fleet: Fleet, body: dict[str, Any], status: int,
                                       error_names: list[str]) -> None:
    response = await fleet.client.post(QUERIES, json=body, headers=fleet.as_admin)
    assert_error(response, status, *error_names)
    assert await names(fleet) == []


async def test_create_query_for_an_unknown_team_is_404(fleet: Fleet) -> None:
    response = await fleet.client.post(QUERIES, json={"name": "x", "query": "SELECT 1", "team_id": 999},
                                       headers=fleet.as_admin)
    assert_error(response, 404)


@pytest.mark.parametrize("role", WRITERS)
async def test_global_writers_create_global_and_team_queries(cast: Cast, role: str) -> None:
    await create(cast.fleet, f"global by {role}", headers=cast[role].headers)
    await create(cast.fleet, f"team by {role}", headers=cast[role].headers, team_id=cast.team_one)


@pytest.mark.parametrize("role", ["team_admin", "team_maintainer"])
async def test_team_writers_create_only_their_teams_queries(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    query = await create(fleet, f"mine by {role}", headers=cast[role].headers, team_id=cast.team_one)
    assert query["author_id"] == cast[role].id
    for team_id in (None, cast.team_two):
        response = await fleet.client.post(QUERIES, json={"name": "nope", "query": "SELECT 1", "team_id": team_id},
                                           headers=cast[role].headers)
        assert_error(response, 403)


@pytest.mark.parametrize(("role", "team"), [("observer", None), ("observer", "one"), ("team_observer", "one")])
async def test_observers_cannot_create_queries(cast: Cast, role: str, team: str | None) -> None:
    team_id = cast.team_one if team else None
    response = await cast.fleet.client.post(QUERIES, json={"name": "x", "query": "SELECT 1", "team_id": team_id},
                                            headers=cast[role].headers)
    assert_error(response, 403)


async def test_query_endpoints_need_a_token(fleet: Fleet) -> None:
    query_id = (await create(fleet, "locked"))["id"]
    client = fleet.client
    for response in (
        await client.get(QUERIES),
        await client.get(f"{QUERIES}/{query_id}"),
        await client.post(QUERIES, json={"name": "x", "query": "SELECT 1"}),
        await client.patch(f"{QUERIES}/{query_id}", json={"name": "y"}),
        await client.delete(f"{QUERIES}/locked"),
        await client.delete(f"{QUERIES}/id/{query_id}"),
        await client.post(f"{QUERIES}/delete", json={"ids": [query_id]}),
    ):
        assert_error(response, 401)
    assert await names(fleet) == ["locked"]


# ---- get and list -------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_get_query_returns_it(fleet: Fleet, prefix: str) -> None:
    created = await create(fleet, "centos_hosts", description="")

    response = await fleet.client.get(f"{prefix}/queries/{created['id']}", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    assert response.json() == {"query": created}


async def test_get_of_an_unknown_query_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(f"{QUERIES}/999", headers=fleet.as_admin), 404)


async def test_every_role_reads_global_queries_and_team_users_their_teams(cast: Cast) -> None:
    fleet = cast.fleet
    global_id = (await create(fleet, "global"))["id"]
    one_id = (await create(fleet, "of one", team_id=cast.team_one))["id"]
    two_id = (await create(fleet, "of two", team_id=cast.team_two))["id"]

    for role in ("admin", "maintainer", "observer"):
        for query_id in (global_id, one_id, two_id):
            response = await fleet.client.get(f"{QUERIES}/{query_id}", headers=cast[role].headers)
            assert response.status_code == 200, (role, response.text)
    for role in ("team_admin", "team_maintainer", "team_observer"):
        for query_id in (global_id, one_id):
            response = await fleet.client.get(f"{QUERIES}/{query_id}", headers=cast[role].headers)
            assert response.status_code == 200, (role, response.text)
        assert_error(await fleet.client.get(f"{QUERIES}/{two_id}", headers=cast[role].headers), 403)
        listed = await fleet.client.get(QUERIES, params={"team_id": cast.team_one}, headers=cast[role].headers)
        assert [q["name"] for q in listed.json()["queries"]] == ["of one"]
        global_list = await fleet.client.get(QUERIES, headers=cast[role].headers)
        assert [q["name"] for q in global_list.json()["queries"]] == ["global"]
        other = await fleet.client.get(QUERIES, params={"team_id": cast.team_two}, headers=cast[role].headers)
        assert_error(other, 403)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_list_queries_is_scoped_searched_ordered_and_paged(cast: Cast, prefix: str) -> None:
    fleet = cast.fleet
    for name in ("beta", "Alpha", "gamma"):
        await create(fleet, name)
    await create(fleet, "team alpha", team_id=cast.team_one)

    async def listed(**params: Any) -> list[str]:
        response = await fleet.client.get(f"{prefix}/queries", params=params, headers=fleet.as_admin)
        assert response.status_code == 200, response.text
        queries = response.json()["queries"]
        assert all(set(q) == QUERY_KEYS for q in queries)
        return [q["name"] for q in queries]

    assert await listed() == ["beta", "Alpha", "gamma"]
    assert await listed(order_key="name") == ["Alpha", "beta", "gamma"]
    assert await listed(order_key="name", order_direction="desc") == ["gamma", "beta", "Alpha"]
    assert await listed(query="alp") == ["Alpha"]
    assert await listed(order_key="name", page=1, per_page=2) == ["gamma"]
    assert await listed(team_id=cast.team_one) == ["team alpha"]


@pytest.mark.parametrize(("params", "name"), [
    ({"order_key": "nope"}, "order_key"),
    ({"order_direction": "desc"}, "order_direction"),
    ({"per_page": 0}, "per_page"),
])
async def test_list_queries_rejects_bad_options(fleet: Fleet, params: dict[str, Any], name: str) -> None:
    response = await fleet.client.get(QUERIES, params=params, headers=fleet.as_admin)
    assert_error(response, 422, name)


async def test_list_queries_of_an_unknown_team_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(QUERIES, params={"team_id": 999}, headers=fleet.as_admin), 404)


# ---- modify -------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_modify_query_changes_only_what_is_given_and_records_it(fleet: Fleet, prefix: str) -> None:
    created = await create(fleet, "old", description="kept", interval=30)
    fleet.clock.advance(dt.timedelta(seconds=60))

    response = await fleet.client.patch(f"{prefix}/queries/{created['id']}",
                                        json={"name": "new_title_for_my_query", "logging": "differential"},
                                        headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    query = response.json()["query"]
    assert (query["name"], query["description"], query["interval"], query["logging"]) == (
        "new_title_for_my_query", "kept", 30, "differential")
    assert query["query"] == created["query"]
    assert query["created_at"] == created["created_at"]
    assert query["updated_at"] > created["updated_at"]
    assert [a["details"] for a in await activities(fleet, "edited_saved_query")] == [
        {"query_id": created["id"], "query_name": "new_title_for_my_query"}]


@pytest.mark.parametrize(("body", "status", "name"), [
    ({"name": ""}, 422, "name"),
    ({"query": ""}, 422, "query"),
    ({"logging": "never"}, 422, "logging"),
    ({"name": None}, 400, "name"),
    ({"interval": "x"}, 400, "interval"),
])
async def test_modify_query_validation(fleet: Fleet, body: dict[str, Any], status: int, name: str) -> None:
    query_id = (await create(fleet, "stays"))["id"]
    response = await fleet.client.patch(f"{QUERIES}/{query_id}", json=body, headers=fleet.as_admin)
    assert_error(response, status, name)
    assert await names(fleet) == ["stays"]


async def test_modify_to_a_taken_name_is_409_and_unknown_is_404(fleet: Fleet) -> None:
    await create(fleet, "first")
    second = await create(fleet, "second")
    response = await fleet.client.patch(f"{QUERIES}/{second['id']}", json={"name": "first"}, headers=fleet.as_admin)
    assert_error(response, 409)
    assert_error(await fleet.client.patch(f"{QUERIES}/999", json={"name": "x"}, headers=fleet.as_admin), 404)


async def test_who_may_modify_which_queries(cast: Cast) -> None:
    fleet = cast.fleet
    global_id = (await create(fleet, "global"))["id"]
    one_id = (await create(fleet, "of one", team_id=cast.team_one))["id"]
    two_id = (await create(fleet, "of two", team_id=cast.team_two))["id"]
    allowed = {
        "admin": {global_id, one_id, two_id}, "maintainer": {global_id, one_id, two_id}, "observer": set(),
        "team_admin": {one_id}, "team_maintainer": {one_id}, "team_observer": set(),
    }
    for role, may in allowed.items():
        for query_id in (global_id, one_id, two_id):
            response = await fleet.client.patch(f"{QUERIES}/{query_id}", json={"description": role},
                                                headers=cast[role].headers)
            if query_id in may:
                assert response.status_code == 200, (role, query_id, response.text)
            else:
                assert_error(response, 403)


# ---- delete -------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_delete_query_by_name_and_by_id(fleet: Fleet, prefix: str) -> None:
    await create(fleet, "by name")
    by_id = await create(fleet, "by id")
    await create(fleet, "kept")

    response = await fleet.client.delete(f"{prefix}/queries/by name", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert response.json() == {}
    response = await fleet.client.delete(f"{prefix}/queries/id/{by_id['id']}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text

    assert await names(fleet) == ["kept"]
    assert [a["details"] for a in await activities(fleet, "deleted_saved_query")] == [
        {"query_name": "by name"}, {"query_name": "by id"}]


async def test_delete_by_name_with_team_id_deletes_the_teams_query(cast: Cast) -> None:
    fleet = cast.fleet
    await create(fleet, "shared")
    await create(fleet, "shared", team_id=cast.team_one)

    response = await fleet.client.delete(f"{QUERIES}/shared", params={"team_id": cast.team_one},
                                         headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    assert await names(fleet, {"team_id": cast.team_one}) == []
    assert await names(fleet) == ["shared"]


async def test_deleting_unknown_queries_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.delete(f"{QUERIES}/nothing", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.delete(f"{QUERIES}/id/999", headers=fleet.as_admin), 404)


async def test_who_may_delete_which_queries(cast: Cast) -> None:
    fleet = cast.fleet
    for role in ("observer", "team_admin", "team_maintainer", "team_observer"):
        global_query = await create(fleet, f"global {role}")
        assert_error(await fleet.client.delete(f"{QUERIES}/id/{global_query['id']}", headers=cast[role].headers),
                     403)
        assert_error(await fleet.client.delete(f"{QUERIES}/global {role}", headers=cast[role].headers), 403)
    for role in ("team_admin", "team_maintainer"):
        mine = await create(fleet, f"mine {role}", team_id=cast.team_one)
        response = await fleet.client.delete(f"{QUERIES}/id/{mine['id']}", headers=cast[role].headers)
        assert response.status_code == 200, response.text
    for role in WRITERS:
        theirs = await create(fleet, f"any {role}", team_id=cast.team_two)
        response = await fleet.client.delete(f"{QUERIES}/id/{theirs['id']}", headers=cast[role].headers)
        assert response.status_code == 200, response.text
    observed = await create(fleet, "observed", team_id=cast.team_one)
    response = await fleet.client.delete(f"{QUERIES}/id/{observed['id']}", headers=cast["team_observer"].headers)
    assert_error(response, 403)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_delete_queries_in_bulk_counts_and_records_them(fleet: Fleet, prefix: str) -> None:
    ids = [(await create(fleet, f"q{i}"))["id"] for i in range(3)]

    response = await fleet.client.post(f"{prefix}/queries/delete", json={"ids": [ids[0], ids[2], 999]},
                                       headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 2}
    assert await names(fleet) == ["q1"]
    assert [a["details"] for a in await activities(fleet, "deleted_multiple_saved_query")] == [
        {"query_ids": [ids[0], ids[2]]}]


@pytest.mark.parametrize(("body", "status", "name"), [
    ({}, 422, "ids"), ({"ids": []}, 422, "ids"), ({"ids": ["a"]}, 400, "ids[0]"), ({"ids": 3}, 400, "ids"),
])
async def test_delete_queries_needs_ids(fleet: Fleet, body: dict[str, Any], status: int, name: str) -> None:
    response = await fleet.client.post(f"{QUERIES}/delete", json=body, headers=fleet.as_admin)
    assert_error(response, status, name)


async def test_bulk_delete_is_all_or_nothing_on_permissions(cast: Cast) -> None:
    fleet = cast.fleet
    mine = (await create(fleet, "mine", team_id=cast.team_one))["id"]
    global_id = (await create(fleet, "global"))["id"]
    maintainer = cast["team_maintainer"].headers

    response = await fleet.client.post(f"{QUERIES}/delete", json={"ids": [mine, global_id]}, headers=maintainer)
    assert_error(response, 403)
    assert await names(fleet, {"team_id": cast.team_one}) == ["mine"]

    response = await fleet.client.post(f"{QUERIES}/delete", json={"ids": [mine]}, headers=maintainer)
    assert response.json() == {"deleted": 1}
    for role in ("observer", "team_observer"):
        response = await fleet.client.post(f"{QUERIES}/delete", json={"ids": [global_id]},
                                           headers=cast[role].headers)
        assert_error(response, 403)
    assert await names(fleet) == ["global"]
