"""Ad-hoc live queries and their hidden query records: POST /queries/run with `query` answers a
campaign whose query_id names a hidden (unsaved) query, as Fleet does; the hidden query is not
listed, read, edited, deleted or scheduled through the query API, does not take a name from saved
queries, and is deleted by the live-query cleanup once its campaign is over."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fleet_core.rules.campaigns import LISTENER_GRACE
from tests.http.support import Fleet, assert_error
from tests.http.test_http_hosts import add_host

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"


async def run_adhoc(fleet: Fleet, sql: str, host_id: int, prefix: str = "/api/v1") -> dict[str, Any]:
    response = await fleet.client.post(f"{prefix}/fleet/queries/run", headers=fleet.as_admin,
                                       json={"query": sql, "selected": {"hosts": [host_id]}})
    assert response.status_code == 200, response.text
    campaign: dict[str, Any] = response.json()["campaign"]
    return campaign


async def test_an_adhoc_campaign_names_a_hidden_query(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "web-1")
    saved = await fleet.client.post(f"{V1}/queries", headers=fleet.as_admin,
                                    json={"name": "visible", "query": "SELECT 1"})
    assert saved.status_code == 200, saved.text
    saved_id = saved.json()["query"]["id"]

    first = await run_adhoc(fleet, "SELECT * FROM uptime", host_id)
    second = await run_adhoc(fleet, "SELECT * FROM uptime", host_id, prefix="/api/latest")
    hidden = first["query_id"]
    assert isinstance(hidden, int) and hidden != saved_id
    # Every ad-hoc campaign has its own record, even for the same SQL.
    assert second["query_id"] not in (hidden, saved_id)
    async with fleet.kit.store.unit_of_work() as uow:
        stored = fleet.kit.store.state.hidden_queries[hidden]
        assert (stored.query, stored.author_id) == ("SELECT * FROM uptime", fleet.admin.id)  # type: ignore[union-attr]
        assert stored.name.startswith(f"distributed_{fleet.admin.email}_")  # type: ignore[union-attr]
        assert (await uow.campaigns.get(first["id"])).query_id == hidden  # type: ignore[union-attr]

    listed = await fleet.client.get(f"{V1}/queries", headers=fleet.as_admin)
    assert [q["id"] for q in listed.json()["queries"]] == [saved_id]
    for prefix in ("/api/v1", "/api/latest"):
        assert_error(await fleet.client.get(f"{prefix}/fleet/queries/{hidden}", headers=fleet.as_admin), 404)
        assert_error(await fleet.client.patch(f"{prefix}/fleet/queries/{hidden}", headers=fleet.as_admin,
                                              json={"name": "taken over"}), 404)
        assert_error(await fleet.client.delete(f"{prefix}/fleet/queries/id/{hidden}", headers=fleet.as_admin), 404)
    # Running it by id is running a saved query: there is none with this id.
    response = await fleet.client.post(f"{V1}/queries/run", headers=fleet.as_admin,
                                       json={"query_id": hidden, "selected": {"hosts": [host_id]}})
    assert_error(response, 404)
    # A saved query may take the name of a hidden one.
    name = fleet.kit.store.state.hidden_queries[hidden].name
    response = await fleet.client.post(f"{V1}/queries", headers=fleet.as_admin,
                                       json={"name": name, "query": "SELECT 2"})
    assert response.status_code == 200, response.text


async def test_the_cleanup_deletes_hidden_queries_of_campaigns_that_are_over(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "web-1")
    stale = await run_adhoc(fleet, "SELECT 'stale'", host_id)
    fleet.clock.advance(LISTENER_GRACE + dt.timedelta(seconds=1))
    fresh = await run_adhoc(fleet, "SELECT 'fresh'", host_id)

    await fleet.kit.services.live_queries.cleanup()

    # Nobody read the stale campaign within the grace period: it is over, and its query gone.
    assert set(fleet.kit.store.state.hidden_queries) == {fresh["query_id"]}
    async with fleet.kit.store.unit_of_work() as uow:
        over = await uow.campaigns.get(stale["id"])
    assert over is not None and over.status == 2
    # Once the other campaign completes too, the next pass removes its query.
    await fleet.kit.services.live_queries.complete(fresh["id"])
    await fleet.kit.services.live_queries.cleanup()
    assert fleet.kit.store.state.hidden_queries == {}


async def test_a_refused_campaign_leaves_no_hidden_query(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/queries/run", headers=fleet.as_admin,
                                       json={"query": "SELECT 1", "selected": {"hosts": [999]}})
    assert_error(response, 400, "selected")
    assert fleet.kit.store.state.hidden_queries == {}
