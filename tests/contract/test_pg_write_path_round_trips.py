"""The round trips the agent write path saves on Postgres keep their guarantees.

A node-key lookup alone runs outside a transaction (no BEGIN or ROLLBACK) but inside one when the
unit of work has already written; a connection given back moments ago is lent without the checkout
round trip, yet one whose server session ended meanwhile (a restart, a terminated backend) is
still never lent; an unchanged refresh rewrites no row of the host's lists.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import psycopg
import pytest
from psycopg.pq import TransactionStatus

from fleet_adapters.postgres.pool import Pool, open_pool
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_core.model.hosts import Battery, DeviceMapping, HostFacts, HostUser

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

DEADLINE = 10.0


@pytest.fixture
async def one_connection_pool(pg_dsn: str, anyio_backend: str) -> AsyncIterator[Pool]:
    pool = await open_pool(pg_dsn, min_size=1, max_size=1, wait_seconds=10.0)
    try:
        yield pool
    finally:
        await pool.close()


async def _backend_pid(pool: Pool) -> int:
    async with PgUnitOfWork(pool) as uow:
        cur = await uow.hosts._conn.execute("SELECT pg_backend_pid()")
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_lone_node_key_lookup_opens_no_transaction(pg_pool: Pool, at: dt.datetime) -> None:
    async with PgUnitOfWork(pg_pool) as uow:
        await uow.hosts.enroll(osquery_host_id="h", node_key_hash="key-h", team_id=None, at=at, fields={})
        await uow.commit()

    async with PgUnitOfWork(pg_pool) as uow:
        host = await uow.hosts.get_by_node_key("key-h")
        assert host is not None and host.osquery_host_id == "h"
        assert uow.hosts._conn.pgconn.transaction_status == TransactionStatus.IDLE
        assert uow.hosts._conn.autocommit is False

    # After a write the lookup runs in the unit of work's transaction and sees what it wrote.
    async with PgUnitOfWork(pg_pool) as uow:
        await uow.hosts.enroll(osquery_host_id="new", node_key_hash="key-new", team_id=None, at=at, fields={})
        assert await uow.hosts.get_by_node_key("key-new") is not None
        assert uow.hosts._conn.pgconn.transaction_status == TransactionStatus.INTRANS
    async with PgUnitOfWork(pg_pool) as uow:
        assert await uow.hosts.get_by_node_key("key-new") is None


async def test_a_connection_whose_session_ended_after_its_return_is_not_lent(
    one_connection_pool: Pool, pg_dsn: str
) -> None:
    victim = await _backend_pid(one_connection_pool)
    # Returned a moment ago: the check would skip its round trip, were the socket quiet.
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (victim,))
        deadline = time.monotonic() + DEADLINE
        while True:
            cur = await admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (victim,))
            row: Any = await cur.fetchone()
            if row[0] == 0:
                break
            assert time.monotonic() < deadline, "the terminated backend never exited"
            await anyio.sleep(0.01)

    async with PgUnitOfWork(one_connection_pool) as uow:
        assert await uow.hosts.get_by_node_key("nobody") is None
    assert await _backend_pid(one_connection_pool) != victim


async def test_an_unchanged_refresh_rewrites_no_row_of_the_hosts_lists(pg_pool: Pool, at: dt.datetime) -> None:
    facts = HostFacts(users=(HostUser(0, "root"), HostUser(501, "ann", "person", "staff", "/bin/zsh")),
                      device_mapping=(DeviceMapping("a@example.com", "custom"),),
                      batteries=(Battery(10, "Good"),))

    async def row_versions(uow: PgUnitOfWork) -> list[tuple[str, str]]:
        cur = await uow.hosts._conn.execute("""
            SELECT 'user', xmin::text FROM host_users UNION ALL SELECT 'email', xmin::text FROM host_emails
            UNION ALL SELECT 'battery', xmin::text FROM host_batteries UNION ALL
            SELECT 'label', xmin::text FROM label_membership ORDER BY 1, 2""")
        return [(kind, version) for kind, version in await cur.fetchall()]

    async with PgUnitOfWork(pg_pool) as uow:
        host = (await uow.hosts.enroll(osquery_host_id="h", node_key_hash="key-h", team_id=None, at=at,
                                       fields={})).host
        await uow.hosts.apply_facts(host.id, facts, at=at)
        await uow.commit()
    async with PgUnitOfWork(pg_pool) as uow:
        before = await row_versions(uow)
    async with PgUnitOfWork(pg_pool) as uow:
        await uow.hosts.apply_facts(host.id, facts, at=at + dt.timedelta(hours=1), details_updated=True)
        await uow.commit()
    async with PgUnitOfWork(pg_pool) as uow:
        assert await row_versions(uow) == before
        assert len(before) == 5  # 2 users, 1 email, 1 battery, the built-in "All Hosts" membership
