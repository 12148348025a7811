"""What the fuzz slice (tests/fuzz/test_fuzz_api.py) and `make fuzz` (tests/fuzz/run.py) share:
the checks, the operations left out, and the one place both APIs answer in-process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from typing import Any, Final

from litestar import Litestar
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fleet_adapters.serve.asgi import OSQUERY_PREFIXES

DOCUMENT: Final = "/api/openapi/openapi.json"
# A failure is a server error or a response the document does not describe (status, media type,
# body shape).
CHECKS: Final = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Operations the fuzzer must not call with its own session, and why:
# - they end that session (logout) or change the credentials it logs in with, so every later
#   case would be a 401 and test nothing;
# - Fleet documents a 500 for every agent error report, on purpose (docs/api-errors.md);
# - a SockJS xhr poll holds the request open until the session has something to say (25 s), as
#   long polling does: a fuzzer's read timeout there is no finding;
# - a CPU profile (/debug/pprof/profile) samples for up to a minute, one at a time: the fuzzer
#   would spend its time waiting (tests/http/test_http_debug.py covers the route).
LEFT_OUT: Final = [
    ("POST", "/api/v1/fleet/results/{server_id}/{session_id}/xhr"),
    ("POST", "/api/latest/fleet/results/{server_id}/{session_id}/xhr"),
    ("POST", "/api/v1/fleet/logout"), ("POST", "/api/latest/fleet/logout"),
    ("POST", "/api/v1/fleet/change_password"), ("POST", "/api/latest/fleet/change_password"),
    ("POST", "/api/v1/fleet/device/{token}/debug/errors"), ("POST", "/api/latest/fleet/device/{token}/debug/errors"),
    ("GET", "/debug/pprof/{key}"),
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BothApis:
    """Both apps behind one ASGI callable, routed as `fleet serve` routes them
    (fleet_adapters.serve.asgi.FleetASGI), over services the caller opened."""

    def __init__(self, management: Litestar, osquery: Litestar) -> None:
        self.management = management
        self.osquery = osquery

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(self.management.lifespan())
                await stack.enter_async_context(self.osquery.lifespan())
                await send({"type": "lifespan.startup.complete"})
                await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        app = self.osquery if scope.get("path", "").startswith(OSQUERY_PREFIXES) else self.management
        await app(scope, receive, send)  # type: ignore[arg-type]
