"""Live query campaigns: start one, then read its results over the results WebSocket.

The stream (fleet_http/results_stream.py, Fleet's protocol): the client sends ``auth`` and
``select_campaign``; the server sends ``totals`` and ``status`` first and when they change,
``result`` per host answer and ``error`` for anything refused. Leaving the socket completes
the campaign on the server, so closing the stream early (a timeout, Ctrl-C) stops it cleanly.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from fleet_http.client.errors import FleetClientError
from fleet_http.client.transport import USER_AGENT, Transport
from fleet_http.schemas.live_queries import CampaignBody


class Totals(msgspec.Struct, kw_only=True):
    """How many hosts the campaign targets and how many of them are online."""

    count: int
    online: int
    offline: int
    missing_in_action: int


class Status(msgspec.Struct, kw_only=True):
    expected_results: int
    actual_results: int
    status: str

    @property
    def finished(self) -> bool:
        return self.status == "finished"


class ResultHost(msgspec.Struct, kw_only=True):
    id: int
    hostname: str
    display_name: str = ""


class Result(msgspec.Struct, kw_only=True):
    """One host's answer: its rows, or the error it reported."""

    host: ResultHost
    rows: list[dict[str, Any]]
    error: str | None = None
    distributed_query_execution_id: int = 0
    stats: dict[str, Any] | None = None


CLOSE_SECONDS = 2.0


class StreamError(msgspec.Struct, kw_only=True):
    """The server refused something (``unauthorized``, ``campaign N not found``, ...)."""

    message: str


Event = Totals | Status | Result | StreamError


class LiveQueryTimeout(FleetClientError):
    """The stream's deadline passed before every targeted host answered."""


def _event(text: str | bytes) -> Event | None:
    envelope = json.loads(text)
    kind, data = envelope.get("type"), envelope.get("data")
    if kind == "totals":
        return msgspec.convert(data, Totals)
    if kind == "status":
        return msgspec.convert(data, Status)
    if kind == "result":
        return msgspec.convert(data, Result)
    if kind == "error":
        return StreamError(message=str(data))
    return None


class Campaign:
    """A started campaign and its result stream (``async for event in campaign``).

    The iteration ends when the status is ``finished`` (every online host answered), when the
    timeout passes (raises LiveQueryTimeout unless ``raise_on_timeout`` is False) or when the
    server closes the stream (``stop_when_finished`` False: only the last two). ``totals``,
    ``status`` and ``results`` keep what arrived.
    """

    def __init__(self, transport: Transport, campaign: CampaignBody, *, timeout: float | None,
                 raise_on_timeout: bool = True) -> None:
        self.transport = transport
        self.campaign = campaign
        self.timeout = timeout
        self.raise_on_timeout = raise_on_timeout
        self.totals: Totals | None = None
        self.status: Status | None = None
        self.results: list[Result] = []
        self.errors: list[str] = []
        self.timed_out = False
        # False: keep listening after every online host answered (hosts coming online later
        # answer too) until the timeout or until the caller stops.
        self.stop_when_finished = True
        self._socket: ClientConnection | None = None

    @property
    def id(self) -> int:
        return self.campaign.id

    def _url(self) -> str:
        base = self.transport.address
        scheme = "wss" if base.startswith("https://") else "ws"
        return f"{scheme}://{base.split('://', 1)[1]}/api/v1/fleet/results/websocket"

    async def __aenter__(self) -> Campaign:
        verify = self.transport.verify
        context: ssl.SSLContext | None = None
        if self._url().startswith("wss://"):
            if isinstance(verify, ssl.SSLContext):
                context = verify
            else:
                context = ssl.create_default_context()
                if verify is False:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
        # Leaving the stream (the end, or Ctrl-C in fleetctl) waits for the server's close frame at
        # most CLOSE_SECONDS, not websockets' 10 s (twice over: the frame, then the TCP close): a
        # busy server must not keep the user waiting, and the campaign ends when the socket does.
        self._socket = await connect(self._url(), ssl=context, user_agent_header=USER_AGENT, open_timeout=30,
                                     close_timeout=CLOSE_SECONDS)
        await self._socket.send(json.dumps({"type": "auth", "data": {"token": self.transport.token}}))
        await self._socket.send(json.dumps({"type": "select_campaign", "data": {"campaign_id": self.id}}))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Leave the stream; the server then completes the campaign."""
        if self._socket is not None:
            await self._socket.close()
            self._socket = None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        if self._socket is None:
            await self.__aenter__()
        assert self._socket is not None
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self.timed_out = True
                if self.raise_on_timeout:
                    raise LiveQueryTimeout(f"campaign {self.id}: no complete answer within {self.timeout}s")
                return
            try:
                text = await _receive(self._socket, remaining)
            except ConnectionClosed:
                return
            if text is None:
                continue
            event = _event(text)
            if event is None:
                continue
            if isinstance(event, Totals):
                self.totals = event
            elif isinstance(event, Status):
                self.status = event
            elif isinstance(event, Result):
                self.results.append(event)
            else:
                self.errors.append(event.message)
            yield event
            if isinstance(event, Status) and event.finished and self.stop_when_finished:
                return
            if isinstance(event, StreamError) and event.message == "unauthorized":
                return


async def _receive(socket: ClientConnection, seconds: float | None) -> str | bytes | None:
    try:
        return await asyncio.wait_for(socket.recv(), seconds)
    except TimeoutError:
        return None
