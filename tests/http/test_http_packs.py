"""User packs: create, list, get, modify, delete (by name and id) and their scheduled queries, with
the shapes of Fleet's examples, validation, activities, cascades and who may do what."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import ROLES, assert_error, assert_timestamp

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

PREFIXES = ("/api/v1/fleet", "/api/latest/fleet")
API = "/api/v1/fleet"
PACKS = f"{API}/packs"
# Fleet's examples, plus disabled and type, which GET shows and every pack has.
PACK_KEYS = {"created_at", "updated_at", "id", "name", "description", "disabled", "type", "query_count",
             "total_hosts_count", "host_ids", "label_ids", "team_ids"}
SCHEDULED_KEYS = {"created_at", "updated_at", "id", "pack_id", "name", "query_id", "query_name", "query", "interval",
                  "snapshot", "removed", "platform", "version", "shard", "denylist"}
WRITERS = ("admin", "maintainer")
GLOBAL_READERS = ("admin", "maintainer", "observer")
TEAM_ROLES = ("team_admin", "team_maintainer", "team_observer")


async def activities(fleet: Fleet, type_: str) -> list[dict[str, Any]]:
    response = await fleet.client.get(f"{API}/activities", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [a["details"] for a in response.json()["activities"] if a["type"] == type_]


async def create_pack(fleet: Fleet, name: str, **extra: Any) -> dict[str, Any]:
    response = await fleet.client.post(PACKS, json={"name": name, **extra}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["pack"])


async def create_query(fleet: Fleet, name: str, **extra: Any) -> dict[str, Any]:
    response = await fleet.client.post(f"{API}/queries", json={"name": name, "query": f"SELECT '{name}'", **extra},
                                       headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["query"])


async def schedule(fleet: Fleet, pack_id: int, query_id: int, **extra: Any) -> dict[str, Any]:
    body = {"pack_id": pack_id, "query_id": query_id, "interval": 60, "snapshot": True, **extra}
    response = await fleet.client.post(f"{API}/schedule", json=body, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["scheduled"])


async def add_host(fleet: Fleet, name: str, team_id: int | None = None) -> int:
    async with fleet.kit.store.unit_of_work() as uow:
        host = (await uow.hosts.enroll(osquery_host_id=name, node_key_hash=f"key-{name}", team_id=team_id,
                                       at=fleet.clock.now(), fields={"hostname": name})).host
        await uow.commit()
    return host.id


async def manual_label(fleet: Fleet, name: str, host_ids: list[int]) -> int:
    response = await fleet.client.post(f"{API}/labels", json={"name": name, "host_ids": host_ids},
                                       headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return int(response.json()["label"]["id"])


async def pack_names(fleet: Fleet, params: dict[str, Any] | None = None) -> list[str]:
    response = await fleet.client.get(PACKS, params=params or {}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.json()["packs"]]


# ---- create ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", PREFIXES)
async def test_create_pack_answers_with_the_pack_and_records_it(cast: Cast, prefix: str) -> None:
    fleet = cast.fleet
    h1 = await add_host(fleet, "h1")
    h2 = await add_host(fleet, "h2")
    h3 = await add_host(fleet, "h3", team_id=cast.team_one)
    await add_host(fleet, "h4")
    label = await manual_label(fleet, "two hosts", [h1, h2])

    response = await fleet.client.post(f"{prefix}/packs", json={
        "description": "Collects osquery data.", "host_ids": [h1], "label_ids": [label],
        "team_ids": [cast.team_one], "name": "query_pack_1"}, headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    pack = response.json()["pack"]
    assert set(pack) == PACK_KEYS
    assert (pack["name"], pack["description"], pack["disabled"], pack["type"]) == (
        "query_pack_1", "Collects osquery data.", False, None)
    assert (pack["host_ids"], pack["label_ids"], pack["team_ids"]) == ([h1], [label], [cast.team_one])
    # h1 is targeted by id and by label, and counted once.
    assert (pack["query_count"], pack["total_hosts_count"]) == (0, len({h1, h2, h3}))
    assert_timestamp(pack["created_at"])
    assert_timestamp(pack["updated_at"])
    assert await activities(fleet, "created_pack") == [{"pack_id": pack["id"], "pack_name": "query_pack_1"}]


async def test_a_pack_needs_only_a_name(fleet: Fleet) -> None:
    pack = await create_pack(fleet, "  bare  ")
    assert (pack["name"], pack["description"], pack["host_ids"], pack["label_ids"], pack["team_ids"]) == (
        "bare", "", [], [], [])
    assert pack["total_hosts_count"] == 0


async def test_a_taken_name_is_409(fleet: Fleet) -> None:
    await create_pack(fleet, "dup")
    assert_error(await fleet.client.post(PACKS, json={"name": "dup"}, headers=fleet.as_admin), 409)
    assert await pack_names(fleet) == ["dup"]


@pytest.mark.parametrize(("body", "status", "error_names"), [
    ({}, 422, ["name"]),
    ({"name": "   "}, 422, ["name"]),
    ({"name": "x" * 256}, 422, ["name"]),
    ({"name": "Global"}, 422, ["name"]),
    ({"name": "team-12"}, 422, ["name"]),
    ({"name": "x", "host_ids": [999]}, 422, ["host_ids"]),
    ({"name": "", "host_ids": [999], "label_ids": [998], "team_ids": [997]}, 422,
     ["name", "host_ids", "label_ids", "team_ids"]),
    ({"name": 5}, 400, ["name"]),
    ({"name": "x", "host_ids": "all"}, 400, ["host_ids"]),
    ({"name": "x", "label_ids": ["a"]}, 400, ["label_ids[0]"]),
])
async def test_create_pack_validation(fleet: Fleet, body: dict[str, Any], status: int,
                                      error_names: list[str]) -> None:
    response = await fleet.client.post(PACKS, json=body, headers=fleet.as_admin)
    assert_error(response, status, *error_names)
    assert await pack_names(fleet) == []
    assert await activities(fleet, "created_pack") == []


# ---- get and list -----------------------------------------------------------------------------------

async def test_get_pack_shows_the_pack_and_its_query_count(fleet: Fleet) -> None:
    pack = await create_pack(fleet, "p", description="MacOS hosts are targeted")
    query = await create_query(fleet, "q")
    await schedule(fleet, pack["id"], query["id"])

    response = await fleet.client.get(f"{PACKS}/{pack['id']}", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    got = response.json()["pack"]
    assert set(got) == PACK_KEYS
    assert (got["id"], got["description"], got["type"], got["query_count"]) == (
        pack["id"], "MacOS hosts are targeted", None, 1)


async def test_get_of_an_unknown_pack_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(f"{PACKS}/999", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get(f"{PACKS}/999/scheduled", headers=fleet.as_admin), 404)


async def test_list_shows_user_packs_only_ordered_and_searched(fleet: Fleet) -> None:
    for name in ("beta", "alpha", "gamma"):
        await create_pack(fleet, name)
    query = await create_query(fleet, "q")
    response = await fleet.client.post(f"{API}/global/schedule", json={
        "query_id": query["id"], "interval": 60, "snapshot": True}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text

    response = await fleet.client.get(PACKS, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert all(set(p) == PACK_KEYS for p in response.json()["packs"])
    assert await pack_names(fleet) == ["beta", "alpha", "gamma"]
    assert await pack_names(fleet, {"order_key": "name", "order_direction": "desc"}) == ["gamma", "beta", "alpha"]
    assert await pack_names(fleet, {"query": "amm"}) == ["gamma"]
    assert_error(await fleet.client.get(PACKS, params={"order_key": "nope"}, headers=fleet.as_admin), 422,
                 "order_key")


async def test_a_packs_scheduled_queries_in_fleets_shape(fleet: Fleet) -> None:
    pack = await create_pack(fleet, "p")
    first = await create_query(fleet, "new_query")
    second = await create_query(fleet, "osquery_info")
    await schedule(fleet, pack["id"], first["id"], interval=456, snapshot=False, removed=True, platform="windows",
                   version="4.6.0")
    await schedule(fleet, pack["id"], second["id"], interval=6667)

    response = await fleet.client.get(f"{PACKS}/{pack['id']}/scheduled", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    scheduled = response.json()["scheduled"]
    assert all(set(s) == SCHEDULED_KEYS for s in scheduled)
    assert [(s["name"], s["query_name"], s["query_id"], s["pack_id"]) for s in scheduled] == [
        ("new_query", "new_query", first["id"], pack["id"]), ("osquery_info", "osquery_info", second["id"], pack["id"])]
    assert {k: scheduled[0][k] for k in ("query", "interval", "snapshot", "removed", "platform", "version", "shard",
                                         "denylist")} == {
        "query": "SELECT 'new_query'", "interval": 456, "snapshot": False, "removed": True, "platform": "windows",
        "version": "4.6.0", "shard": None, "denylist": None}


# ---- modify -------------------------------------------------------------------------------------------

async def test_modify_pack_changes_only_what_is_given_and_records_it(cast: Cast) -> None:
    fleet = cast.fleet
    host = await add_host(fleet, "h")
    pack = await create_pack(fleet, "p", description="before", host_ids=[host])

    response = await fleet.client.patch(f"{PACKS}/{pack['id']}", json={
        "description": "MacOS hosts are targeted", "host_ids": [], "team_ids": [cast.team_two], "disabled": True},
        headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    got = response.json()["pack"]
    assert set(got) == PACK_KEYS
    assert (got["name"], got["description"], got["disabled"]) == ("p", "MacOS hosts are targeted", True)
    assert (got["host_ids"], got["label_ids"], got["team_ids"]) == ([], [], [cast.team_two])
    assert await activities(fleet, "edited_pack") == [{"pack_id": pack["id"], "pack_name": "p"}]

    renamed = await fleet.client.patch(f"{PACKS}/{pack['id']}", json={"name": "Title2"}, headers=fleet.as_admin)
    assert renamed.json()["pack"]["name"] == "Title2"
    assert renamed.json()["pack"]["team_ids"] == [cast.team_two]


@pytest.mark.parametrize(("body", "status", "error_names"), [
    ({"name": ""}, 422, ["name"]),
    ({"name": "Global"}, 422, ["name"]),
    ({"label_ids": [999], "team_ids": [998]}, 422, ["label_ids", "team_ids"]),
    ({"name": "taken"}, 409, []),
    ({"disabled": "yes"}, 400, ["disabled"]),
])
async def test_modify_pack_validation_leaves_the_pack_as_it_was(fleet: Fleet, body: dict[str, Any], status: int,
                                                               error_names: list[str]) -> None:
    await create_pack(fleet, "taken")
    pack = await create_pack(fleet, "p")
    assert_error(await fleet.client.patch(f"{PACKS}/{pack['id']}", json=body, headers=fleet.as_admin), status,
                 *error_names)
    got = await fleet.client.get(f"{PACKS}/{pack['id']}", headers=fleet.as_admin)
    assert got.json()["pack"] == pack


async def test_modify_of_an_unknown_pack_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.patch(f"{PACKS}/999", json={"name": "x"}, headers=fleet.as_admin), 404)


# ---- delete ---------------------------------------------------------------------------------------------

async def test_delete_pack_by_name_and_by_id_records_it(fleet: Fleet) -> None:
    one = await create_pack(fleet, "pack_number_one")
    two = await create_pack(fleet, "two")
    query = await create_query(fleet, "q")
    entry = await schedule(fleet, one["id"], query["id"])

    response = await fleet.client.delete(f"{PACKS}/pack_number_one", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    response = await fleet.client.delete(f"{PACKS}/id/{two['id']}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text

    assert await pack_names(fleet) == []
    assert await activities(fleet, "deleted_pack") == [{"pack_name": "pack_number_one"}, {"pack_name": "two"}]
    assert_error(await fleet.client.get(f"{API}/schedule/{entry['id']}", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.delete(f"{PACKS}/pack_number_one", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.delete(f"{PACKS}/id/{two['id']}", headers=fleet.as_admin), 404)


async def test_the_global_schedules_pack_cannot_be_changed_through_packs(fleet: Fleet) -> None:
    query = await create_query(fleet, "q")
    response = await fleet.client.post(f"{API}/global/schedule", json={
        "query_id": query["id"], "interval": 60, "snapshot": True}, headers=fleet.as_admin)
    pack_id = response.json()["scheduled"]["pack_id"]

    got = await fleet.client.get(f"{PACKS}/{pack_id}", headers=fleet.as_admin)
    assert (got.json()["pack"]["name"], got.json()["pack"]["type"]) == ("Global", "global")
    assert_error(await fleet.client.patch(f"{PACKS}/{pack_id}", json={"name": "mine"}, headers=fleet.as_admin), 422)
    assert_error(await fleet.client.delete(f"{PACKS}/id/{pack_id}", headers=fleet.as_admin), 422)
    assert_error(await fleet.client.delete(f"{PACKS}/Global", headers=fleet.as_admin), 404)
    scheduled = await fleet.client.get(f"{API}/global/schedule", headers=fleet.as_admin)
    assert len(scheduled.json()["global_schedule"]) == 1


# ---- cascades --------------------------------------------------------------------------------------------

async def test_deleted_hosts_and_labels_leave_the_packs_targets(fleet: Fleet) -> None:
    host = await add_host(fleet, "h")
    label = await manual_label(fleet, "l", [host])
    pack = await create_pack(fleet, "p", host_ids=[host], label_ids=[label])
    assert pack["total_hosts_count"] == 1

    assert (await fleet.client.delete(f"{API}/labels/id/{label}", headers=fleet.as_admin)).status_code == 200
    assert (await fleet.client.delete(f"{API}/hosts/{host}", headers=fleet.as_admin)).status_code == 200

    got = (await fleet.client.get(f"{PACKS}/{pack['id']}", headers=fleet.as_admin)).json()["pack"]
    assert (got["host_ids"], got["label_ids"], got["total_hosts_count"]) == ([], [], 0)


@pytest.mark.parametrize("how", ["by id", "by name", "in bulk"])
async def test_deleting_a_query_unschedules_it_everywhere(fleet: Fleet, how: str) -> None:
    pack = await create_pack(fleet, "p")
    doomed = await create_query(fleet, "doomed")
    kept = await create_query(fleet, "kept")
    await schedule(fleet, pack["id"], doomed["id"])
    await schedule(fleet, pack["id"], kept["id"])
    glob = await fleet.client.post(f"{API}/global/schedule", json={
        "query_id": doomed["id"], "interval": 60, "snapshot": True}, headers=fleet.as_admin)
    assert glob.status_code == 200, glob.text

    if how == "by id":
        response = await fleet.client.delete(f"{API}/queries/id/{doomed['id']}", headers=fleet.as_admin)
    elif how == "by name":
        response = await fleet.client.delete(f"{API}/queries/doomed", headers=fleet.as_admin)
    else:
        response = await fleet.client.post(f"{API}/queries/delete", json={"ids": [doomed["id"]]},
                                           headers=fleet.as_admin)
    assert response.status_code == 200, response.text

    scheduled = (await fleet.client.get(f"{PACKS}/{pack['id']}/scheduled", headers=fleet.as_admin)).json()
    assert [s["name"] for s in scheduled["scheduled"]] == ["kept"]
    global_schedule = (await fleet.client.get(f"{API}/global/schedule", headers=fleet.as_admin)).json()
    assert global_schedule["global_schedule"] == []


async def test_a_query_lists_the_user_packs_that_schedule_it(fleet: Fleet) -> None:
    one = await create_pack(fleet, "one", description="first")
    two = await create_pack(fleet, "two")
    query = await create_query(fleet, "q")
    other = await create_query(fleet, "other")
    await schedule(fleet, two["id"], query["id"])
    await schedule(fleet, one["id"], query["id"])
    await fleet.client.post(f"{API}/global/schedule", json={"query_id": query["id"], "interval": 60,
                                                            "snapshot": True}, headers=fleet.as_admin)

    got = (await fleet.client.get(f"{API}/queries/{query['id']}", headers=fleet.as_admin)).json()["query"]
    assert [(p["id"], p["name"], p["description"], p["platform"], p["disabled"]) for p in got["packs"]] == [
        (one["id"], "one", "first", "", False), (two["id"], "two", "", "", False)]
    assert set(got["packs"][0]) == {"created_at", "updated_at", "id", "name", "description", "platform", "disabled"}
    listed = (await fleet.client.get(f"{API}/queries", headers=fleet.as_admin)).json()["queries"]
    assert {q["name"]: [p["name"] for p in q["packs"]] for q in listed} == {"q": ["one", "two"], "other": []}
    assert other["packs"] == []


# ---- who may do what ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
async def test_reading_packs_takes_a_global_role(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    pack = await create_pack(fleet, "p")
    headers = cast[role].headers
    responses = [await fleet.client.get(PACKS, headers=headers),
                 await fleet.client.get(f"{PACKS}/{pack['id']}", headers=headers),
                 await fleet.client.get(f"{PACKS}/{pack['id']}/scheduled", headers=headers)]
    for response in responses:
        if role in GLOBAL_READERS:
            assert response.status_code == 200, response.text
        else:
            assert_error(response, 403)


@pytest.mark.parametrize("role", ROLES)
async def test_writing_packs_takes_a_global_admin_or_maintainer(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    pack = await create_pack(fleet, "p")
    headers = cast[role].headers
    created = await fleet.client.post(PACKS, json={"name": f"by-{role}"}, headers=headers)
    modified = await fleet.client.patch(f"{PACKS}/{pack['id']}", json={"description": role}, headers=headers)
    deleted = await fleet.client.delete(f"{PACKS}/id/{pack['id']}", headers=headers)
    if role in WRITERS:
        assert [r.status_code for r in (created, modified, deleted)] == [200, 200, 200]
        assert await pack_names(fleet) == [f"by-{role}"]
    else:
        for response in (created, modified, deleted):
            assert_error(response, 403)
        assert await pack_names(fleet) == ["p"]
