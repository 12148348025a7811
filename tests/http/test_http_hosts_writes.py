"""Hosts: delete, bulk delete, refetch and transfer (by ids and by filter), with validation and
who may do what."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import assert_error
from tests.http.test_http_hosts import HOSTS, V1, add_host, count, listed_ids, mark_seen

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio


async def host(fleet: Fleet, host_id: int) -> dict[str, Any]:
    response = await fleet.client.get(f"{HOSTS}/{host_id}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["host"])


# ---- delete -----------------------------------------------------------------------------------

async def test_delete_host_removes_it_and_its_data(fleet: Fleet) -> None:
    doomed = await add_host(fleet, "doomed")
    kept = await add_host(fleet, "kept")
    response = await fleet.client.delete(f"{HOSTS}/{doomed}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert_error(await fleet.client.get(f"{HOSTS}/{doomed}", headers=fleet.as_admin), 404)
    assert await listed_ids(fleet) == [kept]
    assert_error(await fleet.client.delete(f"{HOSTS}/{doomed}", headers=fleet.as_admin), 404)


async def test_delete_unknown_host_is_404(fleet: Fleet) -> None:
    assert_error(await fleet.client.delete(f"{HOSTS}/999", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.delete(f"{HOSTS}/{2**64}", headers=fleet.as_admin), 404)


@pytest.mark.parametrize(("role", "team", "status"), [
    ("admin", "team_one", 200),
    ("maintainer", "team_one", 200),
    ("observer", "team_one", 403),
    ("team_admin", "team_one", 200),
    ("team_maintainer", "team_one", 200),
    ("team_observer", "team_one", 403),
    ("team_admin", "team_two", 403),
    ("team_maintainer", "team_two", 403),
    ("team_maintainer", None, 403),
])
async def test_who_may_delete_a_host(cast: Cast, role: str, team: str | None, status: int) -> None:
    fleet = cast.fleet
    host_id = await add_host(fleet, "target", team_id=getattr(cast, team) if team else None)
    response = await fleet.client.delete(f"{HOSTS}/{host_id}", headers=cast[role].headers)
    assert response.status_code == status, response.text
    assert await count(fleet) == (0 if status == 200 else 1)


async def test_write_endpoints_need_a_token(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "safe")
    calls: list[tuple[str, str, Any]] = [
        ("DELETE", f"{HOSTS}/{host_id}", None),
        ("POST", f"{HOSTS}/{host_id}/refetch", None),
        ("POST", f"{HOSTS}/transfer", {"team_id": None, "hosts": [host_id]}),
        ("POST", f"{HOSTS}/transfer/filter", {"team_id": None, "filters": {"query": "safe"}}),
        ("POST", f"{HOSTS}/delete", {"ids": [host_id]}),
    ]
    for method, path, body in calls:
        assert_error(await fleet.client.request(method, path, json=body), 401)
    assert await count(fleet) == 1


# ---- bulk delete ------------------------------------------------------------------------------

async def test_bulk_delete_by_ids(fleet: Fleet) -> None:
    ids = [await add_host(fleet, f"h{i}") for i in range(3)]
    response = await fleet.client.post(f"{HOSTS}/delete", headers=fleet.as_admin, json={"ids": [ids[0], ids[2], 999]})
    assert response.status_code == 200, response.text
    assert await listed_ids(fleet) == [ids[1]]


async def test_bulk_delete_by_filters(cast: Cast) -> None:
    fleet = cast.fleet
    stale = await add_host(fleet, "stale", team_id=cast.team_one)
    live = await add_host(fleet, "live", team_id=cast.team_one)
    other = await add_host(fleet, "other", team_id=cast.team_two)
    fleet.clock.advance(dt.timedelta(minutes=5))
    await mark_seen(fleet, live, other)
    response = await fleet.client.post(f"{HOSTS}/delete", headers=fleet.as_admin, json={
        "filters": {"status": "online", "team_id": cast.team_one}})
    assert response.status_code == 200, response.text
    assert await listed_ids(fleet) == [stale, other]
    response = await fleet.client.post(f"{HOSTS}/delete", headers=fleet.as_admin, json={
        "filters": {"query": "stale"}})
    assert response.status_code == 200
    assert await listed_ids(fleet) == [other]


async def test_a_team_users_bulk_delete_by_filter_reaches_only_their_teams(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "box-one", team_id=cast.team_one)
    two = await add_host(fleet, "box-two", team_id=cast.team_two)
    response = await fleet.client.post(f"{HOSTS}/delete", headers=cast["team_maintainer"].headers,
                                       json={"filters": {"query": "box"}})
    assert response.status_code == 200, response.text
    assert await listed_ids(fleet) == [two]


@pytest.mark.parametrize(("body", "names", "status"), [
    ({}, ["ids", "filters"], 422),
    ({"ids": [1], "filters": {"query": "x"}}, ["ids", "filters"], 422),
    ({"filters": {}}, ["filters"], 422),
    ({"filters": {"status": "asleep"}}, ["filters.status"], 422),
    ({"filters": {"status": "online", "label_id": 1}}, ["filters.label_id"], 422),
    ({"ids": ["one"]}, ["ids[0]"], 400),
    ({"ids": 5}, ["ids"], 400),
    ({"filters": {"team_id": "one"}}, ["filters.team_id"], 400),
])
async def test_bulk_delete_validation(fleet: Fleet, body: dict[str, Any], names: list[str], status: int) -> None:
    await add_host(fleet, "survivor")
    assert_error(await fleet.client.post(f"{HOSTS}/delete", headers=fleet.as_admin, json=body), status, *names)
    assert await count(fleet) == 1


async def test_observers_may_not_bulk_delete(cast: Cast) -> None:
    fleet = cast.fleet
    host_id = await add_host(fleet, "kept", team_id=cast.team_one)
    for role, body in [("observer", {"ids": [host_id]}), ("observer", {"filters": {"query": "kept"}}),
                       ("team_observer", {"ids": [host_id]})]:
        assert_error(await fleet.client.post(f"{HOSTS}/delete", headers=cast[role].headers, json=body), 403)
    assert await count(fleet) == 1


# HostService._scoped authorizes the action only for global users or an explicit team_id filter,
# so a team observer's filter reaches delete_many unchecked (reported to the core's owner).
async def test_a_team_observer_may_not_bulk_delete_by_filter(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "kept", team_id=cast.team_one)
    response = await fleet.client.post(f"{HOSTS}/delete", headers=cast["team_observer"].headers,
                                       json={"filters": {"query": "kept"}})
    assert_error(response, 403)
    assert await count(fleet) == 1


# ---- refetch ----------------------------------------------------------------------------------

async def test_refetch_flags_the_host(cast: Cast) -> None:
    fleet = cast.fleet
    host_id = await add_host(fleet, "stale", team_id=cast.team_one)
    assert (await host(fleet, host_id))["refetch_requested"] is False
    # Any role that can see the host may ask for fresh data, observers included.
    response = await fleet.client.post(f"{HOSTS}/{host_id}/refetch", headers=cast["team_observer"].headers)
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert (await host(fleet, host_id))["refetch_requested"] is True


async def test_refetch_unknown_or_invisible_host(cast: Cast) -> None:
    fleet = cast.fleet
    assert_error(await fleet.client.post(f"{HOSTS}/31337/refetch", headers=fleet.as_admin), 404)
    other = await add_host(fleet, "other", team_id=cast.team_two)
    assert_error(await fleet.client.post(f"{HOSTS}/{other}/refetch", headers=cast["team_admin"].headers), 403)
    assert (await host(fleet, other))["refetch_requested"] is False


# ---- transfer by ids --------------------------------------------------------------------------

async def test_transfer_hosts_to_a_team_and_back_to_no_team(cast: Cast) -> None:
    fleet = cast.fleet
    a = await add_host(fleet, "a")
    b = await add_host(fleet, "b")
    response = await fleet.client.post(f"{HOSTS}/transfer", headers=fleet.as_admin,
                                       json={"team_id": cast.team_one, "hosts": [a, b]})
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert ((await host(fleet, a))["team_id"], (await host(fleet, a))["team_name"]) == (cast.team_one, "Team One")
    assert await listed_ids(fleet, team_id=cast.team_one) == [a, b]
    activities = (await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)).json()["activities"]
    transferred = next(x for x in activities if x["type"] == "transferred_hosts")
    assert transferred["details"]["team_id"] == cast.team_one
    assert sorted(transferred["details"]["host_ids"]) == [a, b]

    response = await fleet.client.post(f"{HOSTS}/transfer", headers=fleet.as_admin,
                                       json={"team_id": None, "hosts": [a]})
    assert response.status_code == 200, response.text
    assert (await host(fleet, a))["team_id"] is None
    assert await listed_ids(fleet, team_id=0) == [a]


@pytest.mark.parametrize(("body", "names", "status"), [
    ({"hosts": [1]}, ["team_id"], 422),
    ({"team_id": 1}, ["hosts"], 422),
    ({}, ["team_id", "hosts"], 422),
    ({"team_id": 1, "hosts": ["x"]}, ["hosts[0]"], 400),
    ({"team_id": "one", "hosts": [1]}, ["team_id"], 400),
    ({"team_id": 1, "hosts": None}, ["hosts"], 400),
])
async def test_transfer_validation(cast: Cast, body: dict[str, Any], names: list[str], status: int) -> None:
    fleet = cast.fleet
    await add_host(fleet, "stay")
    response = await fleet.client.post(f"{HOSTS}/transfer", headers=fleet.as_admin, json=body)
    assert_error(response, status, *names)
    assert await listed_ids(fleet, team_id=0) != []


async def test_transfer_to_an_unknown_team_is_404(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "stay")
    response = await fleet.client.post(f"{HOSTS}/transfer", headers=fleet.as_admin,
                                       json={"team_id": 77, "hosts": [host_id]})
    assert_error(response, 404)
    assert (await host(fleet, host_id))["team_id"] is None


@pytest.mark.parametrize(("role", "source", "target", "status"), [
    ("admin", None, "team_two", 200),
    ("maintainer", "team_one", None, 200),
    ("observer", None, "team_one", 403),
    ("team_admin", "team_one", "team_one", 200),
    ("team_maintainer", "team_one", "team_one", 200),
    ("team_maintainer", "team_one", "team_two", 403),
    ("team_maintainer", "team_two", "team_one", 403),
    ("team_maintainer", "team_one", None, 403),
    ("team_observer", "team_one", "team_one", 403),
])
async def test_who_may_transfer_hosts(cast: Cast, role: str, source: str | None, target: str | None,
                                      status: int) -> None:
    fleet = cast.fleet
    source_id = getattr(cast, source) if source else None
    target_id = getattr(cast, target) if target else None
    host_id = await add_host(fleet, "mover", team_id=source_id)
    response = await fleet.client.post(f"{HOSTS}/transfer", headers=cast[role].headers,
                                       json={"team_id": target_id, "hosts": [host_id]})
    assert response.status_code == status, response.text
    assert (await host(fleet, host_id))["team_id"] == (target_id if status == 200 else source_id)


# ---- transfer by filter -----------------------------------------------------------------------

async def test_transfer_by_filter_moves_the_matching_hosts(cast: Cast) -> None:
    fleet = cast.fleet
    asleep = await add_host(fleet, "asleep")
    awake = await add_host(fleet, "awake")
    fleet.clock.advance(dt.timedelta(minutes=10))
    await mark_seen(fleet, awake)
    response = await fleet.client.post(f"{HOSTS}/transfer/filter", headers=fleet.as_admin,
                                       json={"team_id": cast.team_two, "filters": {"status": "online"}})
    assert response.status_code == 200, response.text
    assert await listed_ids(fleet, team_id=cast.team_two) == [awake]
    response = await fleet.client.post(f"{HOSTS}/transfer/filter", headers=fleet.as_admin,
                                       json={"team_id": cast.team_one, "filters": {"query": "asleep"}})
    assert response.status_code == 200
    assert await listed_ids(fleet, team_id=cast.team_one) == [asleep]


async def test_a_team_maintainer_transfers_by_filter_only_within_their_team(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "one", team_id=cast.team_one)
    headers = cast["team_maintainer"].headers
    response = await fleet.client.post(f"{HOSTS}/transfer/filter", headers=headers,
                                       json={"team_id": cast.team_two, "filters": {"query": "one"}})
    assert_error(response, 403)
    assert await listed_ids(fleet, team_id=cast.team_two) == []


@pytest.mark.parametrize(("body", "names", "status"), [
    ({"filters": {"status": "online"}}, ["team_id"], 422),
    ({"team_id": 1}, ["filters"], 422),
    ({"team_id": 1, "filters": {"status": "dozing"}}, ["filters.status"], 422),
    ({"team_id": 1, "filters": {"label_id": "x"}}, ["filters.label_id"], 400),
    ({"team_id": 1, "filters": []}, ["filters"], 400),
])
async def test_transfer_by_filter_validation(cast: Cast, body: dict[str, Any], names: list[str],
                                             status: int) -> None:
    fleet = cast.fleet
    await add_host(fleet, "stay")
    response = await fleet.client.post(f"{HOSTS}/transfer/filter", headers=fleet.as_admin, json=body)
    assert_error(response, status, *names)
    assert await listed_ids(fleet, team_id=0) != []
