"""The management API over the in-memory kit: an app per test, and a harness that sets up users.

`fleet` is a fresh server with the first admin set up through `POST /api/v1/setup`; `cast`
adds one logged-in user for each role the authorization table distinguishes (global admin,
maintainer, observer; admin, maintainer and observer of team one) plus a second team.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.services import Services
from fleet_core.services.jobs import running_jobs
from fleet_http.app import create_app
from tests.http.support import Cast, Fleet


@pytest.fixture
def kit() -> InMemoryKit:
    return in_memory_kit()


@attrs.define
class _Slot:
    kit: InMemoryKit | None = None


@pytest.fixture(scope="session")
def _shared_app() -> tuple[Litestar, _Slot]:
    # Building the app takes about 0.1 s; one app serves every test, and its lifespan (run by
    # each test's client) picks up that test's own kit, so no state crosses tests.
    slot = _Slot()

    @asynccontextmanager
    async def services() -> AsyncIterator[Services]:
        assert slot.kit is not None
        # The background jobs run as in a serving process (the webhook tests rely on them).
        async with running_jobs(slot.kit.services):
            yield slot.kit.services

    return create_app(services), slot


@pytest.fixture
def app(kit: InMemoryKit, _shared_app: tuple[Litestar, _Slot]) -> Litestar:
    shared, slot = _shared_app
    slot.kit = kit
    return shared


@pytest.fixture
async def client(app: Litestar, anyio_backend: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
def blank(kit: InMemoryKit, client: AsyncTestClient[Litestar]) -> Fleet:
    """A server nobody has set up yet."""
    return Fleet(kit=kit, client=client)


@pytest.fixture
async def fleet(blank: Fleet) -> Fleet:
    """A server set up with its first admin (logged in as `fleet.admin`)."""
    await blank.setup()
    return blank


@pytest.fixture
async def cast(fleet: Fleet) -> Cast:
    team_one = await fleet.add_team("Team One")
    team_two = await fleet.add_team("Team Two")
    assert fleet.admin is not None
    actors = {"admin": fleet.admin}
    for role in ("maintainer", "observer"):
        actors[role] = await fleet.create_user(global_role=role, email=f"{role}@example.com")
    for role in ("admin", "maintainer", "observer"):
        actors[f"team_{role}"] = await fleet.create_user(
            teams=[{"id": team_one, "role": role}], email=f"team-{role}@example.com")
    return Cast(fleet=fleet, team_one=team_one, team_two=team_two, actors=actors)
