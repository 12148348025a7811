"""Pack specs: `GET /spec/packs`, `GET /spec/packs/{name}` and `POST /spec/packs` (all or nothing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import ROLES, assert_error

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
SPEC = f"{V1}/spec/packs"


async def add_query(fleet: Fleet, name: str, sql: str = "SELECT * FROM osquery_info;") -> int:
    response = await fleet.client.post(f"{V1}/queries", headers=fleet.as_admin, json={"name": name, "query": sql})
    assert response.status_code == 200, response.text
    return int(response.json()["query"]["id"])


async def add_label(fleet: Fleet, name: str) -> int:
    response = await fleet.client.post(f"{V1}/labels", headers=fleet.as_admin,
                                       json={"name": name, "query": "SELECT 1;"})
    assert response.status_code == 200, response.text
    return int(response.json()["label"]["id"])


async def specs(fleet: Fleet) -> list[dict[str, Any]]:
    response = await fleet.client.get(SPEC, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return list(response.json()["specs"])


PACK = {
    "name": "pack_1",
    "description": "Description",
    "disabled": False,
    "targets": {"labels": ["Laptops"], "teams": ["Team One"]},
    "queries": [
        {"query": "osquery_info", "name": "osquery_info", "description": "", "interval": 6667,
         "snapshot": True, "removed": False},
        {"query": "osquery_info", "name": "osquery_info-1", "description": "", "interval": 120,
         "snapshot": False, "removed": True, "platform": "windows", "version": "4.5.0", "shard": 10},
    ],
}


async def prepared(cast: Cast) -> Fleet:
    fleet = cast.fleet
    await add_query(fleet, "osquery_info")
    await add_query(fleet, "usb_devices", "SELECT * FROM usb_devices;")
    await add_label(fleet, "Laptops")
    renamed = await fleet.client.patch(f"{V1}/teams/{cast.team_one}", headers=fleet.as_admin,
                                       json={"name": "Team One"})
    assert renamed.status_code == 200, renamed.text
    return fleet


async def test_an_applied_pack_reads_back_as_the_doc_shows_and_reaches_the_packs_api(cast: Cast) -> None:
    fleet = await prepared(cast)
    response = await fleet.client.post(SPEC, headers=fleet.as_admin, json={"specs": [PACK]})
    assert response.status_code == 200, response.text
    assert response.json() == {}

    [spec] = await specs(fleet)
    assert spec == {
        "id": spec["id"], "name": "pack_1", "description": "Description", "disabled": False,
        "targets": {"labels": ["Laptops"], "teams": ["Team One"]},
        "queries": [
            {"query": "osquery_info", "name": "osquery_info", "description": "", "interval": 6667,
             "platform": "", "version": "", "snapshot": True, "removed": False},
            {"query": "osquery_info", "name": "osquery_info-1", "description": "", "interval": 120,
             "platform": "windows", "version": "4.5.0", "snapshot": False, "removed": True, "shard": 10},
        ],
    }
    one = await fleet.client.get(f"{SPEC}/pack_1", headers=fleet.as_admin)
    assert one.status_code == 200 and one.json()["specs"] == spec
    pack = (await fleet.client.get(f"{V1}/packs/{spec['id']}", headers=fleet.as_admin)).json()["pack"]
    assert pack["query_count"] == 2 and pack["team_ids"] == [cast.team_one] and len(pack["label_ids"]) == 1
    activities = (await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)).json()["activities"]
    assert [a["type"] for a in activities].count("applied_spec_pack") == 1


async def test_applying_again_replaces_targets_and_queries_and_keeps_the_id(cast: Cast) -> None:
    fleet = await prepared(cast)
    assert (await fleet.client.post(SPEC, headers=fleet.as_admin, json={"specs": [PACK]})).status_code == 200
    [before] = await specs(fleet)
    changed = {**PACK, "description": "", "targets": {"labels": None, "teams": None}, "queries": [
        {"query": "usb_devices", "name": "osquery_info", "interval": 60},
        {"query": "osquery_info", "name": "osquery_info-1", "interval": 300, "snapshot": True}]}
    assert (await fleet.client.post(SPEC, headers=fleet.as_admin, json={"specs": [changed]})).status_code == 200

    [after] = await specs(fleet)
    assert after["id"] == before["id"]
    assert after["targets"] == {"labels": None, "teams": None}
    assert sorted(after["queries"], key=lambda q: q["name"]) == [
        {"query": "usb_devices", "name": "osquery_info", "description": "", "interval": 60, "platform": "",
         "version": ""},
        {"query": "osquery_info", "name": "osquery_info-1", "description": "", "interval": 300, "platform": "",
         "version": "", "snapshot": True},
    ]


async def test_what_get_shows_applies_unchanged(cast: Cast) -> None:
    fleet = await prepared(cast)
    assert (await fleet.client.post(SPEC, headers=fleet.as_admin, json={"specs": [PACK]})).status_code == 200
    shown = await specs(fleet)
    assert (await fleet.client.post(SPEC, headers=fleet.as_admin, json={"specs": shown})).status_code == 200
    assert await specs(fleet) == shown


@pytest.mark.parametrize(("broken", "field"), [
    ({"name": " "}, "specs[1].name"),
    ({"name": "Global"}, "specs[1].name"),
    ({"targets": {"labels": ["No such label"]}}, "specs[1].targets.labels"),
    ({"targets": {"teams": ["No such team"]}}, "specs[1].targets.teams"),
    ({"queries": [{"query": "missing", "name": "x", "interval": 60}]}, "specs[1].queries[0].query"),
    ({"queries": [{"query": "osquery_info", "name": "x", "interval": 0}]}, "specs[1].queries[0].interval"),
    ({"queries": [{"query": "osquery_info", "name": "x", "interval": 9, "shard": 101}]},
     "specs[1].queries[0].shard"),
    ({"queries": [{"query": "osquery_info", "name": "x", "interval": 9, "platform": "beos"}]},
     "specs[1].queries[0].platform"),
    ({"queries": [{"query": "osquery_info", "name": "x", "interval": 9},
                  {"query": "usb_devices", "name": "x", "interval": 9}]}, "specs[1].queries[1].name"),
    ({"name": "pack_1 "}, "specs[1].name"),
])
async def test_one_bad_spec_applies_nothing_and_is_named(cast: Cast, broken: dict[str, Any], field: str) -> None:
    fleet = await prepared(cast)
    response = await fleet.client.post(SPEC, headers=fleet.as_admin, json={"specs": [PACK, {**PACK, **broken}]})
    assert_error(response, 422, field)
    assert await specs(fleet) == []
    activities = (await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)).json()["activities"]
    assert "applied_spec_pack" not in [a["type"] for a in activities]


async def test_malformed_bodies_and_unknown_names(cast: Cast) -> None:
    fleet = cast.fleet
    assert_error(await fleet.client.post(SPEC, headers=fleet.as_admin, json={}), 422, "specs")
    response = await fleet.client.post(SPEC, headers=fleet.as_admin, json={"specs": [{"name": 3}]})
    assert response.status_code == 400, response.text
    response = await fleet.client.post(SPEC, headers=fleet.as_admin,
                                       json={"specs": [{"name": "p", "queries": [{"interval": "often"}]}]})
    assert response.status_code == 400, response.text
    assert_error(await fleet.client.get(f"{SPEC}/nope", headers=fleet.as_admin), 404)
    # The schedules' own packs are not user packs.
    query_id = await add_query(fleet, "q")
    scheduled = await fleet.client.post(f"{V1}/global/schedule", headers=fleet.as_admin,
                                        json={"query_id": query_id, "interval": 60, "snapshot": True})
    assert scheduled.status_code == 200, scheduled.text
    assert_error(await fleet.client.get(f"{SPEC}/Global", headers=fleet.as_admin), 404)
    assert await specs(fleet) == []


@pytest.mark.parametrize("role", ROLES)
async def test_only_global_admins_and_maintainers_apply_and_global_users_read(cast: Cast, role: str) -> None:
    fleet = await prepared(cast)
    headers = cast[role].headers
    applied = await fleet.client.post(SPEC, headers=headers, json={"specs": [PACK]})
    read = await fleet.client.get(SPEC, headers=headers)
    if role in ("admin", "maintainer"):
        assert applied.status_code == 200, applied.text
    else:
        assert_error(applied, 403)
    if role in ("admin", "maintainer", "observer"):
        assert read.status_code == 200, read.text
    else:
        assert_error(read, 403)
