"""Cancelled units of work hand their connection back exactly as the pool lent it, and write nothing.

A request is cancelled when its client disconnects or times out, at whatever await it happens
to be on: waiting for a connection, in the pool's liveness check, mid-statement, between two
statements, in commit or in the rollback on the way out. A connection that came back in
autocommit would make every later SAVEPOINT fail and every multi-statement write non-atomic.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable

import anyio
import argon2
import psycopg
import pytest
from psycopg.pq import TransactionStatus

from fleet_adapters.memory import AlwaysHealthy, MovableClock
from fleet_adapters.memory.invalidation import InMemoryInvalidationBus
from fleet_adapters.memory.logs import RecordingLogDestination
from fleet_adapters.memory.mail import RecordingMailer
from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.memory.schedule_lock import InMemoryScheduleLock
from fleet_adapters.postgres.pool import Pool
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_adapters.security.argon2 import Argon2PasswordHasher
from fleet_adapters.security.tokens import SecretsTokenGenerator
from fleet_core.model.config import AppConfig, OrgInfo
from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.users import NewUser, Role
from fleet_core.rules.paging import ListOptions
from fleet_core.services import Services, make_services
from fleet_core.services.users import UserInput

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

STORM_TASKS = 240
WAVE = 6
SEEDS = 3
# Long enough for some units of work to finish, short enough for most to be cut somewhere.
LONGEST_TIMEOUT = 0.03
DEADLINE = 30.0
# More than psycopg's MAX_BUSY_TIME (5 ms).
HASHING_SECONDS = 0.008


async def _unit_of_work(pool: Pool, tag: str, at: dt.datetime, halfway: asyncio.Event | None = None,
                        *, hash_first: bool = False) -> None:
    """Two guarded writes around a contended row: each storm task queues on the app_config row."""
    if hash_first:
        _hash_a_password()
    async with PgUnitOfWork(pool) as uow:
        await uow.users.add(NewUser(name=tag, email=f"{tag}@example.com", password_hash="$argon2id$not-a-hash",
                                    global_role=Role.OBSERVER))
        if halfway is not None:
            halfway.set()
            await asyncio.Event().wait()
        await uow.app_config.save(AppConfig(org_info=OrgInfo(org_name=tag)))
        await uow.teams.add(name=tag, description="", at=at)
        await uow.commit()


async def _cancel_with_wait_for(work: Awaitable[None], delay: float) -> None:
    # One cancellation, delivered where the task happens to be.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(work, delay)


async def _cancel_with_a_scope(work: Awaitable[None], delay: float) -> None:
    # anyio delivers the cancellation again at every await inside the scope, cleanup included:
    # that is what cut psycopg's own query cancellation short and closed connections.
    with anyio.move_on_after(delay):
        await work


async def _cancel_twice(work: Awaitable[None], delay: float) -> None:
    task = asyncio.ensure_future(work)
    await asyncio.sleep(delay)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


CANCELLERS: list[Callable[[Awaitable[None], float], Awaitable[None]]] = [
    _cancel_with_wait_for, _cancel_with_a_scope, _cancel_twice,
]


async def _storm(pool: Pool, at: dt.datetime, seed: int) -> None:
    rng = random.Random(seed)

    async def one(index: int) -> None:
        cancel = rng.choice(CANCELLERS)
        hash_first = rng.random() < 0.25
        # A client that gives up while its request is hashing finds the request at its first
        # await afterwards, which is where the pool lends the connection.
        delay = rng.uniform(0, HASHING_SECONDS if hash_first else LONGEST_TIMEOUT)
        work = _unit_of_work(pool, f"storm-{seed}-{index}", at, hash_first=hash_first)
        try:
            await cancel(work, delay)
        except pytest.fail.Exception:
            # The unit of work finished before its deadline: nothing was cancelled.
            pass

    # In waves a little larger than the pool: some requests queue for a connection, others
    # find one free.
    for wave in range(0, STORM_TASKS, WAVE):
        async with anyio.create_task_group() as tasks:
            for index in range(wave, wave + WAVE):
                tasks.start_soon(one, index)


def _hash_a_password() -> None:
    """Stand in for the CPU work a request does before its unit of work (argon2 in a login).

    It keeps the loop busy past psycopg's MAX_BUSY_TIME, after which psycopg yields to the loop
    even in calls that need no I/O (such as the pool's check switching autocommit on), and the
    cancellation that arrived during the work is delivered right there.
    """
    until = time.perf_counter() + HASHING_SECONDS
    while time.perf_counter() < until:
        pass


async def _assert_every_connection_is_as_configured(pool: Pool, pg_dsn: str) -> None:
    size = pool.max_size
    # Holding every connection at once means we see each one the pool could lend.
    held = [await pool.getconn() for _ in range(size)]
    try:
        for conn in held:
            assert conn.autocommit is False
            assert conn.pgconn.transaction_status == TransactionStatus.IDLE
            assert conn.isolation_level is None
            assert conn.read_only is None
            # The server agrees: a statement opens a transaction, a SAVEPOINT is allowed in it.
            await conn.execute("SAVEPOINT probe")
            assert conn.pgconn.transaction_status == TransactionStatus.INTRANS
            await conn.rollback()
    finally:
        for conn in held:
            await pool.putconn(conn)
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as observer:
        cursor = await observer.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state LIKE 'idle in transaction%%'"
        )
        assert await cursor.fetchone() == (0,)


async def _assert_nothing_half_written(pool: Pool) -> None:
    async with PgUnitOfWork(pool) as uow:
        users = {user.name for user in await uow.users.list(ListOptions())}
        teams = {team.name for team in await uow.teams.get_many(range(1, STORM_TASKS * SEEDS * 2))}
    storm_users = {name for name in users if name.startswith("storm-")}
    assert storm_users == {name for name in teams if name.startswith("storm-")}


async def test_units_of_work_cancelled_anywhere_leave_every_connection_usable(
    pg_pool: Pool, pg_dsn: str, at: dt.datetime
) -> None:
    for seed in range(SEEDS):
        await _storm(pg_pool, at, seed)

    await _assert_every_connection_is_as_configured(pg_pool, pg_dsn)
    await _assert_nothing_half_written(pg_pool)
    # Ordinary multi-statement writes all succeed, on whichever connection they get.
    for index in range(pg_pool.max_size * 4):
        await _unit_of_work(pg_pool, f"after-{index}", at)
    async with PgUnitOfWork(pg_pool) as uow:
        assert await uow.users.get_by_email(f"after-{pg_pool.max_size * 4 - 1}@example.com") is not None
    # And so do the writes of real use cases: user creation and logins (which write a session
    # in a guarded write), several times round the pool.
    hasher = Argon2PasswordHasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST))
    services = _services_on(pg_pool, hasher)
    async with PgUnitOfWork(pg_pool) as uow:
        await uow.users.add(NewUser(name="Admin", email="admin@example.com", password_hash=await hasher.hash(PASSWORD),
                                    global_role=Role.ADMIN))
        await uow.commit()
    admin = await services.auth.authenticate((await services.auth.login("admin@example.com", PASSWORD))[1])
    for index in range(pg_pool.max_size * 3):
        email = f"login-{index}@example.com"
        await services.users.create(admin, UserInput(name=f"Login {index}", email=email, password=PASSWORD,
                                                     global_role="observer", admin_forced_password_reset=False))
        user, token = await services.auth.login(email, PASSWORD)
        assert (await services.auth.authenticate(token)).user.id == user.id


PASSWORD = "correct-horse-9"


def _services_on(pool: Pool, hasher: Argon2PasswordHasher) -> Services:
    """The real services on this pool; what is not Postgres is in memory."""
    clock = MovableClock()
    logs = RecordingLogDestination()
    return make_services(
        uow=lambda: PgUnitOfWork(pool), hasher=hasher,
        tokens=SecretsTokenGenerator(), clock=clock, mailer=RecordingMailer(),
        rate_limiter=InMemoryRateLimiter(clock), health=AlwaysHealthy(), runtime=ServerRuntime(),
        bus=InMemoryInvalidationBus(), logs={"result": logs, "status": logs}, schedule_lock=InMemoryScheduleLock(),
    )


async def test_a_write_cancelled_between_two_statements_leaves_nothing(pg_pool: Pool, at: dt.datetime) -> None:
    halfway = asyncio.Event()
    task = asyncio.ensure_future(_unit_of_work(pg_pool, "halfway", at, halfway))
    await asyncio.wait_for(halfway.wait(), DEADLINE)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async with PgUnitOfWork(pg_pool) as uow:
        assert await uow.users.get_by_email("halfway@example.com") is None
        assert await uow.users.count() == 0


async def test_a_write_cancelled_mid_statement_leaves_nothing(pg_pool: Pool, at: dt.datetime) -> None:
    async with PgUnitOfWork(pg_pool) as holder:
        # Holding the app_config row parks the victim inside its second statement.
        await holder.app_config.save(AppConfig(org_info=OrgInfo(org_name="holder")))
        victim = asyncio.ensure_future(_unit_of_work(pg_pool, "victim", at))
        await _wait_for_a_lock_waiter(pg_pool)
        victim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await victim

    async with PgUnitOfWork(pg_pool) as uow:
        assert await uow.users.get_by_email("victim@example.com") is None
        assert await uow.app_config.get() == AppConfig()


async def _wait_for_a_lock_waiter(pool: Pool) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while True:
        async with pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = await cursor.fetchone()
        if row is not None and row[0] > 0:
            return
        assert asyncio.get_running_loop().time() < deadline, "the victim never waited for the lock"
        await asyncio.sleep(0.005)


async def test_a_cancellation_inside_the_pools_check_leaves_autocommit_off(pg_pool: Pool, pg_dsn: str) -> None:
    # The exact path of the 500s: the client went away while the request was busy (hashing), so
    # the cancellation waited for the next yield, which psycopg makes inside the check's switch
    # to autocommit once the loop has been busy longer than MAX_BUSY_TIME.
    # Once: a second round would find the connection in autocommit and, cancelled mid-query,
    # close it, hiding the first round's damage.
    with anyio.CancelScope() as scope:
        scope.cancel()
        _hash_a_password()
        conn = await pg_pool.getconn()
        # Reached only if no yield came between the cancellation and here.
        await pg_pool.putconn(conn)
    await _assert_every_connection_is_as_configured(pg_pool, pg_dsn)


async def test_a_connection_returned_with_changed_settings_is_lent_as_configured(pg_pool: Pool, pg_dsn: str) -> None:
    held = [await pg_pool.getconn() for _ in range(pg_pool.max_size)]
    for conn in held:
        await conn.set_autocommit(True)
        await conn.set_isolation_level(psycopg.IsolationLevel.SERIALIZABLE)
        await conn.set_read_only(True)
        await pg_pool.putconn(conn)
    await _assert_every_connection_is_as_configured(pg_pool, pg_dsn)


class _AdapterBug(Exception):
    pass


async def test_an_exception_midway_leaves_nothing_and_the_connections_as_configured(
    pg_pool: Pool, pg_dsn: str, at: dt.datetime
) -> None:
    for index in range(pg_pool.max_size * 2):
        with pytest.raises(_AdapterBug):
            async with PgUnitOfWork(pg_pool) as uow:
                await uow.teams.add(name=f"raised-{index}", description="", at=at)
                raise _AdapterBug
    await _assert_every_connection_is_as_configured(pg_pool, pg_dsn)
    async with PgUnitOfWork(pg_pool) as uow:
        assert await uow.teams.get_many(range(1, 100)) == []
