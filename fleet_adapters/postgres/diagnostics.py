"""Postgres implementation of fleet_core.ports.DatabaseDiagnostics: the catalog views that answer
what Fleet's MySQL diagnostics answer there, read in a read-only transaction with a statement
timeout so that a diagnostic never adds to the trouble it is looking at."""

from __future__ import annotations

import builtins
import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any, Final, LiteralString

import attrs
from psycopg.rows import dict_row

from fleet_adapters.postgres.migrate import load_migrations
from fleet_adapters.postgres.pool import Pool
from fleet_core.errors import NotFound

STATEMENT_TIMEOUT: Final[LiteralString] = "SET LOCAL statement_timeout = '5s'"
# Session texts are cut: a diagnostic is for reading, and a statement can be megabytes.
REPORTS: Final[Mapping[str, LiteralString]] = {
    "locks": """
        SELECT l.pid, l.locktype, l.relation::regclass::text AS relation, l.mode, l.granted,
               pg_blocking_pids(l.pid) AS blocked_by, a.state, left(a.query, 1000) AS query,
               extract(epoch FROM now() - a.query_start)::float8 AS query_seconds
          FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE (l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) OR l.database IS NULL)
           AND l.pid IS DISTINCT FROM pg_backend_pid()
         ORDER BY l.granted, l.pid
    """,
    "innodb-status": """
        SELECT datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched,
               tup_inserted, tup_updated, tup_deleted, conflicts, temp_files, temp_bytes, deadlocks,
               stats_reset
          FROM pg_stat_database WHERE datname = current_database()
    """,
    "process-list": """
        SELECT pid, usename, application_name, client_addr::text AS client_addr, backend_type, state,
               wait_event_type, wait_event, backend_start, xact_start, query_start, left(query, 1000) AS query
          FROM pg_stat_activity WHERE datname = current_database()
         ORDER BY backend_start
    """,
    "long-transactions": """
        SELECT pid, usename, application_name, state, xact_start,
               extract(epoch FROM now() - xact_start)::float8 AS transaction_seconds,
               wait_event_type, wait_event, left(query, 1000) AS query
          FROM pg_stat_activity
         WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
         ORDER BY xact_start
    """,
    "table-sizes": """
        SELECT c.relname AS table_name, pg_total_relation_size(c.oid) AS total_bytes,
               pg_relation_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes,
               s.n_live_tup AS estimated_rows, s.n_dead_tup AS dead_rows, s.last_autovacuum, s.last_autoanalyze
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
         WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
         ORDER BY total_bytes DESC, table_name
    """,
}
SELECT_APPLIED: Final[LiteralString] = """
    SELECT version, applied_at FROM schema_migrations ORDER BY version
"""
LEDGER_EXISTS: Final[LiteralString] = "SELECT to_regclass('schema_migrations') IS NOT NULL AS present"


def json_ready(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


@attrs.frozen
class PgDatabaseDiagnostics:
    pool: Pool

    async def report(self, key: str) -> builtins.list[dict[str, Any]]:
        if key == "dbstats":
            # psycopg_pool's counters: pool_min/max/size/available, requests_waiting, ...
            return [dict(self.pool.get_stats())]
        async with self.pool.connection() as conn:
            await conn.set_read_only(True)
            try:
                async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute(STATEMENT_TIMEOUT)
                    if key == "migrations":
                        return await self._migrations(cur)
                    statement = REPORTS.get(key)
                    if statement is None:
                        raise NotFound(f"unknown database diagnostic {key!r}")
                    await cur.execute(statement)
                    return [{k: json_ready(v) for k, v in row.items()} for row in await cur.fetchall()]
            finally:
                # The pool's reset would restore it too; a connection is lent as it came.
                await conn.set_read_only(None)

    @staticmethod
    async def _migrations(cur: Any) -> builtins.list[dict[str, Any]]:
        await cur.execute(LEDGER_EXISTS)
        row = await cur.fetchone()
        applied: dict[int, dt.datetime] = {}
        if row is not None and row["present"]:
            await cur.execute(SELECT_APPLIED)
            applied = {r["version"]: r["applied_at"] for r in await cur.fetchall()}
        return [{"version": m.version, "name": m.name, "applied": m.version in applied,
                 "applied_at": json_ready(applied.get(m.version))} for m in load_migrations()]
