"""Services on the in-memory kit: real rules, fake storage, a movable clock."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock, in_memory_kit
from fleet_core.authz import Viewer
from fleet_core.model.runtime import ServerRuntime
from fleet_core.services.setup import SetupInput
from fleet_core.services.users import UserInput
from tests.unit.services.support import PASSWORD, MakeUser


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def kit(clock: MovableClock) -> InMemoryKit:
    return in_memory_kit(clock=clock, runtime=ServerRuntime(session_duration=dt.timedelta(hours=1),
                                                            default_server_url="https://fleet.test"))


@pytest.fixture
async def admin(kit: InMemoryKit) -> Viewer:
    result = await kit.services.setup.setup(SetupInput(
        name="Admin", email="admin@example.com", password=PASSWORD, password_confirmation=PASSWORD,
        org_name="Acme", server_url="https://fleet.example.com"))
    return await kit.services.auth.authenticate(result.token)


@pytest.fixture
def make_user(kit: InMemoryKit, admin: Viewer) -> MakeUser:
    """Create a user with the given roles and return them logged in."""
    counter = iter(range(1, 1000))

    async def create(global_role: str | None = None, teams: list[tuple[int, str]] | None = None) -> Viewer:
        n = next(counter)
        email = f"user{n}@example.com"
        await kit.services.users.create(admin, UserInput(
            name=f"User {n}", email=email, password=PASSWORD, global_role=global_role, teams=teams or [],
            admin_forced_password_reset=False))
        _, token = await kit.services.auth.login(email, PASSWORD)
        return await kit.services.auth.authenticate(token)

    return create
