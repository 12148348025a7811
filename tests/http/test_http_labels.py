"""Labels: create, modify, get, summary, list, hosts in a label and delete (by name and id), with
validation, built-in protection, authorization, and delivery of new labels to agents."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from fleet_core.services.agents import LABEL_PREFIX
from tests.http.support import assert_error, assert_timestamp
from tests.http.test_http_hosts import HOST_KEYS, add_host, vitals

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
LATEST = "/api/latest/fleet"
LABELS = f"{V1}/labels"
LABEL_KEYS = {
    "created_at", "updated_at", "id", "name", "description", "query", "platform", "label_type",
    "label_membership_type", "host_count", "display_text", "count", "host_ids",
}
UBUNTU = {"name": "Ubuntu hosts", "description": "Filters ubuntu hosts",
          "query": "SELECT 1 FROM os_version WHERE platform = 'ubuntu';", "platform": ""}


async def create(fleet: Fleet, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await fleet.client.post(LABELS, json=body, headers=headers or fleet.as_admin)
    assert response.status_code == 200, response.text
    label: dict[str, Any] = response.json()["label"]
    return label


async def test_create_returns_a_regular_dynamic_label(fleet: Fleet) -> None:
    label = await create(fleet, UBUNTU)

    assert set(label) == LABEL_KEYS
    assert label["id"] > 8
    assert {k: label[k] for k in UBUNTU} == UBUNTU
    assert (label["label_type"], label["label_membership_type"]) == ("regular", "dynamic")
    assert (label["display_text"], label["host_count"], label["count"], label["host_ids"]) == (
        "Ubuntu hosts", 0, 0, None)
    assert_timestamp(label["created_at"])
    assert_timestamp(label["updated_at"])


async def test_create_validates_its_body(fleet: Fleet) -> None:
    h = fleet.as_admin
    assert_error(await fleet.client.post(LABELS, json={"query": "SELECT 1"}, headers=h), 422, "name")
    assert_error(await fleet.client.post(LABELS, json={"name": "x"}, headers=h), 422, "query")
    assert_error(await fleet.client.post(LABELS, json={"name": " ", "query": "SELECT 1"}, headers=h), 422, "name")
    assert_error(await fleet.client.post(LABELS, json={"name": "x", "query": "  "}, headers=h), 422, "query")
    assert_error(await fleet.client.post(LABELS, json={"name": "x", "query": "SELECT 1", "platform": "beos"},
                                         headers=h), 422, "platform")
    assert_error(await fleet.client.post(LABELS, json={"name": 5, "query": "SELECT 1"}, headers=h), 400, "name")
    assert_error(await fleet.client.post(LABELS, json={"name": "x", "host_ids": [999]}, headers=h), 422,
                 "host_ids")


async def test_names_are_unique(fleet: Fleet) -> None:
    await create(fleet, UBUNTU)
    other = await create(fleet, {"name": "other", "query": "SELECT 1"})

    assert_error(await fleet.client.post(LABELS, json=UBUNTU, headers=fleet.as_admin), 409)
    assert_error(await fleet.client.post(LABELS, json={"name": "macOS", "query": "SELECT 1"},
                                         headers=fleet.as_admin), 409)
    assert_error(await fleet.client.patch(f"{LABELS}/{other['id']}", json={"name": "Ubuntu hosts"},
                                          headers=fleet.as_admin), 409)


async def test_a_manual_label_lists_its_hosts(fleet: Fleet) -> None:
    one = await add_host(fleet, "one")
    two = await add_host(fleet, "two")
    three = await add_host(fleet, "three")

    label = await create(fleet, {"name": "pets", "host_ids": [two, one]})
    assert (label["label_membership_type"], label["query"], label["host_ids"], label["host_count"]) == (
        "manual", "", [one, two], 2)

    response = await fleet.client.patch(f"{LABELS}/{label['id']}", json={"host_ids": [three]},
                                        headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert response.json()["label"]["host_ids"] == [three]

    hosts = (await fleet.client.get(f"{LABELS}/{label['id']}/hosts", headers=fleet.as_admin)).json()["hosts"]
    assert [h["id"] for h in hosts] == [three]
    assert_error(await fleet.client.patch(f"{LABELS}/{label['id']}", json={"query": "SELECT 1"},
                                          headers=fleet.as_admin), 422, "query")
    assert_error(await fleet.client.post(LABELS, json={"name": "both", "query": "SELECT 1", "host_ids": [one]},
                                         headers=fleet.as_admin), 422, "query")


async def test_modify_changes_fields_and_keeps_the_rest(fleet: Fleet) -> None:
    label = await create(fleet, UBUNTU)
    fleet.clock.advance(dt.timedelta(minutes=1))

    response = await fleet.client.patch(f"{LATEST}/labels/{label['id']}", headers=fleet.as_admin, json={
        "name": "macOS label", "description": "Now this label only includes macOS machines", "platform": "darwin"})

    assert response.status_code == 200, response.text
    changed = response.json()["label"]
    assert set(changed) == LABEL_KEYS
    assert (changed["name"], changed["display_text"], changed["platform"], changed["query"]) == (
        "macOS label", "macOS label", "darwin", UBUNTU["query"])
    assert changed["description"] == "Now this label only includes macOS machines"
    assert changed["created_at"] == label["created_at"]
    assert changed["updated_at"] > label["updated_at"]
    got = (await fleet.client.get(f"{LABELS}/{label['id']}", headers=fleet.as_admin)).json()["label"]
    assert got == changed


async def test_modify_refuses_bad_input_unknown_ids_and_builtins(fleet: Fleet) -> None:
    label = await create(fleet, UBUNTU)
    h = fleet.as_admin

    assert_error(await fleet.client.patch(f"{LABELS}/{label['id']}", json={"name": ""}, headers=h), 422, "name")
    assert_error(await fleet.client.patch(f"{LABELS}/{label['id']}", json={"platform": "x"}, headers=h), 422)
    assert_error(await fleet.client.patch(f"{LABELS}/{label['id']}", json={"name": 1}, headers=h), 400, "name")
    assert_error(await fleet.client.patch(f"{LABELS}/{label['id']}", json={"host_ids": [1]}, headers=h), 422,
                 "host_ids")
    assert_error(await fleet.client.patch(f"{LABELS}/999", json={"name": "x"}, headers=h), 404)
    body = assert_error(await fleet.client.patch(f"{LABELS}/2", json={"name": "Apple"}, headers=h), 422)
    assert "built-in" in body["errors"][0]["reason"]


async def test_editing_the_query_drops_stale_memberships(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "one")
    label = await create(fleet, {"name": "dyn", "query": "SELECT 1"})
    async with fleet.kit.store.unit_of_work() as uow:
        await uow.labels.record_results(host_id, {label["id"]: True}, fleet.clock.now())
        await uow.commit()
    path = f"{LABELS}/{label['id']}"

    renamed = await fleet.client.patch(path, json={"name": "dyn2"}, headers=fleet.as_admin)
    assert renamed.json()["label"]["host_count"] == 1
    requeried = await fleet.client.patch(path, json={"query": "SELECT 2"}, headers=fleet.as_admin)
    assert (requeried.json()["label"]["query"], requeried.json()["label"]["host_count"]) == ("SELECT 2", 0)


async def test_get_returns_builtins_and_404s_unknown_ids(fleet: Fleet) -> None:
    response = await fleet.client.get(f"{LABELS}/1", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    label = response.json()["label"]
    assert set(label) == LABEL_KEYS
    assert (label["name"], label["label_type"], label["query"]) == ("All Hosts", "builtin", "SELECT 1;")
    assert_error(await fleet.client.get(f"{LABELS}/999", headers=fleet.as_admin), 404)


async def test_summary_lists_every_label_briefly(fleet: Fleet) -> None:
    created = await create(fleet, UBUNTU)

    response = await fleet.client.get(f"{LATEST}/labels/summary", headers=fleet.as_admin)

    assert response.status_code == 200, response.text
    labels = response.json()["labels"]
    assert all(set(label) == {"id", "name", "description", "label_type"} for label in labels)
    assert labels[0] == {"id": 1, "name": "All Hosts", "description": "All hosts which have enrolled in Fleet",
                         "label_type": "builtin"}
    assert labels[-1] == {"id": created["id"], "name": "Ubuntu hosts", "description": "Filters ubuntu hosts",
                          "label_type": "regular"}
    assert len(labels) == 9


async def test_list_counts_hosts_orders_pages_and_validates(fleet: Fleet) -> None:
    await add_host(fleet, "one")
    await add_host(fleet, "two")
    await create(fleet, {"name": "Alpha", "query": "SELECT 1"})
    h = fleet.as_admin

    labels = (await fleet.client.get(LABELS, headers=h)).json()["labels"]
    assert all(set(label) == LABEL_KEYS for label in labels)
    assert [label["name"] for label in labels][-1] == "Alpha"
    assert (labels[0]["name"], labels[0]["host_count"], labels[0]["count"]) == ("All Hosts", 2, 2)

    ordered = (await fleet.client.get(LABELS, params={"order_key": "name", "order_direction": "desc",
                                                      "per_page": 2}, headers=h)).json()["labels"]
    assert [label["name"] for label in ordered] == ["Ubuntu Linux", "Red Hat Linux"]
    searched = (await fleet.client.get(LABELS, params={"query": "alp"}, headers=h)).json()["labels"]
    assert [label["name"] for label in searched] == ["Alpha"]
    assert_error(await fleet.client.get(LABELS, params={"order_key": "nope"}, headers=h), 422, "order_key")
    assert_error(await fleet.client.get(LABELS, params={"order_direction": "sideways", "order_key": "id"},
                                        headers=h), 422)


async def test_hosts_in_a_label_are_filtered_like_the_hosts_list(fleet: Fleet) -> None:
    one = await add_host(fleet, "floobar42")
    two = await add_host(fleet, "other")
    label = await create(fleet, {"name": "dyn", "query": "SELECT 1"})
    async with fleet.kit.store.unit_of_work() as uow:
        await uow.labels.record_results(one, {label["id"]: True}, fleet.clock.now())
        await uow.labels.record_results(two, {label["id"]: True}, fleet.clock.now())
        await uow.commit()
    path = f"{LATEST}/labels/{label['id']}/hosts"

    everything = (await fleet.client.get(path, headers=fleet.as_admin)).json()["hosts"]
    assert [h["id"] for h in everything] == [one, two]
    listed = (await fleet.client.get(f"{V1}/hosts", params={"query": "floobar"}, headers=fleet.as_admin))
    assert everything[0] == listed.json()["hosts"][0]
    assert HOST_KEYS <= set(everything[0])
    found = (await fleet.client.get(path, params={"query": "floobar"}, headers=fleet.as_admin)).json()["hosts"]
    assert [h["id"] for h in found] == [one]
    ordered = (await fleet.client.get(path, params={"order_key": "hostname", "order_direction": "desc"},
                                      headers=fleet.as_admin)).json()["hosts"]
    assert [h["id"] for h in ordered] == [two, one]
    assert_error(await fleet.client.get(path, params={"status": "asleep"}, headers=fleet.as_admin), 422, "status")
    assert_error(await fleet.client.get(f"{LABELS}/999/hosts", headers=fleet.as_admin), 404)


async def test_delete_by_name_and_by_id(fleet: Fleet) -> None:
    first = await create(fleet, {"name": "ubuntu_label", "query": "SELECT 1"})
    second = await create(fleet, {"name": "second", "query": "SELECT 1"})
    h = fleet.as_admin

    response = await fleet.client.delete(f"{LABELS}/ubuntu_label", headers=h)
    assert (response.status_code, response.json()) == (200, {})
    response = await fleet.client.delete(f"{LATEST}/labels/id/{second['id']}", headers=h)
    assert (response.status_code, response.json()) == (200, {})

    assert_error(await fleet.client.get(f"{LABELS}/{first['id']}", headers=h), 404)
    assert_error(await fleet.client.get(f"{LABELS}/{second['id']}", headers=h), 404)
    assert_error(await fleet.client.delete(f"{LABELS}/ubuntu_label", headers=h), 404)
    assert_error(await fleet.client.delete(f"{LABELS}/id/{second['id']}", headers=h), 404)


async def test_builtin_labels_cannot_be_deleted(fleet: Fleet) -> None:
    assert_error(await fleet.client.delete(f"{LABELS}/macOS", headers=fleet.as_admin), 422)
    assert_error(await fleet.client.delete(f"{LABELS}/id/1", headers=fleet.as_admin), 422)
    assert (await fleet.client.get(f"{LABELS}/1", headers=fleet.as_admin)).status_code == 200


async def test_every_endpoint_needs_a_token(fleet: Fleet) -> None:
    calls = [("GET", LABELS), ("GET", f"{LABELS}/summary"), ("GET", f"{LABELS}/1"), ("GET", f"{LABELS}/1/hosts"),
             ("POST", LABELS), ("PATCH", f"{LABELS}/1"), ("DELETE", f"{LABELS}/x"), ("DELETE", f"{LABELS}/id/1")]
    for method, path in calls:
        response = await fleet.client.request(method, path, json={} if method in ("POST", "PATCH") else None)
        assert_error(response, 401)


@pytest.mark.parametrize("role", ["observer", "team_admin", "team_maintainer", "team_observer"])
async def test_only_global_admins_and_maintainers_write(cast: Cast, role: str) -> None:
    fleet = cast.fleet
    label = await create(fleet, {"name": "dyn", "query": "SELECT 1"})
    h = cast[role].headers

    assert_error(await fleet.client.post(LABELS, json=UBUNTU, headers=h), 403)
    assert_error(await fleet.client.patch(f"{LABELS}/{label['id']}", json={"name": "y"}, headers=h), 403)
    assert_error(await fleet.client.delete(f"{LABELS}/dyn", headers=h), 403)
    assert_error(await fleet.client.delete(f"{LABELS}/id/{label['id']}", headers=h), 403)
    # Reading is open to every role.
    assert (await fleet.client.get(f"{LABELS}/{label['id']}", headers=h)).status_code == 200
    assert (await fleet.client.get(LABELS, headers=h)).status_code == 200
    assert (await fleet.client.get(f"{LABELS}/summary", headers=h)).status_code == 200


async def test_a_maintainer_manages_labels(cast: Cast) -> None:
    fleet = cast.fleet
    h = cast["maintainer"].headers
    label = await create(fleet, UBUNTU, headers=h)

    assert (await fleet.client.patch(f"{LABELS}/{label['id']}", json={"name": "m"}, headers=h)).status_code == 200
    assert (await fleet.client.delete(f"{LABELS}/id/{label['id']}", headers=h)).status_code == 200


async def test_team_users_count_and_list_only_their_teams_hosts(cast: Cast) -> None:
    fleet = cast.fleet
    mine = await add_host(fleet, "mine", team_id=cast.team_one)
    await add_host(fleet, "theirs", team_id=cast.team_two)
    h = cast["team_observer"].headers

    all_hosts = (await fleet.client.get(f"{LABELS}/1", headers=h)).json()["label"]
    assert all_hosts["host_count"] == 1
    hosts = (await fleet.client.get(f"{LABELS}/1/hosts", headers=h)).json()["hosts"]
    assert [host["id"] for host in hosts] == [mine]


async def _due_host(fleet: Fleet, name: str) -> Any:
    # Enrolled without detail or label results, so its label check-in is due.
    async with fleet.kit.store.unit_of_work() as uow:
        host = (await uow.hosts.enroll(osquery_host_id=f"osquery-{name}", node_key_hash=name, team_id=None,
                                       at=fleet.clock.now(), fields=vitals(name))).host
        await uow.commit()
    return host


async def test_a_new_dynamic_label_reaches_agents_and_a_manual_one_never_does(fleet: Fleet) -> None:
    host = await _due_host(fleet, "agent")
    dynamic = await create(fleet, {"name": "dyn", "query": "SELECT 42;"})
    manual = await create(fleet, {"name": "pets", "host_ids": [host.id]})
    # The agent service caches labels for a second; a fresh check-in must not reuse an older list.
    fleet.clock.advance(dt.timedelta(seconds=2))

    queries = (await fleet.kit.services.agents.distributed_read(host)).queries

    assert queries[f"{LABEL_PREFIX}{dynamic['id']}"] == "SELECT 42;"
    assert f"{LABEL_PREFIX}{manual['id']}" not in queries
    assert f"{LABEL_PREFIX}1" in queries


async def _activities(fleet: Fleet, type_: str) -> list[dict[str, Any]]:
    response = await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return [a["details"] for a in response.json()["activities"] if a["type"] == type_]


async def test_creating_editing_and_deleting_labels_are_activities(fleet: Fleet) -> None:
    first = await create(fleet, {"name": "first", "query": "SELECT 1"})
    second = await create(fleet, {"name": "second", "host_ids": []})
    response = await fleet.client.patch(f"{LABELS}/{first['id']}", json={"name": "renamed"}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text

    assert (await fleet.client.delete(f"{LABELS}/renamed", headers=fleet.as_admin)).status_code == 200
    assert (await fleet.client.delete(f"{LABELS}/id/{second['id']}", headers=fleet.as_admin)).status_code == 200

    assert await _activities(fleet, "created_label") == [{"label_id": first["id"], "label_name": "first"},
                                                         {"label_id": second["id"], "label_name": "second"}]
    assert await _activities(fleet, "edited_label") == [{"label_id": first["id"], "label_name": "renamed"}]
    assert await _activities(fleet, "deleted_label") == [{"label_name": "renamed"}, {"label_name": "second"}]


async def test_refused_label_writes_record_nothing(fleet: Fleet) -> None:
    h = fleet.as_admin
    assert_error(await fleet.client.post(LABELS, json={"name": "macOS", "query": "SELECT 1"}, headers=h), 409)
    assert_error(await fleet.client.patch(f"{LABELS}/2", json={"name": "Apple"}, headers=h), 422)
    assert_error(await fleet.client.delete(f"{LABELS}/macOS", headers=h), 422)
    assert_error(await fleet.client.delete(f"{LABELS}/id/999", headers=h), 404)

    for type_ in ("created_label", "edited_label", "deleted_label"):
        assert await _activities(fleet, type_) == []
