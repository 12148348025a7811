"""Fixtures for the simulator tests: a fake osquery server and hosts wired to it in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from fleet_osquery.sim.agent import SimOptions, SimulatedHost
from fleet_osquery.sim.stats import Stats
from fleet_osquery.sim.templates import get_template
from fleet_osquery.sim.wire import Wire, make_client
from tests.sim.fakes import FakeOsqueryServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def fake() -> FakeOsqueryServer:
    return FakeOsqueryServer()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


HostFactory = Callable[..., SimulatedHost]


@pytest.fixture
async def make_host(fake: FakeOsqueryServer, clock: FakeClock) -> AsyncIterator[HostFactory]:
    clients = []
    stats = Stats()

    def factory(
        template: str = "macos_14",
        index: int = 0,
        *,
        options: SimOptions | None = None,
        api_prefix: str = "/api/osquery",
        secret: str | None = None,
    ) -> SimulatedHost:
        client = make_client(transport=fake.transport())
        clients.append(client)
        wire = Wire(client, "https://fleet.test", api_prefix, stats)
        return SimulatedHost(
            index,
            get_template(template),
            wire,
            secret or fake.secret,
            options or SimOptions(seed=7),
            clock=clock,
            wall_clock=lambda: 1738189037.0,
            sleep=_no_sleep,
        )

    yield factory
    for client in clients:
        await client.aclose()
