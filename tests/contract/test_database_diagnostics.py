"""The DatabaseDiagnostics contract on both adapters (every report is a list of JSON-ready rows,
an unknown key is NotFound, nothing is written), and what the Postgres reports show: a lock one
session waits for, a long transaction, table sizes and the migration ledger."""

from __future__ import annotations

import asyncio
import json
import time

import psycopg
import pytest

from fleet_adapters.memory import InMemoryStore
from fleet_adapters.memory.diagnostics import InMemoryDatabaseDiagnostics
from fleet_adapters.postgres.diagnostics import PgDatabaseDiagnostics
from fleet_adapters.postgres.migrate import load_migrations
from fleet_adapters.postgres.pool import Pool
from fleet_core.errors import NotFound
from fleet_core.ports import DatabaseDiagnostics
from fleet_core.ports.diagnostics import DATABASE_REPORTS
from tests.contract.conftest import IMPLEMENTATIONS

pytestmark = pytest.mark.anyio

DEADLINE_SECONDS = 10.0


@pytest.fixture(params=IMPLEMENTATIONS)
def diagnostics(request: pytest.FixtureRequest) -> DatabaseDiagnostics:
    if request.param == "memory":
        return InMemoryDatabaseDiagnostics(InMemoryStore())
    pool: Pool = request.getfixturevalue("pg_pool")
    return PgDatabaseDiagnostics(pool)


@pytest.mark.parametrize("key", DATABASE_REPORTS)
async def test_every_report_is_json_ready_rows(diagnostics: DatabaseDiagnostics, key: str) -> None:
    rows = await diagnostics.report(key)
    assert isinstance(rows, list)
    assert json.loads(json.dumps(rows)) == rows


@pytest.mark.parametrize("key", ["nonsense", "LOCKS", "", "locks; DROP TABLE users"])
async def test_an_unknown_report_is_not_found(diagnostics: DatabaseDiagnostics, key: str) -> None:
    with pytest.raises(NotFound):
        await diagnostics.report(key)


async def test_table_sizes_name_the_tables(diagnostics: DatabaseDiagnostics) -> None:
    names = {row["table_name"] for row in await diagnostics.report("table-sizes")}
    assert {"users", "queries", "teams"} <= names


@pytest.mark.postgres
async def test_postgres_reports_show_a_blocked_session_and_its_transaction(pg_pool: Pool, pg_dsn: str) -> None:
    diagnostics = PgDatabaseDiagnostics(pg_pool)
    async with await psycopg.AsyncConnection.connect(pg_dsn) as holder, \
            await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as waiter:
        await holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        holder_pid = holder.info.backend_pid
        await waiter.execute("SET statement_timeout = '20s'")
        waiting = asyncio.create_task(waiter.execute("SELECT count(*) FROM users"))
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while True:
                locks = await diagnostics.report("locks")
                blocked = [row for row in locks if not row["granted"] and holder_pid in row["blocked_by"]]
                if blocked:
                    break
                assert time.monotonic() < deadline, locks
                await asyncio.sleep(0.02)
            assert blocked[0]["relation"] == "users"
            assert any(r["pid"] == holder_pid and r["granted"] and r["mode"] == "AccessExclusiveLock" for r in locks)
            long = await diagnostics.report("long-transactions")
            assert holder_pid in [r["pid"] for r in long]
            processes = await diagnostics.report("process-list")
            assert {holder_pid, waiter.info.backend_pid} <= {r["pid"] for r in processes}
        finally:
            await holder.rollback()
            await waiting


@pytest.mark.postgres
async def test_postgres_migrations_report_the_ledger(pg_pool: Pool) -> None:
    rows = await PgDatabaseDiagnostics(pg_pool).report("migrations")
    assert [(r["version"], r["applied"]) for r in rows] == [(m.version, True) for m in load_migrations()]
    assert all(r["applied_at"] for r in rows)
    [stats] = await PgDatabaseDiagnostics(pg_pool).report("innodb-status")
    assert stats["xact_commit"] > 0
    [pool] = await PgDatabaseDiagnostics(pg_pool).report("dbstats")
    assert pool["pool_max"] == pg_pool.max_size and pool["pool_size"] >= 1


@pytest.mark.postgres
async def test_reports_write_nothing_and_leave_the_connection_as_lent(pg_pool: Pool) -> None:
    diagnostics = PgDatabaseDiagnostics(pg_pool)
    for key in DATABASE_REPORTS:
        await diagnostics.report(key)
    async with pg_pool.connection() as conn:
        assert conn.read_only is None
