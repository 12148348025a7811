"""Migration 0015 on a database holding device tokens issued before it: each gets the default
lifetime from its issue time, and every later row must name an expiry."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from fleet_adapters.postgres.migrate import apply_migrations, load_migrations
from tests.migrations.test_migrations import empty_dsn

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

__all__ = ["empty_dsn"]

ISSUED = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


async def test_tokens_issued_before_0015_expire_an_hour_after_their_issue(empty_dsn: str) -> None:
    shipped = load_migrations()
    before = [m for m in shipped if m.version < 15]
    await apply_migrations(empty_dsn, migrations=before)
    with psycopg.connect(empty_dsn) as conn:
        conn.execute("""INSERT INTO hosts (id, osquery_host_id, created_at, updated_at, last_enrolled_at, seen_time)
                        VALUES (1, 'h1', %(at)s, %(at)s, %(at)s, %(at)s)""", {"at": ISSUED})
        conn.execute("INSERT INTO host_device_auth (host_id, token_hash, created_at) VALUES (1, 'digest', %(at)s)",
                     {"at": ISSUED})

    [expiry] = [m.name for m in shipped if m.version == 15]
    assert expiry in await apply_migrations(empty_dsn)

    with psycopg.connect(empty_dsn) as conn:
        row = conn.execute("SELECT expires_at FROM host_device_auth WHERE host_id = 1").fetchone()
        assert row is not None and row[0] == ISSUED + dt.timedelta(hours=1)
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute("INSERT INTO host_device_auth (host_id, token_hash, created_at) VALUES (1, 'x', now())")
