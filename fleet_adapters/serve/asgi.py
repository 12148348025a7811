"""The ASGI application every `fleet serve` worker runs: both APIs on one port, one set of services."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final

import msgspec
import structlog

from fleet_adapters.embedded import die_with_parent, one_line
from fleet_adapters.serve.log_config import configure_logging
from fleet_adapters.settings import Settings, load_settings

# The parent process hands its resolved settings (including the embedded servers' URLs) to
# uvicorn's worker processes through this variable; it is not meant to be set by hand.
SETTINGS_ENV: Final = "_FLEET_SERVE_SETTINGS"
OSQUERY_PREFIXES: Final = ("/api/osquery/", "/api/v1/osquery/")
# Served by serve/metrics_endpoint.py, which is imported only once the server starts: it loads
# prometheus_client, which picks its storage (PROMETHEUS_MULTIPROC_DIR) when first imported.
METRICS_PATH: Final = "/metrics"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Loose on purpose: Litestar types its __call__ with TypedDict unions of every ASGI event.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

if TYPE_CHECKING:
    from fleet_adapters.serve.metrics_endpoint import MetricsEndpoint

log = structlog.get_logger("fleet.cli")


class FleetASGI:
    """Both APIs on one port, as Fleet serves them; the services are opened once per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._management: ASGIApp | None = None
        self._osquery: ASGIApp | None = None
        # GET /metrics when enabled, and the request metrics (serve/metrics_endpoint.py).
        self._metrics: MetricsEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if self._management is None or self._osquery is None:
            raise RuntimeError("the server got a request before its lifespan started")
        path: str = scope.get("path", "")
        osquery = path.startswith(OSQUERY_PREFIXES)
        app = self._osquery if osquery else self._management
        if scope["type"] != "http" or self._metrics is None:
            await app(scope, receive, send)
        elif path == METRICS_PATH and self._metrics.enabled:
            await self._metrics(scope, receive, send)
        else:
            await self._metrics.metered(app, "osquery" if osquery else "fleet", scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Imported here so `fleet version` and `fleet prepare db` do not load Litestar and both apps.
        from fleet_adapters.serve.metrics_endpoint import MetricsEndpoint
        from fleet_adapters.serve.process import serving
        from fleet_http.app import create_app as create_management_app
        from fleet_osquery.app import create_app as create_osquery_app
        from fleet_osquery.app import openapi_paths as osquery_openapi_paths

        await receive()  # lifespan.startup
        started = False
        try:
            async with contextlib.AsyncExitStack() as stack:
                # The services and the background jobs are the process's; both apps share them.
                services = await stack.enter_async_context(serving(self.settings))
                management = create_management_app(lambda: contextlib.nullcontext(services),
                                                   also_documented=osquery_openapi_paths)
                osquery = create_osquery_app(lambda: contextlib.nullcontext(services))
                for app in (management, osquery):
                    await stack.enter_async_context(_forwarded_lifespan(app, scope))
                self._management, self._osquery = management, osquery
                self._metrics = MetricsEndpoint(self.settings)
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except Exception as exc:
            if self.settings.logging_debug:
                log.exception("lifespan failed")
            kind = "shutdown" if started else "startup"
            await send({"type": f"lifespan.{kind}.failed", "message": one_line(exc)})
            return
        finally:
            self._management = self._osquery = None
            self._metrics = None
        await send({"type": "lifespan.shutdown.complete"})


@contextlib.asynccontextmanager
async def _forwarded_lifespan(app: ASGIApp, scope: Scope) -> AsyncIterator[None]:
    """Run app's lifespan protocol for the length of the block, as a server would."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def run() -> None:
        await app(dict(scope), inbox.get, outbox.put)

    task = asyncio.create_task(run())

    async def exchange(kind: str) -> None:
        await inbox.put({"type": f"lifespan.{kind}"})
        reply = asyncio.ensure_future(outbox.get())
        await asyncio.wait({reply, task}, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            task.result()  # the app crashed without answering: raise its error
            raise RuntimeError(f"the application ended its lifespan during {kind}")
        message = reply.result()
        if message["type"] != f"lifespan.{kind}.complete":
            raise RuntimeError(message.get("message") or f"application {kind} failed")

    try:
        await exchange("startup")
        yield
        await exchange("shutdown")
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def asgi_app() -> FleetASGI:
    """uvicorn's app factory (``fleet_adapters.serve.asgi:asgi_app``), called once in every worker."""
    encoded = os.environ.get(SETTINGS_ENV)
    settings = load_settings({}) if encoded is None else msgspec.json.decode(encoded, type=Settings)
    if encoded is not None and settings.workers > 1:
        # A worker must not outlive a `fleet serve` that was killed outright: it would keep
        # the port and the database busy with nobody left to stop it.
        die_with_parent()
    configure_logging(settings)
    return FleetASGI(settings)
