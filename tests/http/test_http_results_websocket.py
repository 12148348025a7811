"""The live query results WebSocket (/api/v1/fleet/results/websocket): auth, select_campaign,
totals/status/result messages, the creator-only rule, errors, and the campaign's end when the
client leaves. Agents answer through the agent service of the same kit."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import WebSocketTestSession

from fleet_adapters.memory import InMemoryKit
from fleet_core.model.campaigns import CampaignStatus
from fleet_http.results_stream import ResultsSession
from tests.http import test_http_live_queries as live
from tests.http.test_http_live_queries import World, answer, start

# The same world, with the short rest period, as the REST live query tests.
kit = live.kit
world = live.world

pytestmark = pytest.mark.anyio

WS = "/api/v1/fleet/results/websocket"
WAIT = 10.0


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    message: dict[str, Any] = ws.receive_json(timeout=WAIT)
    return message


def select(ws: WebSocketTestSession, token: str, campaign_id: Any) -> None:
    ws.send_json({"type": "auth", "data": {"token": token}})
    ws.send_json({"type": "select_campaign", "data": {"campaign_id": campaign_id}})


async def status_of(fleet_kit: InMemoryKit, campaign_id: int) -> CampaignStatus:
    async with fleet_kit.store.unit_of_work() as uow:
        campaign = await uow.campaigns.get(campaign_id)
    assert campaign is not None
    return campaign.status


async def wait_for_status(fleet_kit: InMemoryKit, campaign_id: int, expected: CampaignStatus) -> None:
    deadline = time.monotonic() + WAIT
    while await status_of(fleet_kit, campaign_id) is not expected:
        assert time.monotonic() < deadline, f"campaign never became {expected.name}"
        await asyncio.sleep(0.01)


async def test_the_creator_streams_totals_status_and_every_hosts_result(world: World) -> None:
    w, fleet = world, world.fleet
    campaign = await start(fleet, {"query": "SELECT 1 AS one", "selected": {"hosts": [w.web1, w.web2, w.db1]}})
    cid = campaign["id"]
    assert fleet.admin is not None

    with await fleet.client.websocket_connect(WS) as ws:
        select(ws, fleet.admin.token, cid)
        assert receive(ws) == {"type": "totals", "data": {"count": 3, "online": 2, "offline": 1,
                                                          "missing_in_action": 0}}
        assert receive(ws) == {"type": "status", "data": {"expected_results": 2, "actual_results": 0,
                                                          "status": "pending"}}
        assert await status_of(fleet.kit, cid) is CampaignStatus.RUNNING

        await answer(fleet.kit, w.web1, cid, [{"one": "1"}])
        result = receive(ws)
        assert result == {"type": "result", "data": {
            "distributed_query_execution_id": cid,
            "host": {"id": w.web1, "hostname": "web-1.local", "display_name": "web-1.local"},
            "rows": [{"one": "1", "host_hostname": "web-1.local", "host_display_name": "web-1.local"}],
            "error": None,
        }}
        assert receive(ws) == {"type": "status", "data": {"expected_results": 2, "actual_results": 1,
                                                          "status": "pending"}}
        # The answered host is not asked again; the other still is.
        assert await fleet.kit.live_store.queries_for_host(w.web1) == {}
        assert cid in await fleet.kit.live_store.queries_for_host(w.web2)

        await answer(fleet.kit, w.web2, cid, [], status=1, message="no such table: nope")
        result = receive(ws)
        assert result["type"] == "result"
        assert (result["data"]["host"]["id"], result["data"]["rows"], result["data"]["error"]) == (
            w.web2, [], "no such table: nope")
        assert receive(ws) == {"type": "status", "data": {"expected_results": 2, "actual_results": 2,
                                                          "status": "finished"}}

    # Leaving ends the campaign: completed, and no host is asked any more.
    await wait_for_status(fleet.kit, cid, CampaignStatus.COMPLETED)
    assert await fleet.kit.live_store.active_ids() == []
    assert await fleet.kit.live_store.queries_for_host(w.db1) == {}


async def test_the_latest_prefix_serves_the_stream_too(world: World) -> None:
    fleet = world.fleet
    campaign = await start(fleet, {"query": "SELECT 1", "selected": {"hosts": [world.web1]}})
    assert fleet.admin is not None
    with await fleet.client.websocket_connect("/api/latest/fleet/results/websocket") as ws:
        select(ws, fleet.admin.token, campaign["id"])
        assert receive(ws)["type"] == "totals"


@pytest.mark.parametrize("first", [
    {"type": "auth", "data": {"token": "not-a-session"}},
    {"type": "auth", "data": {}},
    {"type": "select_campaign", "data": {"campaign_id": 1}},
    "not json",
])
async def test_a_bad_auth_message_is_answered_unauthorized_then_closed(world: World, first: Any) -> None:
    with await world.fleet.client.websocket_connect(WS) as ws:
        if isinstance(first, str):
            ws.send_text(first)
        else:
            ws.send_json(first)
        assert receive(ws) == {"type": "error", "data": "unauthorized"}
        with pytest.raises(WebSocketDisconnect):
            ws.receive(timeout=WAIT)


async def test_a_page_of_this_server_authenticates_with_its_session_cookie(world: World) -> None:
    """The console's live query page sends an auth message without a token: the HttpOnly session
    cookie of a same-origin handshake stands in for it, so the page never holds the token."""
    fleet = world.fleet
    campaign = await start(fleet, {"query": "SELECT 1", "selected": {"hosts": [world.web1]}})
    assert fleet.admin is not None
    host = fleet.client.base_url.netloc.decode()
    with await fleet.client.websocket_connect(WS, headers={"origin": f"http://{host}"},
                                              cookies={"fleet_session": fleet.admin.token}) as ws:
        ws.send_json({"type": "auth", "data": {}})
        ws.send_json({"type": "select_campaign", "data": {"campaign_id": campaign["id"]}})
        assert receive(ws)["type"] == "totals"


@pytest.mark.parametrize("origin", ["http://evil.example", None])
async def test_the_session_cookie_counts_only_from_a_page_of_this_server(world: World, origin: str | None) -> None:
    """Browsers send cookies with cross-site WebSocket handshakes too (cross-site WebSocket
    hijacking): without this server's Origin, the cookie authenticates nobody."""
    fleet = world.fleet
    assert fleet.admin is not None
    headers = {"origin": origin} if origin else {}
    with await fleet.client.websocket_connect(WS, headers=headers,
                                              cookies={"fleet_session": fleet.admin.token}) as ws:
        ws.send_json({"type": "auth", "data": {}})
        assert receive(ws) == {"type": "error", "data": "unauthorized"}


async def test_only_the_creator_may_select_a_campaign(world: World) -> None:
    w, fleet = world, world.fleet
    campaign = await start(fleet, {"query": "SELECT 1", "selected": {"hosts": [w.web1]}})
    with await fleet.client.websocket_connect(WS) as ws:
        select(ws, w.cast["maintainer"].token, campaign["id"])
        assert receive(ws) == {"type": "error", "data": "forbidden"}
    assert await status_of(fleet.kit, campaign["id"]) is CampaignStatus.WAITING


async def test_bad_selections_get_an_error_and_the_client_may_select_again(world: World) -> None:
    w, fleet = world, world.fleet
    campaign = await start(fleet, {"query": "SELECT 1", "selected": {"hosts": [w.web1]}})
    assert fleet.admin is not None
    with await fleet.client.websocket_connect(WS) as ws:
        ws.send_json({"type": "auth", "data": {"token": fleet.admin.token}})
        for bad in ({"campaign_id": 0}, {"campaign_id": "1"}, {}, None):
            ws.send_json({"type": "select_campaign", "data": bad})
            error = receive(ws)
            assert error["type"] == "error" and "campaign_id" in error["data"]
        ws.send_json({"type": "hello", "data": {}})
        assert receive(ws)["type"] == "error"
        ws.send_json({"type": "select_campaign", "data": {"campaign_id": campaign["id"] + 1000}})
        assert receive(ws) == {"type": "error", "data": f"campaign {campaign['id'] + 1000} not found"}
        ws.send_json({"type": "select_campaign", "data": {"campaign_id": campaign["id"]}})
        assert receive(ws)["type"] == "totals"
        assert receive(ws)["type"] == "status"


async def test_a_completed_campaign_cannot_be_selected(world: World) -> None:
    w, fleet = world, world.fleet
    campaign = await start(fleet, {"query": "SELECT 1", "selected": {"hosts": [w.web1]}})
    await fleet.kit.services.live_queries.complete(campaign["id"])
    assert fleet.admin is not None
    with await fleet.client.websocket_connect(WS) as ws:
        select(ws, fleet.admin.token, campaign["id"])
        error = receive(ws)
        assert error["type"] == "error" and "completed" in error["data"]


class QueueChannel:
    """A MessageChannel over two queues, so a test can drive a ResultsSession directly (with a
    short refresh) and read what it sends."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[str | None] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(self) -> str | None:
        return await self.incoming.get()

    async def send(self, text: str) -> bool:
        await self.outgoing.put(json.loads(text))
        return True


async def test_an_open_stream_ends_unauthorized_once_its_session_is_logged_out(world: World) -> None:
    fleet = world.fleet
    campaign = await start(fleet, {"query": "SELECT 1", "selected": {"hosts": [world.web1]}})
    assert fleet.admin is not None
    services = fleet.kit.services
    channel = QueueChannel()
    session = ResultsSession(services.auth, services.live_queries, channel, refresh_seconds=0.05)
    running = asyncio.create_task(session.run())
    try:
        await channel.incoming.put(json.dumps({"type": "auth", "data": {"token": fleet.admin.token}}))
        await channel.incoming.put(json.dumps({"type": "select_campaign", "data": {"campaign_id": campaign["id"]}}))
        assert (await asyncio.wait_for(channel.outgoing.get(), WAIT))["type"] == "totals"
        assert (await asyncio.wait_for(channel.outgoing.get(), WAIT))["type"] == "status"

        await services.auth.logout(await services.auth.authenticate(fleet.admin.token))

        assert await asyncio.wait_for(channel.outgoing.get(), WAIT) == {"type": "error", "data": "unauthorized"}
        await asyncio.wait_for(running, WAIT)  # the stream ended by itself
    finally:
        running.cancel()
        await channel.incoming.put(None)
