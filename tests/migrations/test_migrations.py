"""The migration runner on real, empty Postgres databases."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import anyio
import psycopg
import pytest
from psycopg import sql

from fleet_adapters.postgres.migrate import (
    Migration,
    MigrationError,
    apply_migrations,
    load_migrations,
    pending_migrations,
)

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

EXPECTED_TABLES = {
    "activities", "app_config", "enroll_secrets", "invite_teams", "invites", "password_resets",
    "schema_migrations", "sessions", "teams", "user_teams", "users",
    "operating_systems", "hosts", "host_seen_times", "host_users", "software", "host_software", "host_emails",
    "mdm_solutions", "host_mdm", "host_munki_info", "munki_issues", "host_munki_issues", "host_batteries", "labels",
    "label_membership", "policy_membership", "queries",
    "packs", "pack_target_hosts", "pack_target_labels", "pack_target_teams", "scheduled_queries",
    "distributed_query_campaigns", "distributed_query_campaign_targets",
    "policies", "policy_stats", "host_device_auth",
    "webhook_announced_failures", "webhook_deliveries", "webhook_state",
    "carve_metadata", "carve_blocks", "carve_block_digests",
    "cve_meta", "software_cve", "host_software_checksums", "software_host_counts", "software_jobs_state",
    "host_list_checksums",
    "vulnerability_announcements",
    "host_search",
    # views (information_schema lists them as tables too)
    "pack_details", "policy_details",
}


@pytest.fixture
def empty_dsn(postgres_server) -> Iterator[str]:
    """A database with no schema at all (cloned from template0, not from the migrated template)."""
    name = f"fleet_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        yield postgres_server.conninfo(name)
    finally:
        with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def _ledger(dsn: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version").fetchall()


async def test_every_shipped_migration_applies_to_an_empty_database(empty_dsn: str) -> None:
    shipped = load_migrations()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1)), "versions must not skip"

    applied = await apply_migrations(empty_dsn)

    assert applied == [m.name for m in shipped]
    assert _tables(empty_dsn) == EXPECTED_TABLES
    assert _ledger(empty_dsn) == [(m.version, m.name, m.checksum) for m in shipped]


async def test_running_again_applies_nothing(empty_dsn: str) -> None:
    await apply_migrations(empty_dsn)
    before = _ledger(empty_dsn)

    assert await pending_migrations(empty_dsn) == []
    assert await apply_migrations(empty_dsn) == []
    assert _ledger(empty_dsn) == before


async def test_pending_lists_what_has_not_run_yet_without_writing_anything(empty_dsn: str) -> None:
    assert await pending_migrations(empty_dsn) == [m.name for m in load_migrations()]
    assert _tables(empty_dsn) == set()


async def test_a_migration_changed_after_it_ran_is_refused(empty_dsn: str) -> None:
    await apply_migrations(empty_dsn)
    first = load_migrations()[0]
    edited = Migration(first.version, first.name, first.text + "\n-- an innocent-looking edit\n")
    later = Migration(9001, "9001_later", "CREATE TABLE later_table (id int);")

    with pytest.raises(MigrationError, match=first.name):
        await apply_migrations(empty_dsn, migrations=[edited, later])

    assert "later_table" not in _tables(empty_dsn), "nothing may run once a checksum mismatches"


async def test_a_shipped_file_that_no_longer_matches_the_ledger_is_refused(empty_dsn: str) -> None:
    await apply_migrations(empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        # The same as editing 0001 after it ran: the ledger and the file now disagree.
        conn.execute("UPDATE schema_migrations SET checksum = 'before-the-edit' WHERE version = 1")

    with pytest.raises(MigrationError, match="0001_initial"):
        await pending_migrations(empty_dsn)
    with pytest.raises(MigrationError, match="0001_initial"):
        await apply_migrations(empty_dsn)


async def test_a_failing_migration_leaves_no_trace(empty_dsn: str) -> None:
    good = Migration(1, "0001_good", "CREATE TABLE good (id int);")
    bad = Migration(2, "0002_bad", "CREATE TABLE half_done (id int);\nSELECT 1 / 0;")

    with pytest.raises(psycopg.errors.DivisionByZero):
        await apply_migrations(empty_dsn, migrations=[good, bad])

    assert _tables(empty_dsn) == {"good", "schema_migrations"}
    assert [row[1] for row in _ledger(empty_dsn)] == ["0001_good"]


async def test_a_no_transaction_migration_can_build_an_index_concurrently(empty_dsn: str) -> None:
    table = Migration(1, "0001_table", "CREATE TABLE things (id int, label text);")
    index = Migration(2, "0002_index", (
        "-- fleet:no-transaction\n"
        "-- CONCURRENTLY refuses to run inside a transaction block.\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS things_label_idx ON things (label);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS things_id_idx ON things (id);\n"
    ))
    assert not index.transactional

    assert await apply_migrations(empty_dsn, migrations=[table, index]) == ["0001_table", "0002_index"]

    with psycopg.connect(empty_dsn) as conn:
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'things'")}
    assert indexes == {"things_label_idx", "things_id_idx"}


async def test_concurrent_runners_apply_each_migration_once(empty_dsn: str) -> None:
    results: list[list[str]] = []

    async def run() -> None:
        results.append(await apply_migrations(empty_dsn))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(run)

    names = [m.name for m in load_migrations()]
    assert sorted(results, key=len) == [[], [], names]
    assert [row[1] for row in _ledger(empty_dsn)] == names


def test_the_command_line_applies_migrations(empty_dsn: str) -> None:
    first = subprocess.run(
        [sys.executable, "-m", "fleet_adapters.postgres.migrate", empty_dsn],
        capture_output=True, text=True, timeout=60, check=False,
    )
    again = subprocess.run(
        [sys.executable, "-m", "fleet_adapters.postgres.migrate", empty_dsn],
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {m.name}" for m in load_migrations()]
    assert (again.returncode, again.stdout.strip()) == (0, "schema is up to date")
