"""Live query results for the campaign's creator, as Fleet streams them (fleetdm/fleet
server/service/service_campaigns.go), over a plain WebSocket at /results/websocket and over SockJS
at /results (fleet_http.sockjs).

The protocol lives in ``ResultsSession`` and talks to a ``MessageChannel``: one JSON text per
message, in each direction. A transport only moves those texts; ``WebSocketChannel`` does it
for raw WebSocket frames, and a SockJS transport can wrap its framing the same way.

Client, in order: ``{"type":"auth","data":{"token":...}}`` then
``{"type":"select_campaign","data":{"campaign_id":N}}``. Server: ``totals`` and ``status`` first
and whenever they change (checked every ``refresh_seconds``), ``result`` per host answer, each
burst of results that had already arrived followed by the status counting them (so a status after
every result when they come one at a time), and ``error`` with a string whenever something is
refused. A failed auth is answered with "unauthorized" and the socket closed; a failed selection is answered and
the client may select again. When the client leaves, the campaign is completed. The session is
checked again at every refresh, so a stream outlives a logout (or a deleted or demoted user) by
at most ``refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import msgspec
import structlog
from litestar import Controller, WebSocket, websocket
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect

from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, FleetError, NotFound, PermissionDenied, Unavailable
from fleet_core.model.campaigns import CampaignMetrics, LiveResult
from fleet_core.rules.campaigns import shown_rows, stream_status
from fleet_core.services import Services
from fleet_core.services.auth import AuthService
from fleet_core.services.live_queries import CampaignStream, LiveQueryService
from fleet_http.console.session import SESSION_COOKIE
from fleet_http.sockjs import ChannelClosed, TextChannel

log = structlog.get_logger(__name__)

REFRESH_SECONDS = 5.0
# How often the loop looks at the client side while no result arrives.
POLL_SECONDS = 0.5
# Results already received and sent on together before the status that counts them: at a
# campaign's peak (hundreds of hosts a second) one status per burst instead of one per result.
BURST_RESULTS = 200


class MessageChannel(Protocol):
    """One client connection, carrying JSON texts."""

    async def receive(self) -> str | None:
        """The next text from the client; None once the client is gone."""
        ...

    async def send(self, text: str) -> bool:
        """Send one text; False when the client is gone."""
        ...


class Envelope(msgspec.Struct):
    type: str
    data: Any = None


def message(kind: str, data: Any) -> str:
    return msgspec.json.encode({"type": kind, "data": data}).decode()


def totals_data(metrics: CampaignMetrics) -> dict[str, int]:
    return {"count": metrics.total, "online": metrics.online, "offline": metrics.offline,
            "missing_in_action": metrics.missing_in_action}


def status_data(expected: int, actual: int) -> dict[str, Any]:
    return {"expected_results": expected, "actual_results": actual, "status": stream_status(expected, actual)}


def result_data(result: LiveResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "distributed_query_execution_id": result.campaign_id,
        "host": {"id": result.host_id, "hostname": result.hostname, "display_name": result.display_name},
        "rows": shown_rows(result),
        "error": result.error,
    }
    if result.stats is not None:
        data["stats"] = dict(result.stats)
    return data


def _parse(text: str) -> Envelope | None:
    try:
        return msgspec.json.decode(text, type=Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class ResultsSession:
    """The protocol of one client connection, over any MessageChannel."""

    def __init__(self, auth: AuthService, live_queries: LiveQueryService, channel: MessageChannel, *,
                 refresh_seconds: float = REFRESH_SECONDS, cookie_token: str = "") -> None:
        # Two services, because the protocol has two separate steps: the first message
        # authenticates, later ones select a campaign to stream.
        self.auth = auth
        self.live_queries = live_queries
        self.channel = channel
        self.refresh_seconds = refresh_seconds
        # The console's session (its HttpOnly cookie, sent by the browser with a same-origin
        # handshake): an auth message without a token authenticates with it, so the page never
        # holds the session token where scripts can read it.
        self.cookie_token = cookie_token
        self._token = ""

    async def error(self, text: str) -> bool:
        return await self.channel.send(message("error", text))

    async def run(self) -> None:
        viewer = await self._authenticate()
        if viewer is None:
            return
        stream = await self._select(viewer)
        if stream is None:
            return
        try:
            await self._stream(stream)
        finally:
            await stream.close()

    async def _authenticate(self) -> Viewer | None:
        text = await self.channel.receive()
        if text is None:
            return None
        envelope = _parse(text)
        token = envelope.data.get("token") if envelope is not None and isinstance(envelope.data, dict) else None
        if token is None and self.cookie_token:
            token = self.cookie_token
        if envelope is None or envelope.type != "auth" or not isinstance(token, str) or not token:
            await self.error("unauthorized")
            return None
        try:
            viewer = await self.auth.authenticate(token)
        except FleetError:
            await self.error("unauthorized")
            return None
        self._token = token
        return viewer

    async def _still_authorized(self) -> bool:
        """Whether the session that opened the stream still holds (not logged out, the user not
        deleted); re-read at each refresh so that revocation reaches open streams too."""
        try:
            await self.auth.authenticate(self._token)
        except FleetError:
            return False
        return True

    async def _select(self, viewer: Viewer) -> CampaignStream | None:
        while True:
            text = await self.channel.receive()
            if text is None:
                return None
            envelope = _parse(text)
            if envelope is None or envelope.type != "select_campaign":
                if not await self.error("expected a select_campaign message"):
                    return None
                continue
            campaign_id = envelope.data.get("campaign_id") if isinstance(envelope.data, dict) else None
            if isinstance(campaign_id, bool) or not isinstance(campaign_id, int) or campaign_id <= 0:
                if not await self.error("campaign_id must be a positive integer"):
                    return None
                continue
            try:
                return await self.live_queries.open_stream(viewer, campaign_id)
            except PermissionDenied:
                reason = "forbidden"
            except NotFound:
                reason = f"campaign {campaign_id} not found"
            except BadRequest as exc:
                reason = exc.reason
            except Unavailable:
                reason = "live query results are unavailable"
            if not await self.error(reason):
                return None

    async def _stream(self, stream: CampaignStream) -> None:
        # Anything the client sends now is ignored; its leaving ends the stream.
        gone = asyncio.create_task(self._drain())
        try:
            totals = await stream.totals()
            actual = 0
            status = status_data(totals.online, actual)
            if not (await self.channel.send(message("totals", totals_data(totals)))
                    and await self.channel.send(message("status", status))):
                return
            next_refresh = time.monotonic() + self.refresh_seconds
            while not gone.done():
                wait = max(0.0, min(POLL_SECONDS, next_refresh - time.monotonic()))
                try:
                    result = await stream.next_result(wait)
                except Unavailable:
                    await self.error("live query results are unavailable")
                    return
                burst = 0
                while result is not None:
                    actual += 1
                    burst += 1
                    if not await self.channel.send(message("result", result_data(result))):
                        return
                    if burst >= BURST_RESULTS:
                        break
                    try:
                        # Only what has already arrived: the status follows the burst.
                        result = await stream.next_result(0.0)
                    except Unavailable:
                        await self.error("live query results are unavailable")
                        return
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + self.refresh_seconds
                    if not await self._still_authorized():
                        await self.error("unauthorized")
                        return
                    fresh = await stream.totals()
                    if fresh != totals:
                        totals = fresh
                        if not await self.channel.send(message("totals", totals_data(totals))):
                            return
                fresh_status = status_data(totals.online, actual)
                if fresh_status != status:
                    status = fresh_status
                    if not await self.channel.send(message("status", status)):
                        return
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone

    async def _drain(self) -> None:
        while await self.channel.receive() is not None:
            pass


class WebSocketChannel:
    """Raw WebSocket text frames, one message each."""

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.socket = socket

    async def receive(self) -> str | None:
        try:
            return await self.socket.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            return None

    async def send(self, text: str) -> bool:
        if self.socket.connection_state == "disconnect":
            return False
        try:
            await self.socket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return False
        return True


class SockJSChannel:
    """The same messages over a SockJS session (websocket or XHR polling, framed by fleet_http.sockjs)."""

    def __init__(self, channel: TextChannel) -> None:
        self.channel = channel

    async def receive(self) -> str | None:
        try:
            return await self.channel.receive_text()
        except ChannelClosed:
            return None

    async def send(self, text: str) -> bool:
        try:
            await self.channel.send_text(text)
        except ChannelClosed:
            return False
        return True


async def sockjs_results(channel: TextChannel, state: State) -> None:
    """A SockJS session of the result stream (mounted at /results by the app)."""
    # The SockJS router hands its sessions the app state rather than Litestar's dependencies,
    # so the two services are taken from the bundle here.
    services: Services = state.services
    await ResultsSession(services.auth, services.live_queries, SockJSChannel(channel)).run()


def same_origin_session(socket: WebSocket[Any, Any, Any]) -> str:
    """The console session cookie of a handshake from a page of this server. Browsers send cookies
    with cross-site WebSocket handshakes too, so the cookie counts only when the Origin header
    names this server (cross-site WebSocket hijacking)."""
    origin = socket.headers.get("origin")
    token = socket.cookies.get(SESSION_COOKIE, "")
    if not origin or not token or urlsplit(origin).netloc != socket.headers.get("host"):
        return ""
    return token


class ResultsController(Controller):
    path = "/results"
    tags = ["Live queries"]

    @websocket("/websocket")
    async def results_websocket(self, socket: WebSocket[Any, Any, Any], auth: NamedDependency[AuthService],
                                live_queries: NamedDependency[LiveQueryService]) -> None:
        await socket.accept()
        try:
            await ResultsSession(auth, live_queries, WebSocketChannel(socket),
                                 cookie_token=same_origin_session(socket)).run()
        finally:
            if socket.connection_state != "disconnect":
                with contextlib.suppress(Exception):
                    await socket.close()
