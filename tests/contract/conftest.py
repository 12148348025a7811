"""Storage contract fixtures: every storage test runs on the in-memory store and on Postgres."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio
import psycopg
import pytest

from fleet_adapters.memory import InMemoryStore
from fleet_core.model.teams import Team
from fleet_core.model.users import NewUser, Role, User
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory

IMPLEMENTATIONS = ["memory", pytest.param("postgres", marks=pytest.mark.postgres)]
LOCK_WAIT_DEADLINE = 10.0


@pytest.fixture(params=IMPLEMENTATIONS)
def storage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def uow_factory(storage: str, request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if storage == "memory":
        return InMemoryStore().unit_of_work
    # Looked up lazily so that memory-only runs (make test-unit) never need a database.
    # pg_uow_factory works on a database cloned from the migrated template for this test.
    factory: UnitOfWorkFactory = request.getfixturevalue("pg_uow_factory")
    return factory


@pytest.fixture
def wait_for_lock_waiter(storage: str, request: pytest.FixtureRequest) -> Callable[[], Awaitable[None]]:
    """Returns once another unit of work is blocked waiting for one this test holds."""
    if storage == "memory":
        # The in-memory store serialises units of work on an asyncio lock: the waiter is
        # blocked once every other task is.
        return anyio.wait_all_tasks_blocked
    dsn: str = request.getfixturevalue("pg_dsn")

    async def wait() -> None:
        deadline = time.monotonic() + LOCK_WAIT_DEADLINE
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            while True:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                row = await cur.fetchone()
                if row is not None and row[0] > 0:
                    return
                assert time.monotonic() < deadline, "no session ever waited for the lock"
                await anyio.sleep(0.005)

    return wait


@pytest.fixture
def at() -> dt.datetime:
    return dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


class AddUser(Protocol):
    def __call__(self, uow: UnitOfWork, email: str, **fields: Any) -> Awaitable[User]: ...


class AddTeam(Protocol):
    def __call__(self, uow: UnitOfWork, name: str) -> Awaitable[Team]: ...


def new_user(email: str, **fields: Any) -> NewUser:
    values: dict[str, Any] = {
        "name": email.split("@")[0].title(),
        "email": email,
        "password_hash": "$argon2id$not-a-real-hash",
        "global_role": Role.OBSERVER,
    }
    values.update(fields)
    return NewUser(**values)


@pytest.fixture
def add_user() -> AddUser:
    async def add(uow: UnitOfWork, email: str, **fields: Any) -> User:
        return await uow.users.add(new_user(email, **fields))

    return add


@pytest.fixture
def add_team(at: dt.datetime) -> AddTeam:
    async def add(uow: UnitOfWork, name: str) -> Team:
        return await uow.teams.add(name=name, description=f"{name} team", at=at)

    return add
