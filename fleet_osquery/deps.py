"""How a handler reaches the services: ``services_of(request).agents``.

The management API names its services as dependencies; this API does not, on purpose: every
check-in would pay Litestar's dependency resolution (a signature model, a kwargs model, a cleanup
group) for what is one attribute read. The app's lifespan puts the bundle in a ``ServiceSlot`` on
the app's state, and handlers read it from there.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
from litestar import Request

from fleet_core.services import Services

SLOT_KEY: Final = "agent_services"


@attrs.define
class ServiceSlot:
    """The bundle an app serves, set by its lifespan while the services are open."""

    services: Services | None = None

    def current(self) -> Services:
        if self.services is None:
            raise RuntimeError("the osquery app got a request before its lifespan started")
        return self.services


def services_of(request: Request[Any, Any, Any]) -> Services:
    """The services of the app serving ``request``."""
    slot: ServiceSlot = request.app.state[SLOT_KEY]
    return slot.current()
