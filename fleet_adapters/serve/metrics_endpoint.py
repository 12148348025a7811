"""GET /metrics and the request metrics, at the ASGI level of the server (both APIs' port).

Fleet serves /metrics on its one server, guarded by HTTP basic auth: with
--prometheus-basic-auth-username and --prometheus-basic-auth-password set it asks for them, with
--prometheus-basic-auth-disable (and no credentials) it serves anyone, and otherwise it does not
serve /metrics at all (the path is then an ordinary unknown route: 404).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from fleet_adapters import metrics
from fleet_adapters.serve.asgi import METRICS_PATH
from fleet_adapters.settings import Settings

__all__ = ["METRICS_PATH", "MetricsEndpoint"]
REALM_HEADER: Final = (b"www-authenticate", b'Basic realm="metrics"')

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class MetricsEndpoint:
    def __init__(self, settings: Settings) -> None:
        user, password = settings.prometheus_basic_auth_username, settings.prometheus_basic_auth_password
        self._credentials = (user.encode(), password.encode()) if user and password else None
        self.enabled = self._credentials is not None or settings.prometheus_basic_auth_disable

    def allows(self, scope: Scope) -> bool:
        """The request carries the configured credentials (always, when auth is disabled)."""
        if self._credentials is None:
            return True
        header = next((value for name, value in scope.get("headers", ()) if name == b"authorization"), b"")
        scheme, _, encoded = bytes(header).partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, _, password = decoded.partition(b":")
        expected_user, expected_password = self._credentials
        # Both compared every time, in constant time, so timing tells nothing about either.
        user_ok = hmac.compare_digest(user, expected_user)
        password_ok = hmac.compare_digest(password, expected_password)
        return user_ok and password_ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.allows(scope):
            await _respond(send, 401, b'{"message":"Authentication required"}', b"application/json", REALM_HEADER)
            return
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(send, 405, b'{"message":"Method not allowed"}', b"application/json",
                           (b"allow", b"GET, HEAD"))
            return
        # Adding up every worker's files reads the disk: off the event loop.
        body = await asyncio.to_thread(metrics.render)
        await _respond(send, 200, b"" if scope.get("method") == "HEAD" else body, metrics.CONTENT_TYPE.encode())

    @staticmethod
    async def metered(app: ASGIApp, api: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Run one HTTP request through ``app``, observing its route template, status and duration.
        The route is the template the app matched (never the raw path, where tokens travel)."""
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_with_status)
        finally:
            metrics.observe_request(api, scope.get("method", ""), scope.get("path_template") or "<unmatched>",
                                    status, time.perf_counter() - started)


async def _respond(send: Send, status: int, body: bytes, content_type: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

