"""A small SockJS server: the framing SockJS clients expect, over any message handler.

Fleet's UI and scripts reach the live-query result stream through SockJS (base URL
``/api/v1/fleet/results``). This module speaks the parts of the SockJS protocol a client needs:

* ``GET <base>/info``: what the server supports;
* ``<base>/<server>/<session>/websocket``: the websocket transport, framed (``o`` open, ``a[...]``
  messages, ``h`` heartbeat, ``c[code,"reason"]`` close; the client sends JSON arrays of strings);
* ``POST <base>/<server>/<session>/xhr`` and ``.../xhr_send``: the XHR polling fallback, for
  clients behind proxies that refuse websockets.

The message logic knows nothing of this: it gets a ``TextChannel`` (receive a text message, send
one) whichever transport carries it. XHR sessions live in the process that opened them, as in
every SockJS server, so the polling fallback needs session affinity behind a load balancer (the
websocket transport does not).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs
import structlog
from litestar import Request, Response, Router, WebSocket, get, post, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

log = structlog.get_logger(__name__)

# SockJS' defaults: a heartbeat every 25 s keeps proxies from closing idle connections, and a
# session whose client stopped polling is closed after a few seconds without a poll.
HEARTBEAT_SECONDS = 25.0
POLL_SECONDS = 25.0
ABANDONED_SECONDS = 30.0
JAVASCRIPT = "application/javascript; charset=UTF-8"
GO_AWAY = 'c[3000,"Go away!"]'
ANOTHER_CONNECTION = 'c[2010,"Another connection still open"]'


class ChannelClosed(Exception):
    """The client went away; the handler should finish."""


class TextChannel(Protocol):
    async def receive_text(self) -> str:
        """The client's next message. Raises ChannelClosed once the client is gone."""
        ...

    async def send_text(self, data: str) -> None:
        """Send one message. Raises ChannelClosed once the client is gone."""
        ...


MessageHandler = Callable[[TextChannel, State], Awaitable[None]]


def decode_client_frame(frame: str) -> list[str]:
    """The messages in a SockJS client frame: a JSON array of strings (or one JSON string).

    Raises ValueError for anything else, which SockJS servers treat as a broken session.
    """
    payload = json.loads(frame) if frame.strip() else []
    if isinstance(payload, str):
        return [payload]
    if isinstance(payload, list) and all(isinstance(m, str) for m in payload):
        return payload
    raise ValueError("a SockJS frame is a JSON array of strings")


def message_frame(messages: list[str]) -> str:
    return "a" + json.dumps(messages, separators=(",", ":"))


# ---- websocket transport ---------------------------------------------------------------------


@attrs.define
class _WebSocketChannel:
    socket: WebSocket[Any, Any, Any]
    pending: list[str] = attrs.field(factory=list)

    async def receive_text(self) -> str:
        while not self.pending:
            try:
                frame = await self.socket.receive_text()
            except WebSocketDisconnect as exc:
                raise ChannelClosed from exc
            try:
                self.pending.extend(decode_client_frame(frame))
            except ValueError as exc:
                raise ChannelClosed from exc
        return self.pending.pop(0)

    async def send_text(self, data: str) -> None:
        try:
            await self.socket.send_text(message_frame([data]))
        except (WebSocketDisconnect, RuntimeError) as exc:
            raise ChannelClosed from exc


async def _heartbeats(socket: WebSocket[Any, Any, Any]) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await socket.send_text("h")


# ---- XHR polling transport -------------------------------------------------------------------


@attrs.define(eq=False)
class _XhrSession:
    inbox: asyncio.Queue[str] = attrs.field(factory=asyncio.Queue)
    outbox: list[str] = attrs.field(factory=list)
    # Set when outbox gains messages or the session closes: wakes a waiting poll.
    ready: asyncio.Event = attrs.field(factory=asyncio.Event)
    # Set by every poll: keeps the watchdog from declaring the client gone.
    polled: asyncio.Event = attrs.field(factory=asyncio.Event)
    gone: asyncio.Event = attrs.field(factory=asyncio.Event)
    polling: bool = False
    tasks: list[asyncio.Task[None]] = attrs.field(factory=list)

    @property
    def closed(self) -> bool:
        return self.gone.is_set()

    def close(self) -> None:
        self.gone.set()
        self.ready.set()

    async def watchdog(self) -> None:
        """Close the session once its client has stopped polling."""
        while not self.closed:
            self.polled.clear()
            try:
                await asyncio.wait_for(self.polled.wait(), ABANDONED_SECONDS)
            except TimeoutError:
                if not self.polling:
                    self.close()

    async def receive_text(self) -> str:
        if self.closed:
            raise ChannelClosed
        message = asyncio.ensure_future(self.inbox.get())
        gone = asyncio.ensure_future(self.gone.wait())
        try:
            await asyncio.wait({message, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if message.done():
            return message.result()
        message.cancel()
        raise ChannelClosed

    async def send_text(self, data: str) -> None:
        if self.closed:
            raise ChannelClosed
        self.outbox.append(data)
        self.ready.set()


@attrs.define
class _Registry:
    sessions: dict[str, _XhrSession] = attrs.field(factory=dict)


def sockjs_router(path: str, handler: MessageHandler) -> Router:
    """The SockJS endpoints under ``path``, each session served by ``handler``."""
    registry = _Registry()

    @get("/info", sync_to_thread=False)
    def info() -> Response[dict[str, Any]]:
        return Response({"websocket": True, "cookie_needed": False, "origins": ["*:*"],
                         "entropy": secrets.randbits(31)},
                        headers={"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0"})

    @websocket("/{server_id:str}/{session_id:str}/websocket")
    async def framed_websocket(socket: WebSocket[Any, Any, Any], server_id: FromPath[str],
                               session_id: FromPath[str], state: State) -> None:
        await socket.accept()
        await socket.send_text("o")
        beating = asyncio.create_task(_heartbeats(socket))
        try:
            await handler(_WebSocketChannel(socket), state)
        except ChannelClosed:
            pass
        finally:
            beating.cancel()
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await socket.send_text(GO_AWAY)
            await socket.close(code=1000)

    async def run(session: _XhrSession, key: str, state: State) -> None:
        try:
            await handler(session, state)
        except ChannelClosed:
            pass
        except Exception:
            log.exception("sockjs_session_failed")
        finally:
            session.close()
            # What the handler sent last stays for the next poll, which then ends the session.
            if registry.sessions.get(key) is session and not session.outbox:
                registry.sessions.pop(key, None)

    @post("/{server_id:str}/{session_id:str}/xhr", status_code=200, media_type=JAVASCRIPT)
    async def xhr(server_id: FromPath[str], session_id: FromPath[str], state: State) -> Response[str]:
        key = f"{server_id}/{session_id}"
        session = registry.sessions.get(key)
        if session is None:
            session = _XhrSession()
            registry.sessions[key] = session
            session.tasks = [asyncio.create_task(run(session, key, state)),
                             asyncio.create_task(session.watchdog())]
            return _javascript("o\n")
        if session.polling:
            return _javascript(ANOTHER_CONNECTION + "\n")
        session.polling = True
        session.polled.set()
        try:
            if not session.outbox and not session.closed:
                session.ready.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.ready.wait(), POLL_SECONDS)
        finally:
            session.polling = False
            session.polled.set()
        if session.outbox:
            frame, session.outbox = message_frame(session.outbox), []
            return _javascript(frame + "\n")
        if session.closed:
            registry.sessions.pop(key, None)
            return _javascript(GO_AWAY + "\n")
        return _javascript("h\n")

    @post("/{server_id:str}/{session_id:str}/xhr_send", status_code=200, media_type="text/plain",
          responses={204: ResponseSpec(None, description="The frame was queued for the session"),
                     400: ResponseSpec(None, description="Broken JSON encoding."),
                     404: ResponseSpec(None, description="No such session")})
    async def xhr_send(server_id: FromPath[str], session_id: FromPath[str],
                       request: Request[Any, Any, Any]) -> Response[str]:
        session = registry.sessions.get(f"{server_id}/{session_id}")
        if session is None or session.closed:
            return Response("", status_code=404, media_type="text/plain")
        try:
            messages = decode_client_frame((await request.body()).decode())
        except (ValueError, UnicodeDecodeError):
            # The SockJS protocol says 500 here; a malformed frame is the client's fault, and this
            # server answers no 5xx to input (docs/api-errors.md).
            return Response("Broken JSON encoding.", status_code=400, media_type="text/plain")
        for message in messages:
            session.inbox.put_nowait(message)
        return Response("", status_code=204, media_type="text/plain")

    return Router(path=path, route_handlers=[info, framed_websocket, xhr, xhr_send])


def _javascript(body: str) -> Response[str]:
    return Response(body, media_type=JAVASCRIPT, headers={"Cache-Control": "no-store, no-cache, max-age=0"})
