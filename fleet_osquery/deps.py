"""Dependency providers: one per service of the bundle the app's lifespan opened.

The same shape as the management API's (a handler names the one service it uses:
``agents: NamedDependency[AgentService]``), with one difference kept for the hot path: a
provider here takes no parameter and reads the bundle from the app's ``ServiceSlot``. A
provider that asks for ``state`` costs a signature-model conversion on every check-in; one
without parameters is a plain call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from litestar.di import Provide

from fleet_core.services import Services


@attrs.define
class ServiceSlot:
    """The bundle an app serves, set by its lifespan while the services are open."""

    services: Services | None = None

    def current(self) -> Services:
        if self.services is None:
            raise RuntimeError("the osquery app got a request before its lifespan started")
        return self.services


def service_providers(slot: ServiceSlot) -> dict[str, Provide]:
    """One dependency per service, keyed by its field name in the bundle (``agents``, ``carves``, ...)."""

    def provider(name: str) -> Callable[[], Any]:
        def provide() -> Any:
            return getattr(slot.current(), name)

        return provide

    return {field.name: Provide(provider(field.name), sync_to_thread=False) for field in attrs.fields(Services)}
