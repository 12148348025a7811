"""Request logging: one structlog line per request, with a request id, never a credential.

The logged path is the route template (`/api/v1/fleet/invites/{token:str}`), not the raw path,
so tokens that travel in paths never reach the log.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("fleet.http")


def request_logging(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers: Any = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await app(scope, receive, send_with_status)
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path_template") or "<unmatched>",
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                request_id=request_id,
                user_id=scope.get("state", {}).get("user_id"),
            )

    return middleware

