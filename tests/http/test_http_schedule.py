"""Scheduled queries: of any pack (/schedule), the global schedule (/global/schedule) and team
schedules (/teams/{id}/schedule), with Fleet's shapes, validation, activities, 404s and roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import ROLES, assert_error, assert_timestamp
from tests.http.test_http_packs import SCHEDULED_KEYS, activities, create_pack, create_query

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

API = "/api/v1/fleet"
SCHEDULE = f"{API}/schedule"
GLOBAL = f"{API}/global/schedule"
MAX_INTERVAL = 2**31 - 1


def team_schedule(team_id: int) -> str:
    return f"{API}/teams/{team_id}/schedule"


async def add(fleet: Fleet, url: str, query_id: int, headers: dict[str, str] | None = None,
              **extra: Any) -> dict[str, Any]:
    body = {"query_id": query_id, "interval": 86400, "snapshot": True, **extra}
    response = await fleet.client.post(url, json=body, headers=headers or fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["scheduled"])


async def global_names(fleet: Fleet) -> list[str]:
    response = await fleet.client.get(GLOBAL, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["global_schedule"]]


# ---- /schedule: any pack -----------------------------------------------------------------------------

async def test_schedule_a_query_in_a_pack_answers_in_fleets_shape_and_records_it(fleet: Fleet) -> None:
    pack = await create_pack(fleet, "p")
    query = await create_query(fleet, "osquery_events")

    response = await fleet.client.post(SCHEDULE, json={
        "interval": 120, "pack_id": pack["id"], "query_id": query["id"], "removed": True, "shard": None,
        "snapshot": False, "version": "4.5.0", "platform": "windows"}, headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    entry = response.json()["scheduled"]
    assert set(entry) == SCHEDULED_KEYS
    assert {k: entry[k] for k in SCHEDULED_KEYS - {"id", "created_at", "updated_at"}} == {
        "pack_id": pack["id"], "name": "osquery_events", "query_id": query["id"], "query_name": "osquery_events",
        "query": "SELECT 'osquery_events'", "interval": 120, "snapshot": False, "removed": True,
        "platform": "windows", "version": "4.5.0", "shard": None, "denylist": None}
    assert_timestamp(entry["created_at"])
    assert await activities(fleet, "edited_pack") == [{"pack_id": pack["id"], "pack_name": "p"}]
    got = await fleet.client.get(f"{SCHEDULE}/{entry['id']}", headers=fleet.as_admin)
    assert got.status_code == 200 and got.json()["scheduled"] == entry


@pytest.mark.parametrize(("body", "status", "error_names"), [
    ({}, 422, ["pack_id", "query_id", "interval", "snapshot"]),
    ({"interval": 60, "snapshot": True}, 422, ["pack_id", "query_id"]),
    ({"interval": 0}, 422, ["interval"]),
    ({"interval": MAX_INTERVAL + 1}, 422, ["interval"]),
    ({"interval": -5, "shard": 101, "platform": "beos"}, 422, ["interval", "shard", "platform"]),
    ({"shard": -1}, 422, ["shard"]),
    ({"interval": "often"}, 400, ["interval"]),
    ({"snapshot": "yes"}, 400, ["snapshot"]),
])
async def test_schedule_validation(fleet: Fleet, body: dict[str, Any], status: int, error_names: list[str]) -> None:
    pack = await create_pack(fleet, "p")
    query = await create_query(fleet, "q")
    full = {"pack_id": pack["id"], "query_id": query["id"], "interval": 60, "snapshot": True}
    sent = body if "pack_id" in error_names else {**full, **body}
    assert_error(await fleet.client.post(SCHEDULE, json=sent, headers=fleet.as_admin), status, *error_names)
    scheduled = await fleet.client.get(f"{API}/packs/{pack['id']}/scheduled", headers=fleet.as_admin)
    assert scheduled.json()["scheduled"] == []


async def test_a_valid_shard_platform_list_and_max_interval_are_taken(fleet: Fleet) -> None:
    pack = await create_pack(fleet, "p")
    query = await create_query(fleet, "q")
    entry = await add(fleet, SCHEDULE, query["id"], pack_id=pack["id"], interval=MAX_INTERVAL, shard=100,
                      platform="darwin, linux", denylist=True)
    assert (entry["interval"], entry["shard"], entry["platform"], entry["denylist"]) == (
        MAX_INTERVAL, 100, "darwin,linux", True)


async def test_unknown_packs_and_queries_are_404(fleet: Fleet) -> None:
    pack = await create_pack(fleet, "p")
    query = await create_query(fleet, "q")
    body = {"interval": 60, "snapshot": True}
    assert_error(await fleet.client.post(SCHEDULE, json={**body, "pack_id": 999, "query_id": query["id"]},
                                         headers=fleet.as_admin), 404)
    assert_error(await fleet.client.post(SCHEDULE, json={**body, "pack_id": pack["id"], "query_id": 999},
                                         headers=fleet.as_admin), 404)
    for method in ("get", "delete"):
        assert_error(await getattr(fleet.client, method)(f"{SCHEDULE}/999", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.patch(f"{SCHEDULE}/999", json={"interval": 5}, headers=fleet.as_admin), 404)


async def test_a_pack_schedules_a_name_once(fleet: Fleet) -> None:
    pack = await create_pack(fleet, "p")
    query = await create_query(fleet, "q")
    await add(fleet, SCHEDULE, query["id"], pack_id=pack["id"])
    response = await fleet.client.post(SCHEDULE, json={"pack_id": pack["id"], "query_id": query["id"],
                                                       "interval": 5, "snapshot": True}, headers=fleet.as_admin)
    assert_error(response, 409)


async def test_user_packs_take_global_queries_only(cast: Cast) -> None:
    fleet = cast.fleet
    pack = await create_pack(fleet, "p")
    team_query = await create_query(fleet, "tq", team_id=cast.team_one)
    response = await fleet.client.post(SCHEDULE, json={"pack_id": pack["id"], "query_id": team_query["id"],
                                                       "interval": 5, "snapshot": True}, headers=fleet.as_admin)
    assert_error(response, 422, "query_id")


async def test_modify_and_delete_a_scheduled_query(fleet: Fleet) -> None:
    pack = await create_pack(fleet, "p")
    query = await create_query(fleet, "q")
    entry = await add(fleet, SCHEDULE, query["id"], pack_id=pack["id"], platform="windows", shard=10)

    response = await fleet.client.patch(f"{SCHEDULE}/{entry['id']}", json={"platform": "", "shard": None,
                                                                          "removed": False}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    changed = response.json()["scheduled"]
    assert (changed["platform"], changed["shard"], changed["removed"], changed["interval"]) == ("", None, False, 86400)
    assert_error(await fleet.client.patch(f"{SCHEDULE}/{entry['id']}", json={"interval": 0},
                                          headers=fleet.as_admin), 422, "interval")

    assert (await fleet.client.delete(f"{SCHEDULE}/{entry['id']}", headers=fleet.as_admin)).status_code == 200
    assert_error(await fleet.client.get(f"{SCHEDULE}/{entry['id']}", headers=fleet.as_admin), 404)
    assert await activities(fleet, "edited_pack") == [{"pack_id": pack["id"], "pack_name": "p"}] * 3


# ---- the global schedule ---------------------------------------------------------------------------

async def test_the_global_schedule_starts_empty_and_its_pack_is_made_on_first_use(fleet: Fleet) -> None:
    assert await global_names(fleet) == []
    query = await create_query(fleet, "arp_cache")

    response = await fleet.client.post(GLOBAL, json={"interval": 86400, "query_id": query["id"], "snapshot": True},
                                       headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    entry = response.json()["scheduled"]
    assert set(entry) == SCHEDULED_KEYS
    assert (entry["name"], entry["interval"], entry["snapshot"], entry["removed"], entry["platform"],
            entry["version"], entry["shard"]) == ("arp_cache", 86400, True, None, None, None, None)
    listed = (await fleet.client.get(GLOBAL, headers=fleet.as_admin)).json()["global_schedule"]
    assert listed == [entry]
    second = await add(fleet, GLOBAL, (await create_query(fleet, "disk_encryption"))["id"])
    assert second["pack_id"] == entry["pack_id"]
    assert await global_names(fleet) == ["arp_cache", "disk_encryption"]
    assert await activities(fleet, "edited_pack") == [{"pack_id": entry["pack_id"], "pack_name": "Global"}] * 2


async def test_edit_and_remove_in_the_global_schedule(fleet: Fleet) -> None:
    entry = await add(fleet, GLOBAL, (await create_query(fleet, "q"))["id"])

    response = await fleet.client.patch(f"{GLOBAL}/{entry['id']}", json={"interval": 604800},
                                        headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert (response.json()["scheduled"]["interval"], response.json()["scheduled"]["snapshot"]) == (604800, True)

    assert (await fleet.client.delete(f"{GLOBAL}/{entry['id']}", headers=fleet.as_admin)).status_code == 200
    assert await global_names(fleet) == []


async def test_the_global_schedule_only_reaches_its_own_entries(cast: Cast) -> None:
    fleet = cast.fleet
    pack = await create_pack(fleet, "p")
    query = await create_query(fleet, "q")
    in_pack = await add(fleet, SCHEDULE, query["id"], pack_id=pack["id"])
    in_team = await add(fleet, team_schedule(cast.team_one), query["id"])
    for entry in (in_pack, in_team, {"id": 999}):
        assert_error(await fleet.client.patch(f"{GLOBAL}/{entry['id']}", json={"interval": 5},
                                              headers=fleet.as_admin), 404)
        assert_error(await fleet.client.delete(f"{GLOBAL}/{entry['id']}", headers=fleet.as_admin), 404)


@pytest.mark.parametrize(("body", "status", "error_names"), [
    ({}, 422, ["query_id", "interval", "snapshot"]),
    ({"query_id": 1, "interval": 60}, 422, ["snapshot"]),
    ({"query_id": 1, "interval": 0, "snapshot": True}, 422, ["interval"]),
    ({"query_id": 1, "interval": 60, "snapshot": True, "platform": "amiga"}, 422, ["platform"]),
    ({"query_id": 999, "interval": 60, "snapshot": True}, 404, []),
])
async def test_global_schedule_validation(fleet: Fleet, body: dict[str, Any], status: int,
                                          error_names: list[str]) -> None:
    await create_query(fleet, "q")
    assert_error(await fleet.client.post(GLOBAL, json=body, headers=fleet.as_admin), status, *error_names)
    assert await global_names(fleet) == []


async def test_team_queries_are_not_scheduled_globally(cast: Cast) -> None:
    fleet = cast.fleet
    team_query = await create_query(fleet, "tq", team_id=cast.team_one)
    response = await fleet.client.post(GLOBAL, json={"query_id": team_query["id"], "interval": 60, "snapshot": True},
                                       headers=fleet.as_admin)
    assert_error(response, 422, "query_id")


# ---- team schedules ---------------------------------------------------------------------------------

async def test_a_team_schedules_global_and_its_own_queries(cast: Cast) -> None:
    fleet = cast.fleet
    url = team_schedule(cast.team_one)
    global_query = await create_query(fleet, "arp_cache")
    own = await create_query(fleet, "own", team_id=cast.team_one)
    foreign = await create_query(fleet, "foreign", team_id=cast.team_two)

    first = await add(fleet, url, global_query["id"])
    second = await add(fleet, url, own["id"], removed=False)
    refused = await fleet.client.post(url, json={"query_id": foreign["id"], "interval": 60, "snapshot": True},
                                      headers=fleet.as_admin)

    assert_error(refused, 422, "query_id")
    assert first["pack_id"] == second["pack_id"]
    response = await fleet.client.get(url, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    listed = response.json()["scheduled"]
    assert [s["name"] for s in listed] == ["arp_cache", "own"]
    assert all(set(s) == SCHEDULED_KEYS for s in listed)
    paged = await fleet.client.get(url, params={"per_page": 1, "page": 1, "order_key": "name"},
                                   headers=fleet.as_admin)
    assert [s["name"] for s in paged.json()["scheduled"]] == ["own"]
    assert (await fleet.client.get(team_schedule(cast.team_two), headers=fleet.as_admin)).json()["scheduled"] == []
    assert await global_names(fleet) == []
    assert await activities(fleet, "edited_pack") == [
        {"pack_id": first["pack_id"], "pack_name": f"team-{cast.team_one}"}] * 2


async def test_edit_and_remove_in_a_team_schedule(cast: Cast) -> None:
    fleet = cast.fleet
    url = team_schedule(cast.team_one)
    entry = await add(fleet, url, (await create_query(fleet, "q"))["id"])

    response = await fleet.client.patch(f"{url}/{entry['id']}", json={"interval": 604800, "snapshot": None},
                                        headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert (response.json()["scheduled"]["interval"], response.json()["scheduled"]["snapshot"]) == (604800, None)
    # Another team's path does not reach the entry.
    other = team_schedule(cast.team_two)
    assert_error(await fleet.client.patch(f"{other}/{entry['id']}", json={"interval": 5}, headers=fleet.as_admin),
                 404)
    assert_error(await fleet.client.delete(f"{other}/{entry['id']}", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.delete(f"{GLOBAL}/{entry['id']}", headers=fleet.as_admin), 404)

    assert (await fleet.client.delete(f"{url}/{entry['id']}", headers=fleet.as_admin)).status_code == 200
    assert (await fleet.client.get(url, headers=fleet.as_admin)).json()["scheduled"] == []


async def test_unknown_teams_are_404(fleet: Fleet) -> None:
    query = await create_query(fleet, "q")
    url = team_schedule(999)
    assert_error(await fleet.client.get(url, headers=fleet.as_admin), 404)
    assert_error(await fleet.client.post(url, json={"query_id": query["id"], "interval": 5, "snapshot": True},
                                         headers=fleet.as_admin), 404)
    assert_error(await fleet.client.patch(f"{url}/1", json={"interval": 5}, headers=fleet.as_admin), 404)
    assert_error(await fleet.client.delete(f"{url}/1", headers=fleet.as_admin), 404)


async def test_deleting_a_team_removes_its_schedule(cast: Cast) -> None:
    fleet = cast.fleet
    entry = await add(fleet, team_schedule(cast.team_two), (await create_query(fleet, "q"))["id"])

    response = await fleet.client.delete(f"{API}/teams/{cast.team_two}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text

    assert_error(await fleet.client.get(f"{SCHEDULE}/{entry['id']}", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get(f"{API}/packs/{entry['pack_id']}", headers=fleet.as_admin), 404)


# ---- who may do what -----------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
async def test_the_global_schedule_is_for_global_roles(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    entry = await add(fleet, GLOBAL, (await create_query(fleet, "q"))["id"])
    extra = await create_query(fleet, "extra")
    headers = cast[role].headers

    read = await fleet.client.get(GLOBAL, headers=headers)
    read_one = await fleet.client.get(f"{SCHEDULE}/{entry['id']}", headers=headers)
    added = await fleet.client.post(GLOBAL, json={"query_id": extra["id"], "interval": 5, "snapshot": True},
                                    headers=headers)
    edited = await fleet.client.patch(f"{GLOBAL}/{entry['id']}", json={"interval": 7}, headers=headers)
    removed = await fleet.client.delete(f"{GLOBAL}/{entry['id']}", headers=headers)

    if role in ("admin", "maintainer", "observer"):
        assert (read.status_code, read_one.status_code) == (200, 200)
    else:
        assert_error(read, 403)
        assert_error(read_one, 403)
    for response in (added, edited, removed):
        if role in ("admin", "maintainer"):
            assert response.status_code == 200, response.text
        else:
            assert_error(response, 403)


@pytest.mark.parametrize("role", ROLES)
async def test_a_team_schedule_is_written_by_its_admins_and_maintainers(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    url = team_schedule(cast.team_one)
    entry = await add(fleet, url, (await create_query(fleet, "q"))["id"])
    extra = await create_query(fleet, "extra")
    headers = cast[role].headers

    read = await fleet.client.get(url, headers=headers)
    read_one = await fleet.client.get(f"{SCHEDULE}/{entry['id']}", headers=headers)
    added = await fleet.client.post(url, json={"query_id": extra["id"], "interval": 5, "snapshot": True},
                                    headers=headers)
    edited = await fleet.client.patch(f"{url}/{entry['id']}", json={"interval": 7}, headers=headers)
    edited_by_id = await fleet.client.patch(f"{SCHEDULE}/{entry['id']}", json={"interval": 8}, headers=headers)
    removed = await fleet.client.delete(f"{url}/{entry['id']}", headers=headers)

    assert (read.status_code, read_one.status_code) == (200, 200)
    for response in (added, edited, edited_by_id, removed):
        if role in ("admin", "maintainer", "team_admin", "team_maintainer"):
            assert response.status_code == 200, response.text
        else:
            assert_error(response, 403)


@pytest.mark.parametrize("role", ["team_admin", "team_maintainer", "team_observer"])
async def test_team_users_do_not_reach_other_teams_schedules(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    url = team_schedule(cast.team_two)
    entry = await add(fleet, url, (await create_query(fleet, "q"))["id"])
    headers = cast[role].headers

    assert_error(await fleet.client.get(url, headers=headers), 403)
    assert_error(await fleet.client.get(f"{SCHEDULE}/{entry['id']}", headers=headers), 403)
    assert_error(await fleet.client.post(url, json={"query_id": entry["query_id"], "interval": 5, "snapshot": True},
                                         headers=headers), 403)
    assert_error(await fleet.client.delete(f"{url}/{entry['id']}", headers=headers), 403)
