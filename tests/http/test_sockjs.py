"""The SockJS transport: info, the framed websocket transport and the XHR polling fallback, over an
echo handler (the live-query result stream runs on the same transport)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import TestClient

from fleet_http.sockjs import GO_AWAY, TextChannel, decode_client_frame, message_frame, sockjs_router


async def echo(channel: TextChannel, state: State) -> None:
    while True:
        message = await channel.receive_text()
        await channel.send_text(message)
        if message == "bye":
            return


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    with TestClient(Litestar(route_handlers=[sockjs_router("/echo", echo)])) as test_client:
        yield test_client


def test_info_says_websockets_are_supported_and_no_cookie_is_needed(client: TestClient[Litestar]) -> None:
    response = client.get("/echo/info")
    assert response.status_code == 200
    body = response.json()
    assert body["websocket"] is True and body["cookie_needed"] is False
    assert isinstance(body["entropy"], int)
    assert "no-store" in response.headers["cache-control"]


def test_the_websocket_transport_frames_messages_and_closes_when_the_handler_ends(
    client: TestClient[Litestar],
) -> None:
    with client.websocket_connect("/echo/000/session-a/websocket") as socket:
        assert socket.receive_text() == "o"
        socket.send_text(json.dumps(["hello", "world"]))
        assert socket.receive_text() == 'a["hello"]'
        assert socket.receive_text() == 'a["world"]'
        socket.send_text(json.dumps("bye"))
        assert socket.receive_text() == 'a["bye"]'
        assert socket.receive_text() == GO_AWAY


def test_the_xhr_fallback_opens_carries_messages_both_ways_and_ends(client: TestClient[Litestar]) -> None:
    base = "/echo/000/session-b"
    opened = client.post(f"{base}/xhr")
    assert opened.status_code == 200 and opened.text == "o\n"
    assert opened.headers["content-type"].startswith("application/javascript")

    sent = client.post(f"{base}/xhr_send", content=json.dumps(["ping", "pong"]))
    assert sent.status_code == 204
    received: list[str] = []
    while len(received) < 2:
        poll = client.post(f"{base}/xhr")
        assert poll.status_code == 200 and poll.text.startswith("a[")
        received.extend(json.loads(poll.text[1:]))
    assert received == ["ping", "pong"]

    assert client.post(f"{base}/xhr_send", content=json.dumps(["bye"])).status_code == 204
    assert client.post(f"{base}/xhr").text == 'a["bye"]\n'
    assert client.post(f"{base}/xhr").text == GO_AWAY + "\n"
    # The session is gone: sending to it is refused, and a poll would open a new one.
    assert client.post(f"{base}/xhr_send", content=json.dumps(["late"])).status_code == 404


def test_xhr_send_refuses_unknown_sessions_and_broken_frames(client: TestClient[Litestar]) -> None:
    assert client.post("/echo/000/nobody/xhr_send", content='["x"]').status_code == 404
    assert client.post("/echo/000/session-c/xhr").text == "o\n"
    broken = client.post("/echo/000/session-c/xhr_send", content="{not json")
    assert broken.status_code == 400 and broken.text == "Broken JSON encoding."
    assert client.post("/echo/000/session-c/xhr_send", content='{"an": "object"}').status_code == 400


@pytest.mark.parametrize(("frame", "messages"), [
    ('["a","b"]', ["a", "b"]), ('"one"', ["one"]), ("", []), ("[]", []),
])
def test_client_frames_decode_to_their_messages(frame: str, messages: list[str]) -> None:
    assert decode_client_frame(frame) == messages


@pytest.mark.parametrize("frame", ["[1]", "{}", "null", "[", '["a", 2]'])
def test_anything_but_strings_is_a_broken_frame(frame: str) -> None:
    with pytest.raises(ValueError):
        decode_client_frame(frame)


def test_server_frames_are_compact_json_arrays() -> None:
    assert message_frame(['{"type":"totals"}', "é"]) == 'a["{\\"type\\":\\"totals\\"}","\\u00e9"]'
