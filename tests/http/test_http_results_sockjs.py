"""The live query result stream over SockJS (/api/v1/fleet/results): the same messages as the raw
WebSocket, framed as SockJS clients expect, over the websocket transport and the XHR fallback."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from litestar.testing import WebSocketTestSession

from fleet_core.model.campaigns import CampaignStatus
from tests.http import test_http_live_queries as live
from tests.http.test_http_live_queries import World, answer, start
from tests.http.test_http_results_websocket import WAIT, wait_for_status

kit = live.kit
world = live.world

pytestmark = pytest.mark.anyio

BASE = "/api/v1/fleet/results"


def auth_and_select(token: str, campaign_id: int) -> list[str]:
    return [json.dumps({"type": "auth", "data": {"token": token}}),
            json.dumps({"type": "select_campaign", "data": {"campaign_id": campaign_id}})]


def messages_of(frame: str) -> list[dict[str, Any]]:
    assert frame.startswith("a["), frame
    return [json.loads(m) for m in json.loads(frame[1:])]


class WebSocketFrames:
    def __init__(self, socket: WebSocketTestSession) -> None:
        self.socket = socket
        self.pending: list[dict[str, Any]] = []

    def next(self) -> dict[str, Any]:
        while not self.pending:
            frame = self.socket.receive_text(timeout=WAIT)
            if frame != "h":
                self.pending.extend(messages_of(frame))
        return self.pending.pop(0)


async def test_info_is_served_under_both_prefixes(world: World) -> None:
    for prefix in ("/api/v1", "/api/latest"):
        response = await world.fleet.client.get(f"{prefix}/fleet/results/info")
        assert response.status_code == 200
        assert response.json()["websocket"] is True


async def test_the_sockjs_websocket_transport_carries_the_stream(world: World) -> None:
    w, fleet = world, world.fleet
    assert fleet.admin is not None
    campaign = await start(fleet, {"query": "SELECT 1 AS one", "selected": {"hosts": [w.web1, w.web2]}})
    cid = campaign["id"]

    with await fleet.client.websocket_connect(f"{BASE}/123/a1b2c3/websocket") as socket:
        assert socket.receive_text(timeout=WAIT) == "o"
        socket.send_text(json.dumps(auth_and_select(fleet.admin.token, cid)))
        frames = WebSocketFrames(socket)
        assert frames.next() == {"type": "totals", "data": {"count": 2, "online": 2, "offline": 0,
                                                             "missing_in_action": 0}}
        assert frames.next()["type"] == "status"
        await answer(fleet.kit, w.web1, cid, [{"one": "1"}])
        result = frames.next()
        assert result["type"] == "result"
        assert result["data"]["rows"] == [{"one": "1", "host_hostname": "web-1.local",
                                           "host_display_name": "web-1.local"}]
        assert frames.next()["data"] == {"expected_results": 2, "actual_results": 1, "status": "pending"}

    await wait_for_status(fleet.kit, cid, CampaignStatus.COMPLETED)


async def test_the_xhr_fallback_carries_the_stream_and_a_bad_token_is_answered(world: World) -> None:
    w, fleet = world, world.fleet
    assert fleet.admin is not None
    campaign = await start(fleet, {"query": "SELECT 1 AS one", "selected": {"hosts": [w.web1]}})
    cid = campaign["id"]
    session = f"{BASE}/7/xhr-session"

    received: list[dict[str, Any]] = []

    async def poll_until(kind: str) -> dict[str, Any]:
        """The next message of this kind, polling while none has arrived (frames may batch several)."""
        deadline = time.monotonic() + WAIT
        while not any(m["type"] == kind for m in received):
            assert time.monotonic() < deadline, f"no {kind} message"
            response = await fleet.client.post(f"{session}/xhr")
            assert response.status_code == 200
            if response.text.startswith("a["):
                received.extend(messages_of(response.text.strip()))
        found = next(m for m in received if m["type"] == kind)
        del received[:received.index(found) + 1]
        return found

    assert (await fleet.client.post(f"{session}/xhr")).text == "o\n"
    sent = await fleet.client.post(f"{session}/xhr_send", content=json.dumps(auth_and_select(fleet.admin.token, cid)))
    assert sent.status_code == 204
    totals = await poll_until("totals")
    assert totals["data"]["count"] == 1
    await answer(fleet.kit, w.web1, cid, [{"one": "1"}])
    result = await poll_until("result")
    assert result["data"]["host"]["id"] == w.web1
    status = await poll_until("status")
    assert status["data"]["status"] == "finished"

    other = f"{BASE}/7/bad-token"
    assert (await fleet.client.post(f"{other}/xhr")).text == "o\n"
    await fleet.client.post(f"{other}/xhr_send", content=json.dumps([json.dumps(
        {"type": "auth", "data": {"token": "nope"}})]))
    response = await fleet.client.post(f"{other}/xhr")
    assert messages_of(response.text.strip()) == [{"type": "error", "data": "unauthorized"}]
    assert (await fleet.client.post(f"{other}/xhr")).text.startswith("c[3000")
