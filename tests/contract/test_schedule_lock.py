"""The ScheduleLock contract, on the in-memory lock and on Postgres advisory locks; on Postgres the
lock also holds between two pools (two server processes) and against a session the test opens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import psycopg
import pytest
from psycopg import sql

from fleet_adapters.memory.schedule_lock import InMemoryScheduleLock
from fleet_adapters.postgres.pool import Pool, open_pool
from fleet_adapters.postgres.schedule_lock import TRY_LOCK, UNLOCK, PgScheduleLock
from fleet_core.errors import Unavailable
from fleet_core.ports import ScheduleLock
from tests.contract.conftest import IMPLEMENTATIONS

pytestmark = pytest.mark.anyio


@pytest.fixture(params=IMPLEMENTATIONS)
def lock(request: pytest.FixtureRequest) -> ScheduleLock:
    if request.param == "memory":
        return InMemoryScheduleLock()
    pool: Pool = request.getfixturevalue("pg_pool")
    return PgScheduleLock(pool)


async def test_a_held_lock_is_refused_until_released(lock: ScheduleLock) -> None:
    async with lock.hold("automations") as first:
        assert first is True
        async with lock.hold("automations") as second:
            assert second is False
        # Refusing the second holder did not release the first's lock.
        async with lock.hold("automations") as third:
            assert third is False
        async with lock.hold("cleanups_then_aggregation") as other:
            assert other is True
    async with lock.hold("automations") as again:
        assert again is True


async def test_a_block_that_raises_or_is_cancelled_releases_the_lock(lock: ScheduleLock) -> None:
    with pytest.raises(RuntimeError):
        async with lock.hold("automations") as taken:
            assert taken
            raise RuntimeError("the run failed")
    held = anyio.Event()

    async def hold_forever() -> None:
        async with lock.hold("automations") as taken:
            assert taken
            held.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold_forever)
        await held.wait()
        async with lock.hold("automations") as during:
            assert during is False
        tg.cancel_scope.cancel()
    async with lock.hold("automations") as after:
        assert after is True


async def test_names_are_not_confused(lock: ScheduleLock) -> None:
    async with lock.hold("a") as a, lock.hold("A") as upper, lock.hold("a ") as spaced:
        assert (a, upper, spaced) == (True, True, True)


@pytest.fixture
async def other_pool(pg_dsn: str) -> AsyncIterator[Pool]:
    pool = await open_pool(pg_dsn, min_size=1, max_size=2, wait_seconds=10.0)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.mark.postgres
async def test_the_lock_holds_across_pools_and_sessions(pg_pool: Pool, other_pool: Pool, pg_dsn: str) -> None:
    mine, theirs = PgScheduleLock(pg_pool), PgScheduleLock(other_pool)
    async with mine.hold("automations") as taken:
        assert taken
        async with theirs.hold("automations") as refused:
            assert refused is False
    async with theirs.hold("automations") as taken_there:
        assert taken_there
    # A session holding the advisory lock directly (another process) blocks both.
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        assert (await (await conn.execute(TRY_LOCK, {"name": "automations"})).fetchone()) == (True,)
        async with mine.hold("automations") as a, theirs.hold("automations") as b:
            assert (a, b) == (False, False)
        await conn.execute(UNLOCK, {"name": "automations"})
    async with mine.hold("automations") as taken:
        assert taken


@pytest.mark.postgres
async def test_the_connection_goes_back_to_the_pool_outside_a_transaction(pg_pool: Pool) -> None:
    lock = PgScheduleLock(pg_pool)
    async with lock.hold("automations") as taken:
        assert taken
        async with pg_pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'idle in transaction'")
            assert await cur.fetchone() == (0,)
    async with pg_pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert await cur.fetchone() == (0,)


@pytest.mark.postgres
async def test_a_database_that_went_away_is_unavailable(postgres_server: Any) -> None:
    name = f"fleet_doomed_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(postgres_server.template)))
    pool = await open_pool(postgres_server.conninfo(name), wait_seconds=1.0)
    try:
        with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        with pytest.raises(Unavailable):
            async with PgScheduleLock(pool).hold("automations"):
                pytest.fail("the block must not run without a database")
    finally:
        await pool.close()
