"""Migration 0020 on a database holding hosts: every host gets its host_seen_times row holding
the later of both seen times and its lowered search columns, and the triggers keep both true for
hosts inserted and changed afterwards."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from fleet_adapters.postgres.migrate import apply_migrations, load_migrations
from tests.migrations.test_migrations import empty_dsn

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

__all__ = ["empty_dsn"]

ENROLLED = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
CHECKED_IN = ENROLLED + dt.timedelta(hours=1)
INSERT_HOST = """
    INSERT INTO hosts (id, osquery_host_id, created_at, updated_at, last_enrolled_at, seen_time,
                       hostname, computer_name, uuid, hardware_serial, primary_ip)
    VALUES (%(id)s, %(id)s::text, %(at)s, %(at)s, %(at)s, %(at)s, %(hostname)s, 'Mac Pro', 'UU-ID', 'SER', '10.0.0.1')
"""


def seen_times(conn: psycopg.Connection) -> dict[int, dt.datetime]:
    return dict(conn.execute("SELECT host_id, seen_time FROM host_seen_times ORDER BY host_id").fetchall())


async def test_0020_backfills_seen_times_and_search_columns_then_keeps_them(empty_dsn: str) -> None:
    shipped = load_migrations()
    await apply_migrations(empty_dsn, migrations=[m for m in shipped if m.version < 20])
    with psycopg.connect(empty_dsn) as conn:
        for host_id in (1, 2, 3):
            conn.execute(INSERT_HOST, {"id": host_id, "at": ENROLLED, "hostname": f"Host-{host_id}"})
        # Host 1 checked in after enrolling, host 2 re-enrolled after its last check-in, host 3
        # never checked in (no row).
        conn.execute("INSERT INTO host_seen_times (host_id, seen_time) VALUES (1, %(late)s), (2, %(early)s)",
                     {"late": CHECKED_IN, "early": ENROLLED - dt.timedelta(hours=1)})

    [search] = [m.name for m in shipped if m.version == 20]
    assert search in await apply_migrations(empty_dsn)

    with psycopg.connect(empty_dsn) as conn:
        assert seen_times(conn) == {1: CHECKED_IN, 2: ENROLLED, 3: ENROLLED}
        assert conn.execute("SELECT * FROM host_search ORDER BY host_id").fetchall() == [
            (n, f"host-{n}", "mac pro", "uu-id", "ser", "10.0.0.1") for n in (1, 2, 3)]

        # A new host gets both rows; a later enrollment moves the seen time forward, an earlier one
        # does not move it back; a renamed host is found under its new name.
        conn.execute(INSERT_HOST, {"id": 4, "at": ENROLLED, "hostname": "NEW"})
        conn.execute("UPDATE hosts SET seen_time = %(at)s WHERE id = 3", {"at": CHECKED_IN})
        conn.execute("UPDATE hosts SET seen_time = %(at)s WHERE id = 1", {"at": ENROLLED})
        conn.execute("UPDATE hosts SET hostname = 'Renamed', memory = 1 WHERE id = 2")
        assert seen_times(conn) == {1: CHECKED_IN, 2: ENROLLED, 3: CHECKED_IN, 4: ENROLLED}
        assert conn.execute("SELECT host_id, hostname FROM host_search ORDER BY host_id").fetchall() == [
            (1, "host-1"), (2, "renamed"), (3, "host-3"), (4, "new")]

        # Deleting a host deletes its search row (its seen time is deleted by the adapter).
        conn.execute("DELETE FROM hosts WHERE id = 4")
        assert conn.execute("SELECT count(*) FROM host_search WHERE host_id = 4").fetchone() == (0,)
