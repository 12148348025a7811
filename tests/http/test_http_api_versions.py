"""Fleet's two API versions (docs/api-versions.md): the paths its 2022-04 version moved are served
on /api/latest with 2022-04's meaning and on /api/v1 with v1's, from the same handlers; the
policy counts are on both; setup is also version-less."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import assert_error

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
LATEST = "/api/latest/fleet"
POLICY = {"name": "Gatekeeper enabled", "query": "SELECT 1 FROM gatekeeper WHERE assessments_enabled = 1;"}
EVERY_MINUTE = {"interval": 60, "snapshot": True}
SETUP = {
    "admin": {"admin": True, "email": "jane@example.com", "name": "Jane Doe", "password": "correct-horse-9!battery",
              "password_confirmation": "correct-horse-9!battery"},
    "org_info": {"org_name": "Acme"},
    "server_url": "https://localhost:8080",
}


async def ok(fleet: Fleet, method: str, url: str, json: Any = None,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
    headers = fleet.as_admin if headers is None else headers
    response = await fleet.client.request(method, url, json=json, headers=headers)
    assert response.status_code == 200, f"{method} {url}: {response.text}"
    return dict(response.json())


async def saved_query(fleet: Fleet, name: str) -> int:
    body = await ok(fleet, "POST", f"{V1}/queries", {"name": name, "query": f"SELECT '{name}'"})
    return int(body["query"]["id"])


async def pack(fleet: Fleet, name: str) -> int:
    return int((await ok(fleet, "POST", f"{V1}/packs", {"name": name}))["pack"]["id"])


# ---- which path each version has ------------------------------------------------------------------

ONLY_ON_V1 = [("GET", "/global/policies"), ("GET", "/global/policies/1"), ("POST", "/global/policies/delete"),
              ("GET", "/global/schedule"), ("DELETE", "/global/schedule/1")]
ONLY_ON_LATEST = [("GET", "/policies"), ("GET", "/policies/1"), ("POST", "/policies/delete"),
                  ("POST", "/packs/schedule"), ("PATCH", "/packs/schedule/1"), ("DELETE", "/packs/schedule/1"),
                  ("GET", "/schedule")]


def body_for(method: str) -> Any:
    """A JSON body where the method takes one: an absent body would be refused before the session is."""
    return {} if method in ("POST", "PATCH") else None


@pytest.mark.parametrize(("method", "path"), ONLY_ON_V1)
async def test_a_path_2022_04_moved_is_404_on_latest_and_served_on_v1(fleet: Fleet, method: str, path: str) -> None:
    assert_error(await fleet.client.request(method, f"{LATEST}{path}", headers=fleet.as_admin), 404)
    # Without a session the v1 path exists, so it asks for one.
    assert_error(await fleet.client.request(method, f"{V1}{path}", json=body_for(method)), 401)


@pytest.mark.parametrize(("method", "path"), ONLY_ON_LATEST)
async def test_a_2022_04_path_is_404_on_v1_and_served_on_latest(fleet: Fleet, method: str, path: str) -> None:
    assert (await fleet.client.request(method, f"{V1}{path}", headers=fleet.as_admin)).status_code in (404, 405)
    assert_error(await fleet.client.request(method, f"{LATEST}{path}", json=body_for(method)), 401)


# ---- global policies on /api/latest/fleet/policies ---------------------------------------------------

async def test_latest_global_policies_add_list_get_edit_count_and_delete(fleet: Fleet) -> None:
    created = (await ok(fleet, "POST", f"{LATEST}/policies", POLICY))["policy"]
    assert {k: created[k] for k in POLICY} == POLICY
    assert created["team_id"] is None

    listed = (await ok(fleet, "GET", f"{LATEST}/policies"))["policies"]
    assert [p["id"] for p in listed] == [created["id"]]
    assert (await ok(fleet, "GET", f"{LATEST}/policies/{created['id']}"))["policy"] == created
    # The same policy through v1's path: one store, two paths.
    assert (await ok(fleet, "GET", f"{V1}/global/policies/{created['id']}"))["policy"] == created

    edited = (await ok(fleet, "PATCH", f"{LATEST}/policies/{created['id']}", {"name": "Renamed"}))["policy"]
    assert edited["name"] == "Renamed"
    assert await ok(fleet, "GET", f"{LATEST}/policies/count") == {"count": 1}
    assert await ok(fleet, "GET", f"{V1}/policies/count") == {"count": 1}

    assert await ok(fleet, "POST", f"{LATEST}/policies/delete", {"ids": [created["id"]]}) == {"deleted": 1}
    assert await ok(fleet, "GET", f"{LATEST}/policies/count") == {"count": 0}
    assert (await ok(fleet, "GET", f"{LATEST}/policies"))["policies"] == []


async def test_latest_policies_reject_bad_input(fleet: Fleet) -> None:
    assert_error(await fleet.client.post(f"{LATEST}/policies", json={"query": "SELECT 1"}, headers=fleet.as_admin),
                 422, "name")
    assert_error(await fleet.client.post(f"{LATEST}/policies/delete", json={}, headers=fleet.as_admin), 422, "ids")
    response = await fleet.client.post(f"{LATEST}/policies", content=b"{not json", headers={
        **fleet.as_admin, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text


async def test_latest_policies_answer_404_for_an_unknown_id(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(f"{LATEST}/policies/9999", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.patch(f"{LATEST}/policies/9999", json={"name": "x"}, headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get(f"{LATEST}/teams/9999/policies/count", headers=fleet.as_admin), 404)


async def test_team_policy_count_counts_that_teams_policies_only(fleet: Fleet) -> None:
    team_id = await fleet.add_team("Engineering")
    other_id = await fleet.add_team("Sales")
    await ok(fleet, "POST", f"{LATEST}/policies", POLICY)
    for name in ("a", "b"):
        await ok(fleet, "POST", f"{LATEST}/teams/{team_id}/policies", {**POLICY, "name": name})
    for prefix in (V1, LATEST):
        assert await ok(fleet, "GET", f"{prefix}/teams/{team_id}/policies/count") == {"count": 2}
        assert await ok(fleet, "GET", f"{prefix}/teams/{other_id}/policies/count") == {"count": 0}
        assert await ok(fleet, "GET", f"{prefix}/policies/count") == {"count": 1}


async def test_an_observer_may_read_but_not_write_latest_policies(cast: Cast) -> None:
    fleet = cast.fleet
    created = (await ok(fleet, "POST", f"{LATEST}/policies", POLICY))["policy"]
    observer = cast["observer"].headers
    assert await ok(fleet, "GET", f"{LATEST}/policies/count", headers=observer) == {"count": 1}
    assert_error(await fleet.client.post(f"{LATEST}/policies", json=POLICY, headers=observer), 403)
    assert_error(await fleet.client.patch(f"{LATEST}/policies/{created['id']}", json={"name": "x"},
                                          headers=observer), 403)
    assert_error(await fleet.client.post(f"{LATEST}/policies/delete", json={"ids": [created["id"]]},
                                         headers=observer), 403)


# ---- /schedule: a pack's scheduled query on v1, the global schedule on latest ---------------------

async def test_v1_schedule_is_a_packs_scheduled_query_and_latest_schedule_is_the_global_schedule(
    fleet: Fleet,
) -> None:
    pack_id = await pack(fleet, "p")
    query_id = await saved_query(fleet, "q")

    in_pack = (await ok(fleet, "POST", f"{V1}/schedule",
                        {"pack_id": pack_id, "query_id": query_id, **EVERY_MINUTE}))["scheduled"]
    assert in_pack["pack_id"] == pack_id
    global_entry = (await ok(fleet, "POST", f"{LATEST}/schedule", {"query_id": query_id, **EVERY_MINUTE}))["scheduled"]

    # The global schedule is the same on both paths, and the pack's entry is not in it.
    latest_schedule = (await ok(fleet, "GET", f"{LATEST}/schedule"))["global_schedule"]
    assert [e["id"] for e in latest_schedule] == [global_entry["id"]]
    assert (await ok(fleet, "GET", f"{V1}/global/schedule"))["global_schedule"] == latest_schedule
    assert [e["id"] for e in (await ok(fleet, "GET", f"{V1}/packs/{pack_id}/scheduled"))["scheduled"]] \
        == [in_pack["id"]]

    # GET /schedule/{id} is a scheduled query by id on both versions.
    for prefix in (V1, LATEST):
        assert (await ok(fleet, "GET", f"{prefix}/schedule/{in_pack['id']}"))["scheduled"]["id"] == in_pack["id"]

    # PATCH /schedule/{id}: v1 edits the pack's entry; latest edits only global schedule entries.
    edited = (await ok(fleet, "PATCH", f"{V1}/schedule/{in_pack['id']}", {"interval": 300}))["scheduled"]
    assert edited["interval"] == 300
    assert_error(await fleet.client.patch(f"{LATEST}/schedule/{in_pack['id']}", json={"interval": 5},
                                          headers=fleet.as_admin), 404)
    edited = (await ok(fleet, "PATCH", f"{LATEST}/schedule/{global_entry['id']}", {"interval": 900}))["scheduled"]
    assert edited["interval"] == 900

    # DELETE likewise: latest's /schedule/{id} does not remove a pack's entry.
    assert_error(await fleet.client.delete(f"{LATEST}/schedule/{in_pack['id']}", headers=fleet.as_admin), 404)
    await ok(fleet, "DELETE", f"{LATEST}/schedule/{global_entry['id']}")
    assert (await ok(fleet, "GET", f"{LATEST}/schedule"))["global_schedule"] == []
    await ok(fleet, "DELETE", f"{V1}/schedule/{in_pack['id']}")
    assert (await ok(fleet, "GET", f"{V1}/packs/{pack_id}/scheduled"))["scheduled"] == []


async def test_latest_packs_schedule_adds_edits_and_removes_a_packs_scheduled_query(fleet: Fleet) -> None:
    pack_id = await pack(fleet, "p")
    query_id = await saved_query(fleet, "q")
    entry = (await ok(fleet, "POST", f"{LATEST}/packs/schedule",
                      {"pack_id": pack_id, "query_id": query_id, **EVERY_MINUTE}))["scheduled"]
    assert entry["pack_id"] == pack_id
    assert (await ok(fleet, "GET", f"{LATEST}/schedule"))["global_schedule"] == []

    edited = (await ok(fleet, "PATCH", f"{LATEST}/packs/schedule/{entry['id']}", {"interval": 30}))["scheduled"]
    assert edited["interval"] == 30
    await ok(fleet, "DELETE", f"{LATEST}/packs/schedule/{entry['id']}")
    assert (await ok(fleet, "GET", f"{LATEST}/packs/{pack_id}/scheduled"))["scheduled"] == []


async def test_latest_schedule_paths_reject_bad_input_and_unknown_ids(fleet: Fleet) -> None:
    query_id = await saved_query(fleet, "q")
    # A pack's entry needs its pack; the global schedule needs a query.
    assert_error(await fleet.client.post(f"{LATEST}/packs/schedule", json={"query_id": query_id, **EVERY_MINUTE},
                                         headers=fleet.as_admin), 422, "pack_id")
    assert_error(await fleet.client.post(f"{LATEST}/schedule", json={**EVERY_MINUTE}, headers=fleet.as_admin),
                 422, "query_id")
    assert_error(await fleet.client.post(f"{LATEST}/schedule", json={"query_id": 9999, **EVERY_MINUTE},
                                         headers=fleet.as_admin), 404)
    assert_error(await fleet.client.patch(f"{LATEST}/packs/schedule/9999", json={"interval": 5},
                                          headers=fleet.as_admin), 404)
    assert_error(await fleet.client.delete(f"{LATEST}/packs/schedule/9999", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get(f"{LATEST}/schedule/9999", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get(f"{LATEST}/schedule", params={"order_key": "nope"},
                                        headers=fleet.as_admin), 422, "order_key")


async def test_an_observer_may_not_change_either_schedule_on_latest(cast: Cast) -> None:
    fleet = cast.fleet
    pack_id = await pack(fleet, "p")
    query_id = await saved_query(fleet, "q")
    observer = cast["observer"].headers
    assert_error(await fleet.client.post(f"{LATEST}/schedule", json={"query_id": query_id, **EVERY_MINUTE},
                                         headers=observer), 403)
    assert_error(await fleet.client.post(f"{LATEST}/packs/schedule",
                                         json={"pack_id": pack_id, "query_id": query_id, **EVERY_MINUTE},
                                         headers=observer), 403)


# ---- setup without a version ----------------------------------------------------------------------

async def test_setup_is_also_served_without_a_version(blank: Fleet) -> None:
    body = await ok(blank, "POST", "/api/setup", SETUP, headers={})
    assert body["admin"]["global_role"] == "admin"
    me = await ok(blank, "GET", f"{LATEST}/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me["user"]["id"] == body["admin"]["id"]
    # Once set up, every path refuses a second setup.
    for url in ("/api/setup", "/api/v1/setup", "/api/latest/setup"):
        assert (await blank.client.post(url, json=SETUP)).status_code >= 400
