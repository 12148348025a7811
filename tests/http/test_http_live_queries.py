"""Live queries over REST: starting campaigns (POST /queries/run, run_by_identifiers/run_by_names),
the synchronous runs (GET /queries/run, POST /queries/{id}/run, POST /hosts/{id}/query and by
identifier) and the status checks, with validation, the role table and disabled live queries.

Agents answer through the agent service of the same kit, as the osquery API would."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Coroutine
from typing import Any

import attrs
import httpx
import pytest

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.model.campaigns import CampaignStatus
from fleet_core.model.runtime import ServerRuntime
from fleet_core.services.agents import QueryResult
from tests.http.support import Cast, Fleet, assert_error
from tests.http.test_http_hosts import add_host

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
RUN = f"{V1}/queries/run"
DEADLINE = 10.0
REST_PERIOD = dt.timedelta(seconds=1)
CAMPAIGN_KEYS = {"created_at", "updated_at", "Metrics", "id", "query_id", "status", "user_id"}
METRICS_KEYS = {"TotalHosts", "OnlineHosts", "OfflineHosts", "MissingInActionHosts", "NewHosts"}


@pytest.fixture
def kit() -> InMemoryKit:
    return in_memory_kit(runtime=ServerRuntime(live_query_rest_period=REST_PERIOD))


@attrs.frozen
class World:
    """Team One: web-1 (online), db-1 (offline); Team Two: web-2; no team: web-3. Label "Web"
    holds the web hosts. Two saved queries: one observers may run, one they may not."""

    cast: Cast
    web1: int
    db1: int
    web2: int
    web3: int
    web_label: int
    observer_query: int
    admin_query: int

    @property
    def fleet(self) -> Fleet:
        return self.cast.fleet


@pytest.fixture
async def world(cast: Cast) -> World:
    fleet = cast.fleet
    h = fleet.as_admin
    web1 = await add_host(fleet, "web-1", team_id=cast.team_one)
    db1 = await add_host(fleet, "db-1", team_id=cast.team_one)
    web2 = await add_host(fleet, "web-2", team_id=cast.team_two)
    web3 = await add_host(fleet, "web-3")
    fleet.clock.advance(dt.timedelta(minutes=10))
    await _seen(fleet, web1, web2, web3)  # db-1 stays offline
    await fleet.login(fleet.admin.email)  # type: ignore[union-attr]
    response = await fleet.client.post(f"{V1}/labels", json={"name": "Web", "host_ids": [web1, web2, web3]},
                                       headers=h)
    assert response.status_code == 200, response.text
    ids = []
    for name, observers in (("observed", True), ("admins only", False)):
        response = await fleet.client.post(f"{V1}/queries", json={
            "name": name, "query": f"SELECT '{name}'", "observer_can_run": observers}, headers=h)
        assert response.status_code == 200, response.text
        ids.append(response.json()["query"]["id"])
    return World(cast=cast, web1=web1, db1=db1, web2=web2, web3=web3, web_label=await _label_id(fleet, "Web"),
                 observer_query=ids[0], admin_query=ids[1])


async def _label_id(fleet: Fleet, name: str) -> int:
    response = await fleet.client.get(f"{V1}/labels", params={"query": name}, headers=fleet.as_admin)
    return int(next(lb["id"] for lb in response.json()["labels"] if lb["name"] == name))


async def _seen(fleet: Fleet, *host_ids: int) -> None:
    async with fleet.kit.store.unit_of_work() as uow:
        await uow.hosts.mark_seen({host_id: fleet.clock.now() for host_id in host_ids})
        await uow.commit()


async def start(fleet: Fleet, body: dict[str, Any], headers: dict[str, str] | None = None,
                path: str = RUN) -> dict[str, Any]:
    response = await fleet.client.post(path, json=body, headers=headers or fleet.as_admin)
    assert response.status_code == 200, response.text
    campaign: dict[str, Any] = response.json()["campaign"]
    return campaign


async def answer(kit: InMemoryKit, host_id: int, campaign_id: int, rows: list[dict[str, str]], *,
                 status: int = 0, message: str = "") -> None:
    """The host checks in, finds the campaign among its queries and answers it."""
    async with kit.store.unit_of_work() as uow:
        host = await uow.hosts.get(host_id)
    assert host is not None
    name = f"fleet_distributed_query_{campaign_id}"
    queries = await kit.services.agents.distributed_read(host)
    assert name in queries.queries
    await kit.services.agents.distributed_write(host, {name: QueryResult(rows=rows, status=status, message=message)})


async def wait_until_asked(kit: InMemoryKit, host_id: int) -> int:
    """The campaign id a pending synchronous run asks this host, once it does."""
    deadline = time.monotonic() + DEADLINE
    while True:
        pending = await kit.live_store.queries_for_host(host_id)
        if pending:
            return max(pending)
        assert time.monotonic() < deadline, "the host was never asked"
        await asyncio.sleep(0.01)


async def in_background(request: Callable[[], Coroutine[Any, Any, httpx.Response]]) -> asyncio.Future[httpx.Response]:
    """Send a request that waits for agents from another thread, so this test can answer meanwhile
    (the test client blocks the calling event loop until the response)."""
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(None, lambda: asyncio.run(request()))


# ---- POST /queries/run ---------------------------------------------------------------------------

async def test_run_starts_a_waiting_campaign_on_the_selected_hosts(world: World) -> None:
    w, fleet = world, world.fleet
    campaign = await start(fleet, {"query": "SELECT * FROM osquery_info", "selected": {"hosts": [w.web1, w.db1]}})

    assert set(campaign) == CAMPAIGN_KEYS
    assert set(campaign["Metrics"]) == METRICS_KEYS
    assert campaign["Metrics"] == {"TotalHosts": 2, "OnlineHosts": 1, "OfflineHosts": 1, "MissingInActionHosts": 0,
                                   "NewHosts": 2}
    assert (campaign["status"], campaign["user_id"]) == (0, fleet.admin.id)  # type: ignore[union-attr]
    # Ad-hoc SQL gets a hidden query record (tests/http/test_http_hidden_queries.py).
    assert isinstance(campaign["query_id"], int)
    sql = "SELECT * FROM osquery_info"
    assert await fleet.kit.live_store.queries_for_host(w.web1) == {campaign["id"]: sql}
    assert await fleet.kit.live_store.queries_for_host(w.db1) == {campaign["id"]: sql}
    assert await fleet.kit.live_store.queries_for_host(w.web2) == {}
    activity = await _last_activity(fleet)
    assert activity.details == {"targets_count": 2, "query_sql": sql, "query_name": None}


async def _last_activity(fleet: Fleet) -> Any:
    response = await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin,
                                      params={"order_key": "id", "order_direction": "desc"})
    assert response.status_code == 200, response.text
    latest = response.json()["activities"][0]
    assert latest["type"] == "live_query"
    return attrs.make_class("A", ["details"])(latest["details"])


async def test_run_by_saved_query_uses_its_sql_and_labels_select_hosts(world: World) -> None:
    w, fleet = world, world.fleet
    campaign = await start(fleet, {"query_id": w.admin_query, "selected": {"labels": [w.web_label]}})

    assert campaign["query_id"] == w.admin_query
    assert campaign["Metrics"]["TotalHosts"] == 3
    for host_id in (w.web1, w.web2, w.web3):
        assert await fleet.kit.live_store.queries_for_host(host_id) == {campaign["id"]: "SELECT 'admins only'"}
    activity = await _last_activity(fleet)
    assert activity.details == {"targets_count": 3, "query_sql": "SELECT 'admins only'", "query_name": "admins only"}


async def test_the_latest_prefix_serves_the_same_endpoint(world: World) -> None:
    campaign = await start(world.fleet, {"query": "SELECT 1", "selected": {"hosts": [world.web1]}},
                           path="/api/latest/fleet/queries/run")
    assert campaign["Metrics"]["TotalHosts"] == 1


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"selected": {"hosts": [1]}}, 422, "query"),
    ({"query": "  ", "selected": {"hosts": [1]}}, 422, "query"),
    ({"query": "SELECT 1"}, 422, "selected"),
    ({"query": "SELECT 1", "selected": {"hosts": "all"}}, 400, "selected.hosts"),
    ({"query": 5, "selected": {"hosts": [1]}}, 400, "query"),
    ({"query": "SELECT 1", "selected": {"hosts": [999]}}, 400, "selected"),
    ({"query": "SELECT 1", "selected": {}}, 400, "selected"),
])
async def test_run_rejects_bad_input(world: World, body: dict[str, Any], status: int, field: str) -> None:
    response = await world.fleet.client.post(RUN, json=body, headers=world.fleet.as_admin)
    assert_error(response, status, field)


async def test_run_with_an_unknown_query_is_not_found(world: World) -> None:
    response = await world.fleet.client.post(RUN, json={"query_id": 9999, "selected": {"hosts": [world.web1]}},
                                             headers=world.fleet.as_admin)
    assert_error(response, 404)


async def test_run_needs_a_login(world: World) -> None:
    response = await world.fleet.client.post(RUN, json={"query": "SELECT 1", "selected": {"hosts": [world.web1]}})
    assert_error(response, 401)


async def test_live_queries_disabled_refuses_every_run(world: World) -> None:
    fleet = world.fleet
    response = await fleet.client.patch(f"{V1}/config", json={"server_settings": {"live_query_disabled": True}},
                                        headers=fleet.as_admin)
    assert response.status_code == 200, response.text

    body = assert_error(await fleet.client.post(RUN, json={"query": "SELECT 1", "selected": {"hosts": [world.web1]}},
                                                headers=fleet.as_admin), 403)
    assert "disabled" in body["errors"][0]["reason"]
    assert_error(await fleet.client.post(f"{V1}/queries/{world.admin_query}/run", json={"host_ids": [world.web1]},
                                         headers=fleet.as_admin), 403)
    assert_error(await fleet.client.post(f"{V1}/hosts/{world.web1}/query", json={"query": "SELECT 1"},
                                         headers=fleet.as_admin), 403)
    assert_error(await fleet.client.get(f"{V1}/status/live_query", headers=fleet.as_admin), 403)
    assert await fleet.kit.live_store.active_ids() == []


async def test_observers_run_only_queries_observers_may_run(world: World) -> None:
    w, fleet = world, world.fleet
    observer = w.cast["observer"].headers
    targets = {"hosts": [w.web1, w.web2]}
    assert_error(await fleet.client.post(RUN, json={"query": "SELECT 1", "selected": targets}, headers=observer), 403)
    assert_error(await fleet.client.post(RUN, json={"query_id": w.admin_query, "selected": targets},
                                         headers=observer), 403)
    campaign = await start(fleet, {"query_id": w.observer_query, "selected": targets}, observer)
    assert campaign["Metrics"]["TotalHosts"] == 2


async def test_team_users_reach_only_their_teams_hosts(world: World) -> None:
    w, fleet = world, world.fleet
    maintainer = w.cast["team_maintainer"].headers
    campaign = await start(fleet, {"query": "SELECT 1", "selected": {"labels": [w.web_label]}}, maintainer)
    assert campaign["Metrics"]["TotalHosts"] == 1  # web-1 only
    assert await fleet.kit.live_store.queries_for_host(w.web2) == {}
    response = await fleet.client.post(RUN, json={"query": "SELECT 1", "selected": {"hosts": [w.web2]}},
                                       headers=maintainer)
    assert_error(response, 400, "selected")
    team_observer = w.cast["team_observer"].headers
    campaign = await start(fleet, {"query_id": w.observer_query, "selected": {"labels": [w.web_label]}},
                           team_observer)
    assert campaign["Metrics"]["TotalHosts"] == 1


# ---- run_by_identifiers / run_by_names ------------------------------------------------------------

@pytest.mark.parametrize("path", [f"{V1}/queries/run_by_identifiers", f"{V1}/queries/run_by_names"])
async def test_run_by_identifiers_names_hosts_and_labels(world: World, path: str) -> None:
    w, fleet = world, world.fleet
    campaign = await start(fleet, {"query": "SELECT 2", "selected": {"hosts": ["web-1.local", "uuid-db-1", "nobody"]}},
                           path=path)
    assert campaign["Metrics"]["TotalHosts"] == 2
    assert await fleet.kit.live_store.queries_for_host(w.db1) == {campaign["id"]: "SELECT 2"}
    campaign = await start(fleet, {"query_id": w.admin_query, "selected": {"labels": ["Web"]}}, path=path)
    assert campaign["Metrics"]["TotalHosts"] == 3


async def test_run_by_identifiers_rejects_unknown_labels_and_no_hosts(world: World) -> None:
    fleet = world.fleet
    path = f"{V1}/queries/run_by_identifiers"
    assert_error(await fleet.client.post(path, json={"query": "SELECT 1", "selected": {"labels": ["Nope"]}},
                                         headers=fleet.as_admin), 422, "labels")
    assert_error(await fleet.client.post(path, json={"query": "SELECT 1", "selected": {"hosts": ["nobody"]}},
                                         headers=fleet.as_admin), 400, "selected")
    assert_error(await fleet.client.post(path, json={"query": "SELECT 1"}, headers=fleet.as_admin), 422, "selected")


# ---- synchronous runs -------------------------------------------------------------------------------

async def test_run_saved_query_returns_once_every_online_host_answered(world: World) -> None:
    w, fleet = world, world.fleet
    headers = fleet.as_admin
    pending = await in_background(lambda: fleet.client.post(
        f"{V1}/queries/{w.admin_query}/run", json={"host_ids": [w.web1, w.web2, w.db1]}, headers=headers))
    campaign_id = await wait_until_asked(fleet.kit, w.web1)
    await wait_until_asked(fleet.kit, w.web2)
    await answer(fleet.kit, w.web1, campaign_id, [{"a": "1"}])
    await answer(fleet.kit, w.web2, campaign_id, [], status=1, message="no such table: nope")
    started = time.monotonic()
    response = await pending

    assert response.status_code == 200, response.text
    assert response.json() == {
        "query_id": w.admin_query, "targeted_host_count": 3, "responded_host_count": 2,
        "results": [{"host_id": w.web1, "rows": [{"a": "1"}], "error": None},
                    {"host_id": w.web2, "rows": [], "error": "no such table: nope"}],
    }
    assert time.monotonic() - started < REST_PERIOD.total_seconds()
    async with fleet.kit.store.unit_of_work() as uow:
        campaign = await uow.campaigns.get(campaign_id)
    assert campaign is not None and campaign.status is CampaignStatus.COMPLETED
    assert await fleet.kit.live_store.active_ids() == []


async def test_run_saved_query_reports_what_came_before_the_rest_period(world: World) -> None:
    w, fleet = world, world.fleet
    response = await fleet.client.post(f"{V1}/queries/{w.admin_query}/run", json={"host_ids": [w.web1]},
                                       headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"query_id": w.admin_query, "targeted_host_count": 1, "responded_host_count": 0,
                               "results": []}


async def test_run_saved_query_validates_and_authorizes(world: World) -> None:
    w, fleet = world, world.fleet
    assert_error(await fleet.client.post(f"{V1}/queries/9999/run", json={"host_ids": [w.web1]},
                                         headers=fleet.as_admin), 404)
    assert_error(await fleet.client.post(f"{V1}/queries/{w.admin_query}/run", json={},
                                         headers=fleet.as_admin), 422, "host_ids")
    assert_error(await fleet.client.post(f"{V1}/queries/{w.admin_query}/run", json={"host_ids": ["x"]},
                                         headers=fleet.as_admin), 400)
    assert_error(await fleet.client.post(f"{V1}/queries/{w.admin_query}/run", json={"host_ids": [w.web1]},
                                         headers=w.cast["observer"].headers), 403)
    assert_error(await fleet.client.post(f"{V1}/queries/{w.admin_query}/run", json={"host_ids": [w.web2]},
                                         headers=w.cast["team_maintainer"].headers), 400, "selected")


async def test_legacy_run_collects_every_query_and_reports_failures_per_query(world: World) -> None:
    w, fleet = world, world.fleet
    headers = fleet.as_admin
    body = {"query_ids": [w.admin_query, 9999], "host_ids": [w.web3, w.db1]}
    pending = await in_background(lambda: fleet.client.request("GET", RUN, json=body, headers=headers))
    campaign_id = await wait_until_asked(fleet.kit, w.web3)
    await answer(fleet.kit, w.web3, campaign_id, [{"b": "2"}])
    response = await pending

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["summary"] == {"targeted_host_count": 2, "responded_host_count": 1}
    first, second = result["live_query_results"]
    assert first == {"query_id": w.admin_query, "results": [{"host_id": w.web3, "rows": [{"b": "2"}], "error": None}]}
    assert second["query_id"] == 9999 and second["results"] == [] and "not found" in second["error"]


async def test_legacy_run_validates_its_body(world: World) -> None:
    fleet = world.fleet
    assert_error(await fleet.client.request("GET", RUN, json={"query_ids": [1]}, headers=fleet.as_admin), 422,
                 "host_ids")
    assert_error(await fleet.client.request("GET", RUN, json={"query_ids": "1", "host_ids": [1]},
                                            headers=fleet.as_admin), 400, "query_ids")
    assert_error(await fleet.client.request("GET", RUN, content=b"{", headers=fleet.as_admin), 400)


async def test_host_query_answers_with_the_hosts_rows(world: World) -> None:
    w, fleet = world, world.fleet
    headers = fleet.as_admin
    pending = await in_background(lambda: fleet.client.post(
        f"{V1}/hosts/identifier/web-3.local/query", json={"query": "SELECT 3"}, headers=headers))
    campaign_id = await wait_until_asked(fleet.kit, w.web3)
    await answer(fleet.kit, w.web3, campaign_id, [{"c": "3"}])
    response = await pending

    assert response.status_code == 200, response.text
    assert response.json() == {"host_id": w.web3, "query": "SELECT 3", "status": "online", "rows": [{"c": "3"}],
                               "error": None}


async def test_host_query_on_an_offline_host_answers_at_once(world: World) -> None:
    w, fleet = world, world.fleet
    response = await fleet.client.post(f"{V1}/hosts/{w.db1}/query", json={"query": "SELECT 1"},
                                       headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"host_id": w.db1, "query": "SELECT 1", "status": "offline", "rows": [], "error": None}
    assert await fleet.kit.live_store.active_ids() == []


async def test_host_query_times_out_when_the_host_does_not_answer(world: World) -> None:
    w, fleet = world, world.fleet
    response = await fleet.client.post(f"{V1}/hosts/{w.web1}/query", json={"query": "SELECT 1"},
                                       headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert response.json()["error"] == "timeout waiting for results"
    assert response.json()["status"] == "online"


async def test_host_query_validates_and_authorizes(world: World) -> None:
    w, fleet = world, world.fleet
    h = fleet.as_admin
    assert_error(await fleet.client.post(f"{V1}/hosts/9999/query", json={"query": "SELECT 1"}, headers=h), 404)
    assert_error(await fleet.client.post(f"{V1}/hosts/identifier/nobody/query", json={"query": "SELECT 1"},
                                         headers=h), 404)
    assert_error(await fleet.client.post(f"{V1}/hosts/{w.web1}/query", json={}, headers=h), 422, "query")
    assert_error(await fleet.client.post(f"{V1}/hosts/{w.web1}/query", json={"query": 1}, headers=h), 400, "query")
    assert_error(await fleet.client.post(f"{V1}/hosts/{w.web1}/query", json={"query": "SELECT 1"},
                                         headers=w.cast["observer"].headers), 403)
    assert_error(await fleet.client.post(f"{V1}/hosts/{w.web2}/query", json={"query": "SELECT 1"},
                                         headers=w.cast["team_maintainer"].headers), 404)


# ---- status ------------------------------------------------------------------------------------------

async def test_status_endpoints_report_a_working_store(world: World) -> None:
    fleet = world.fleet
    for path in ("/status/live_query", "/status/result_store"):
        response = await fleet.client.get(f"{V1}{path}", headers=fleet.as_admin)
        assert response.status_code == 200, response.text
        assert response.json() == {}
        assert_error(await fleet.client.get(f"{V1}{path}"), 401)


async def test_status_endpoints_report_an_unavailable_store(world: World) -> None:
    fleet = world.fleet
    fleet.kit.live_store.available = False
    for path in ("/status/live_query", "/status/result_store"):
        assert_error(await fleet.client.get(f"{V1}{path}", headers=fleet.as_admin), 503)
