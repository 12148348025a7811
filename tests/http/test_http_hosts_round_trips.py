"""A page of hosts costs the same Postgres round trips for 10 hosts as for 500.

The three pages (GET /hosts, GET /labels/{id}/hosts, GET /hosts/report) run over Postgres
through a pool whose cursors count the statements they execute; every host has a device mapping,
a failing policy and a label membership, so any per-host read would show up as a difference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import argon2
import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from fleet_adapters.memory import MovableClock
from fleet_adapters.memory.invalidation import InMemoryInvalidationBus
from fleet_adapters.memory.logs import RecordingLogDestination
from fleet_adapters.memory.mail import RecordingMailer
from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.memory.schedule_lock import InMemoryScheduleLock
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_adapters.security.argon2 import Argon2PasswordHasher
from fleet_adapters.security.tokens import SecretsTokenGenerator
from fleet_core.model.runtime import ServerRuntime
from fleet_core.services import Services, make_services
from fleet_core.services.setup import SetupInput
from fleet_http.app import create_app
from tests.http.support import ADMIN_EMAIL, PASSWORD, SERVER_URL, bearer

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


class Tally:
    statements = 0
    units_of_work = 0


class CountingCursor(psycopg.AsyncCursor[Any]):
    """Counts every statement sent through a cursor (AsyncConnection.execute uses one too)."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        Tally.statements += 1
        return await super().execute(*args, **kwargs)

    async def executemany(self, *args: Any, **kwargs: Any) -> None:
        Tally.statements += 1
        await super().executemany(*args, **kwargs)


class NoServices:
    async def check(self) -> dict[str, bool]:
        return {}


@pytest.fixture
async def services(pg_dsn: str, anyio_backend: str) -> AsyncIterator[Services]:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        pg_dsn, min_size=1, max_size=2, open=False, kwargs={"cursor_factory": CountingCursor})
    await pool.open(wait=True)

    def unit_of_work() -> PgUnitOfWork:
        Tally.units_of_work += 1
        return PgUnitOfWork(pool)

    clock = MovableClock()
    logs = RecordingLogDestination()
    try:
        yield make_services(
            uow=unit_of_work,
            hasher=Argon2PasswordHasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)),
            tokens=SecretsTokenGenerator(), clock=clock, mailer=RecordingMailer(),
            rate_limiter=InMemoryRateLimiter(clock), health=NoServices(), runtime=ServerRuntime(),
            bus=InMemoryInvalidationBus(), logs={"result": logs, "status": logs}, schedule_lock=InMemoryScheduleLock(),
        )
    finally:
        await pool.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(lambda: pytest.fail("the lifespan (and its background jobs) must not run here"))
    # No lifespan: its periodic jobs would add statements of their own while a page is counted.
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fleet.test") as http:
        result = await services.setup.setup(SetupInput(
            name="Admin", email=ADMIN_EMAIL, password=PASSWORD, password_confirmation=PASSWORD,
            org_name="Acme", server_url=SERVER_URL))
        http.headers.update(bearer(result.token))
        yield http


async def grow_fleet(dsn: str, total: int, label_id: int, policy_id: int) -> None:
    """Hosts host-1..host-<total>, each with a device mapping, a failing policy and the label."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("""
            INSERT INTO hosts (osquery_host_id, node_key_hash, created_at, updated_at, last_enrolled_at,
                               seen_time, hostname)
            SELECT 'host-' || n, 'key-' || n, now(), now(), now(), now(), 'host-' || n
              FROM generate_series(1, %(total)s) AS n
            ON CONFLICT (osquery_host_id) DO NOTHING""", {"total": total})
        await conn.execute("""
            INSERT INTO host_emails (host_id, email, source)
            SELECT id, hostname || '@example.com', 'custom' FROM hosts ON CONFLICT DO NOTHING""")
        await conn.execute("""
            INSERT INTO policy_membership (policy_id, host_id, passes, updated_at)
            SELECT %(policy_id)s, id, false, now() FROM hosts ON CONFLICT DO NOTHING""", {"policy_id": policy_id})
        await conn.execute("""
            INSERT INTO label_membership (label_id, host_id, updated_at)
            SELECT %(label_id)s, id, now() FROM hosts ON CONFLICT DO NOTHING""", {"label_id": label_id})


async def label_and_policy(dsn: str) -> tuple[int, int]:
    now = dt.datetime.now(dt.UTC)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute("""
            INSERT INTO labels (name, query, label_membership_type, created_at, updated_at)
            VALUES ('Counted', 'SELECT 1;', 'manual', %(at)s, %(at)s) RETURNING id""", {"at": now})
        label = await cur.fetchone()
        cur = await conn.execute("""
            INSERT INTO policies (name, query, created_at, updated_at)
            VALUES ('Counted', 'SELECT 1;', %(at)s, %(at)s) RETURNING id""", {"at": now})
        policy = await cur.fetchone()
    assert label is not None and policy is not None
    return label[0], policy[0]


async def cost(client: httpx.AsyncClient, url: str) -> tuple[int, int, httpx.Response]:
    """(statements, units of work, response) of one request, authentication included."""
    Tally.statements = Tally.units_of_work = 0
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return Tally.statements, Tally.units_of_work, response


async def test_a_page_of_hosts_costs_the_same_round_trips_for_10_hosts_as_for_500(
    client: httpx.AsyncClient, pg_dsn: str
) -> None:
    label_id, policy_id = await label_and_policy(pg_dsn)
    pages = {
        "list": "/api/v1/fleet/hosts?device_mapping=true",
        "label": f"/api/v1/fleet/labels/{label_id}/hosts",
        "report": "/api/v1/fleet/hosts/report?format=csv",
    }
    costs: dict[int, dict[str, tuple[int, int]]] = {}
    for size in (10, 500):
        await grow_fleet(pg_dsn, size, label_id, policy_id)
        costs[size] = {}
        for name, url in pages.items():
            statements, units, response = await cost(client, url)
            costs[size][name] = (statements, units)
            if name == "report":
                assert response.text.count("@example.com") == size
            else:
                hosts = response.json()["hosts"]
                assert len(hosts) == size
        listed = (await client.get(pages["list"])).json()["hosts"]
        assert all(h["device_mapping"] and h["issues"]["failing_policies_count"] == 1 for h in listed)
    assert costs[10] == costs[500]
    # Authentication is one unit of work; the page is the other one.
    assert {units for _, units in costs[10].values()} == {2}


async def test_the_report_streams_every_host_under_one_header_across_batches(
    client: httpx.AsyncClient, pg_dsn: str
) -> None:
    # 2,500 hosts: three batches of the server-side cursor (STREAM_BATCH_SIZE is 1,000).
    label_id, policy_id = await label_and_policy(pg_dsn)
    await grow_fleet(pg_dsn, 2_500, label_id, policy_id)
    statements, units, response = await cost(
        client, "/api/v1/fleet/hosts/report?format=csv&order_key=hostname&columns=hostname,device_mapping")
    lines = response.text.splitlines()
    assert lines[0] == "hostname,device_mapping"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 2_500
    assert [hostname for hostname, _ in rows] == sorted(f"host-{n}" for n in range(1, 2_501))
    assert all(email == f"{hostname}@example.com" for hostname, email in rows)
    # One unit of work for the whole report besides authentication, however many batches.
    assert units == 2
    assert statements < 40
