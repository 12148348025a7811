"""Targets: search targets (POST /targets), count targets (POST /targets/count) and search hosts
(POST /hosts/search), with the selection rules, host status counts, validation and the role table
(observers only when observers may run the query; team users only their teams' hosts)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from tests.http.support import assert_error
from tests.http.test_http_hosts import HOST_KEYS, add_host, mark_seen

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
TARGETS = f"{V1}/targets"
COUNT = f"{V1}/targets/count"
SEARCH = f"{V1}/hosts/search"
LABEL_KEYS = {"created_at", "updated_at", "id", "name", "description", "query", "platform", "label_type",
              "label_membership_type", "host_count", "display_text", "count"}
TEAM_KEYS = {"id", "created_at", "name", "description", "agent_options", "user_count", "host_count",
             "display_text", "count"}


@attrs.frozen
class World:
    """Team One: web-1, db-1; Team Two: web-2; no team: web-3. Label "Web servers" holds the
    three web hosts; two saved queries, one observers may run."""

    cast: Cast
    web1: int
    db1: int
    web2: int
    web3: int
    web_label: int
    all_hosts: int
    observer_query: int
    admin_query: int

    @property
    def fleet(self) -> Fleet:
        return self.cast.fleet


@pytest.fixture
async def world(cast: Cast) -> World:
    fleet = cast.fleet
    h = fleet.as_admin
    web1 = await add_host(fleet, "web-1", team_id=cast.team_one, primary_ip="10.0.0.1")
    db1 = await add_host(fleet, "db-1", team_id=cast.team_one, primary_ip="10.0.0.2")
    web2 = await add_host(fleet, "web-2", team_id=cast.team_two, primary_ip="172.16.0.3")
    web3 = await add_host(fleet, "web-3", primary_ip="172.16.0.4")
    response = await fleet.client.post(f"{V1}/labels", json={"name": "Web servers", "host_ids": [web1, web2, web3]},
                                       headers=h)
    assert response.status_code == 200, response.text
    web_label = response.json()["label"]["id"]
    response = await fleet.client.get(f"{V1}/labels", params={"query": "All Hosts"}, headers=h)
    [all_hosts] = [lb["id"] for lb in response.json()["labels"] if lb["name"] == "All Hosts"]
    queries = []
    for name, observers in (("observed", True), ("admins only", False)):
        response = await fleet.client.post(f"{V1}/queries", json={
            "name": name, "query": "SELECT 1", "observer_can_run": observers}, headers=h)
        assert response.status_code == 200, response.text
        queries.append(response.json()["query"]["id"])
    return World(cast=cast, web1=web1, db1=db1, web2=web2, web3=web3, web_label=web_label, all_hosts=all_hosts,
                 observer_query=queries[0], admin_query=queries[1])


async def post(fleet: Fleet, path: str, body: dict[str, Any], headers: dict[str, str] | None = None,
               ) -> dict[str, Any]:
    response = await fleet.client.post(path, json=body, headers=headers or fleet.as_admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def counted(w: World, headers: dict[str, str] | None = None, **body: Any) -> int:
    found = await post(w.fleet, COUNT, body, headers)
    return int(found["targets_count"])


def selected(hosts: list[int] | None = None, labels: list[int] | None = None,
             teams: list[int] | None = None) -> dict[str, list[int]]:
    return {"hosts": hosts or [], "labels": labels or [], "teams": teams or []}


# ---- POST /targets -------------------------------------------------------------------------

async def test_search_targets_returns_hosts_labels_teams_and_the_selection_metrics(world: World) -> None:
    w = world
    body = await post(w.fleet, TARGETS, {"query": "", "selected": selected(labels=[w.web_label])})

    assert set(body) == {"targets", "targets_count", "targets_online", "targets_offline",
                         "targets_missing_in_action"}
    hosts = body["targets"]["hosts"]
    assert sorted(h["id"] for h in hosts) == sorted([w.web1, w.db1, w.web2, w.web3])
    for host in hosts:
        assert HOST_KEYS <= set(host)
        assert host["display_text"] == host["hostname"]
        assert host["status"] == "online"
    labels = {lb["name"]: lb for lb in body["targets"]["labels"]}
    # The selected label is not offered again; the built-in ones come first.
    assert "Web servers" not in labels
    assert body["targets"]["labels"][0]["label_type"] == "builtin"
    all_hosts = labels["All Hosts"]
    assert LABEL_KEYS <= set(all_hosts)
    assert (all_hosts["display_text"], all_hosts["count"], all_hosts["host_count"]) == ("All Hosts", 4, 4)
    teams = {t["name"]: t for t in body["targets"]["teams"]}
    assert set(teams) == {"Team One", "Team Two"}
    assert TEAM_KEYS <= set(teams["Team One"])
    assert (teams["Team One"]["display_text"], teams["Team One"]["count"], teams["Team One"]["host_count"]) == (
        "Team One", 2, 2)
    assert (body["targets_count"], body["targets_online"], body["targets_offline"],
            body["targets_missing_in_action"]) == (3, 3, 0, 0)


async def test_search_targets_matches_hosts_labels_and_teams_by_text(world: World) -> None:
    w = world
    body = await post(w.fleet, TARGETS, {"query": "WEB", "selected": selected(hosts=[w.web2])})
    assert sorted(h["id"] for h in body["targets"]["hosts"]) == sorted([w.web1, w.web3])
    assert [lb["name"] for lb in body["targets"]["labels"]] == ["Web servers"]
    assert body["targets"]["labels"][0]["count"] == 3
    assert body["targets"]["teams"] == []
    assert body["targets_count"] == 1

    body = await post(w.fleet, TARGETS, {"query": "172.16", "selected": selected()})
    assert sorted(h["id"] for h in body["targets"]["hosts"]) == sorted([w.web2, w.web3])
    body = await post(w.fleet, TARGETS, {"query": "two", "selected": selected(teams=[w.cast.team_one])})
    assert [t["name"] for t in body["targets"]["teams"]] == ["Team Two"]
    assert body["targets_count"] == 2


async def test_search_targets_without_a_selection_counts_nothing(world: World) -> None:
    body = await post(world.fleet, TARGETS, {"query": "db"})
    assert [h["id"] for h in body["targets"]["hosts"]] == [world.db1]
    assert (body["targets_count"], body["targets_online"], body["targets_offline"]) == (0, 0, 0)


async def test_search_targets_counts_online_offline_and_missing_hosts(world: World) -> None:
    w = world
    fleet = w.fleet
    fleet.clock.advance(dt.timedelta(days=31))
    await mark_seen(fleet, w.web1)
    # Sessions expire after a few idle days.
    headers = {"Authorization": f"Bearer {await fleet.login(w.cast['admin'].email)}"}
    fleet.clock.advance(dt.timedelta(minutes=5))
    await mark_seen(fleet, w.db1)
    body = await post(fleet, TARGETS, {"query": "", "selected": selected(labels=[w.all_hosts])}, headers)
    # db-1 was seen just now, web-1 five minutes ago (offline), web-2 and web-3 31 days ago.
    assert (body["targets_count"], body["targets_online"], body["targets_offline"],
            body["targets_missing_in_action"]) == (4, 1, 3, 2)
    status = {h["id"]: h["status"] for h in body["targets"]["hosts"]}
    assert status == {w.db1: "online", w.web1: "offline", w.web2: "offline", w.web3: "offline"}


async def test_search_targets_offers_at_most_ten_hosts(cast: Cast) -> None:
    fleet = cast.fleet
    for i in range(12):
        await add_host(fleet, f"many-{i:02}")
    body = await post(fleet, TARGETS, {"query": "many", "selected": selected()})
    assert len(body["targets"]["hosts"]) == 10


# ---- POST /targets/count -------------------------------------------------------------------

async def test_count_targets_follows_the_selection_rules(world: World) -> None:
    w = world
    one, two = w.cast.team_one, w.cast.team_two
    assert await counted(w, selected=selected()) == 0
    assert await counted(w) == 0
    assert await counted(w, selected=selected(hosts=[w.db1])) == 1
    assert await counted(w, selected=selected(labels=[w.web_label])) == 3
    assert await counted(w, selected=selected(teams=[one, two])) == 3
    # Groups AND: web hosts of Team One; explicit hosts are always in.
    assert await counted(w, selected=selected(labels=[w.web_label], teams=[one])) == 1
    assert await counted(w, selected=selected(hosts=[w.db1], labels=[w.web_label], teams=[one])) == 2
    # Team 0 is "no team"; All Hosts overrides every other selector.
    assert await counted(w, selected=selected(teams=[0])) == 1
    assert await counted(w, selected=selected(labels=[w.all_hosts, w.web_label], teams=[two])) == 4
    # Unknown ids select nothing.
    assert await counted(w, selected=selected(hosts=[999_999], teams=[999_999])) == 0


async def test_count_targets_returns_the_status_counts(world: World) -> None:
    w = world
    body = await post(w.fleet, COUNT, {"query_id": w.admin_query, "selected": selected(teams=[w.cast.team_one])})
    assert body == {"targets_count": 2, "targets_online": 2, "targets_offline": 0, "targets_missing_in_action": 0}


async def test_both_api_prefixes_serve_targets(world: World) -> None:
    body = await post(world.fleet, "/api/latest/fleet/targets/count", {"selected": selected(teams=[0])})
    assert body["targets_count"] == 1


# ---- POST /hosts/search ----------------------------------------------------------------------

async def test_search_hosts_matches_text_and_leaves_out_excluded_hosts(world: World) -> None:
    w = world
    body = await post(w.fleet, SEARCH, {"query": "web", "excluded_host_ids": [w.web1]})
    ids = sorted(h["id"] for h in body["hosts"])
    assert ids == sorted([w.web2, w.web3])
    assert body["targets"]["hosts"] == body["hosts"]
    for host in body["hosts"]:
        assert HOST_KEYS <= set(host)
        assert host["display_text"] == host["hostname"]
    assert (await post(w.fleet, SEARCH, {"query": "uuid-db-1"}))["hosts"][0]["id"] == w.db1
    assert (await post(w.fleet, SEARCH, {"query": "serial-web-2"}))["hosts"][0]["id"] == w.web2
    assert (await post(w.fleet, SEARCH, {"query": "no-such-host"}))["hosts"] == []


async def test_search_hosts_without_text_lists_the_most_recently_seen_first(world: World) -> None:
    w = world
    w.fleet.clock.advance(dt.timedelta(seconds=30))
    await mark_seen(w.fleet, w.web2)
    body = await post(w.fleet, SEARCH, {"query": ""})
    assert body["hosts"][0]["id"] == w.web2
    assert len(body["hosts"]) == 4


async def test_search_hosts_returns_at_most_ten(cast: Cast) -> None:
    for i in range(11):
        await add_host(cast.fleet, f"bulk-{i:02}")
    assert len((await post(cast.fleet, SEARCH, {"query": "bulk"}))["hosts"]) == 10
    assert len((await post(cast.fleet, SEARCH, {}))["hosts"]) == 10


# ---- the role table ----------------------------------------------------------------------------

async def searched_ids(w: World, role: str, **body: Any) -> list[int]:
    found = await post(w.fleet, SEARCH, {"query": "", **body}, w.cast[role].headers)
    return sorted(h["id"] for h in found["hosts"])


async def test_global_observers_target_hosts_only_when_observers_may_run(world: World) -> None:
    w = world
    h = w.cast["observer"].headers
    everything = selected(labels=[w.all_hosts])
    assert await searched_ids(w, "observer") == []
    assert await counted(w, h, selected=everything) == 0
    assert await counted(w, h, selected=everything, query_id=w.admin_query) == 0
    body = await post(w.fleet, TARGETS, {"query": "", "selected": everything}, h)
    assert body["targets"]["hosts"] == [] and body["targets"]["teams"] == []
    assert body["targets_count"] == 0
    # Labels are global: offered to everyone, counting only the hosts the viewer may target.
    assert {lb["name"]: lb["count"] for lb in body["targets"]["labels"]}["Web servers"] == 0

    all_four = sorted([w.web1, w.db1, w.web2, w.web3])
    assert await searched_ids(w, "observer", include_observer=True) == all_four
    assert await searched_ids(w, "observer", query_id=w.observer_query) == all_four
    assert await counted(w, h, selected=everything, include_observer=True) == 4
    assert await counted(w, h, selected=everything, query_id=w.observer_query) == 4
    body = await post(w.fleet, TARGETS, {"query": "", "selected": everything, "query_id": w.observer_query}, h)
    assert body["targets_count"] == 4
    assert {t["name"] for t in body["targets"]["teams"]} == {"Team One", "Team Two"}


@pytest.mark.parametrize("role", ["admin", "maintainer"])
async def test_global_admins_and_maintainers_target_every_host(world: World, role: str) -> None:
    w = world
    assert await searched_ids(w, role) == sorted([w.web1, w.db1, w.web2, w.web3])
    assert await counted(w, w.cast[role].headers, selected=selected(labels=[w.all_hosts])) == 4


@pytest.mark.parametrize("role", ["team_admin", "team_maintainer"])
async def test_team_users_target_only_their_teams_hosts(world: World, role: str) -> None:
    w = world
    h = w.cast[role].headers
    assert await searched_ids(w, role) == sorted([w.web1, w.db1])
    assert await counted(w, h, selected=selected(labels=[w.all_hosts])) == 2
    assert await counted(w, h, selected=selected(hosts=[w.web2, w.web3, w.db1])) == 1
    assert await counted(w, h, selected=selected(teams=[w.cast.team_two])) == 0
    body = await post(w.fleet, TARGETS, {"query": "", "selected": selected(labels=[w.web_label])}, h)
    assert body["targets_count"] == 1
    assert [t["name"] for t in body["targets"]["teams"]] == ["Team One"]
    assert {lb["name"]: lb["count"] for lb in body["targets"]["labels"]}["All Hosts"] == 2


async def test_team_observers_target_their_teams_hosts_only_when_observers_may_run(world: World) -> None:
    w = world
    h = w.cast["team_observer"].headers
    assert await searched_ids(w, "team_observer") == []
    assert await counted(w, h, selected=selected(teams=[w.cast.team_one])) == 0
    assert await searched_ids(w, "team_observer", query_id=w.observer_query) == sorted([w.web1, w.db1])
    assert await counted(w, h, selected=selected(labels=[w.all_hosts]), include_observer=True) == 2


async def test_every_target_endpoint_needs_a_login(world: World) -> None:
    for path in (TARGETS, COUNT, SEARCH):
        assert_error(await world.fleet.client.post(path, json={}), 401)


# ---- validation --------------------------------------------------------------------------------

async def test_an_unknown_saved_query_is_not_found(world: World) -> None:
    for path in (TARGETS, COUNT, SEARCH):
        assert_error(await world.fleet.client.post(path, json={"query_id": 999_999}, headers=world.fleet.as_admin),
                     404)


@pytest.mark.parametrize(("path", "body", "field"), [
    (TARGETS, {"query": 5}, "query"),
    (TARGETS, {"query_id": "one"}, "query_id"),
    (TARGETS, {"selected": {"hosts": ["a"]}}, "selected.hosts[0]"),
    (TARGETS, {"selected": {"labels": 3}}, "selected.labels"),
    (TARGETS, {"selected": []}, "selected"),
    (TARGETS, {"include_observer": "yes"}, "include_observer"),
    (COUNT, {"selected": {"teams": [1.5]}}, "selected.teams[0]"),
    (COUNT, {"query_id": True}, "query_id"),
    (SEARCH, {"excluded_host_ids": "1,2"}, "excluded_host_ids"),
    (SEARCH, {"query": ["web"]}, "query"),
])
async def test_a_value_of_the_wrong_type_is_a_bad_request_naming_it(world: World, path: str, body: dict[str, Any],
                                                                    field: str) -> None:
    assert_error(await world.fleet.client.post(path, json=body, headers=world.fleet.as_admin), 400, field)


async def test_a_malformed_body_is_a_bad_request(world: World) -> None:
    response = await world.fleet.client.post(TARGETS, content=b"{not json", headers=world.fleet.as_admin)
    assert_error(response, 400)
    response = await world.fleet.client.post(COUNT, json={"selected": {"hosts": [2**70]}},
                                             headers=world.fleet.as_admin)
    assert_error(response, 400)
