"""The osquery TLS API application: osqueryd's routes under /api/osquery and /api/v1/osquery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar, Router

from fleet_core.services import Services
from fleet_osquery.deps import ServiceSlot, service_providers
from fleet_osquery.errors import EXCEPTION_HANDLERS
from fleet_osquery.handlers import ROUTES

API_PREFIXES = ("/api/osquery", "/api/v1/osquery")


def create_app(open_services: Callable[[], AbstractAsyncContextManager[Services]]) -> Litestar:
    slot = ServiceSlot()

    @asynccontextmanager
    async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services() as services:
            slot.services = services
            try:
                yield
            finally:
                slot.services = None

    return Litestar(
        route_handlers=[Router(path=prefix, route_handlers=ROUTES) for prefix in API_PREFIXES],
        dependencies=service_providers(slot),
        lifespan=[services_lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=None,
        # Logging is configured once by the fleet command; Litestar must not replace it.
        logging_config=None,
    )
