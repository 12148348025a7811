"""The osquery TLS API application (enroll, config, distributed read/write, log)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar

from fleet_core.services import Services


def create_app(open_services: Callable[[], AbstractAsyncContextManager[Services]]) -> Litestar:
    """The agent-facing app; its routes arrive with the agents issue (#3)."""

    @asynccontextmanager
    async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services() as services:
            app.state.services = services
            yield

    return Litestar(route_handlers=[], lifespan=[services_lifespan], openapi_config=None, logging_config=None)
