"""Read-only diagnostics for GET /debug/db/{key} and GET /debug/pprof/{key}."""

from __future__ import annotations

import builtins
from typing import Any, Protocol

import attrs

# What GET /debug/db/{key} answers. Fleet's MySQL keys (innodb-status, process-list, locks) have
# Postgres equivalents; the others are this server's.
DATABASE_REPORTS = ("locks", "innodb-status", "process-list", "long-transactions", "table-sizes", "migrations",
                    "dbstats")


@attrs.frozen
class Document:
    """A diagnostic as served: its media type and body."""

    content_type: str
    body: str


class DatabaseDiagnostics(Protocol):
    async def report(self, key: str) -> builtins.list[dict[str, Any]]:
        """The rows of report ``key`` (one of DATABASE_REPORTS), each a JSON-ready mapping, read
        without writing anything and within a statement timeout:

        - locks: every lock held or awaited in the database by other sessions, with the holder's
          pid and the pids it is blocked by;
        - innodb-status: the database's activity counters (Postgres's pg_stat_database row);
        - process-list: every session connected to the database and what it runs;
        - long-transactions: the open transactions, oldest first, with their age in seconds;
        - table-sizes: every table's size in bytes and estimated rows, largest first;
        - migrations: every shipped migration and whether (and when) it is applied;
        - dbstats: one row of this process's connection pool statistics (Fleet's Go sql.DBStats).
        """
        ...


class ProcessDiagnostics(Protocol):
    async def cpu_profile(self, seconds: float, *, html: bool = False) -> Document:
        """Sample what this process's event loop thread runs for ``seconds`` and return the
        profile (text, or an HTML page). Conflict if a profile is already being taken."""
        ...

    def stacks(self) -> Document:
        """The stack of every asyncio task of the running loop and of every thread, as text."""
        ...

    def heap(self) -> Document:
        """Memory statistics of this process as text: garbage collector counts, the most
        numerous object types, and the top allocation sites when tracemalloc is tracing."""
        ...

    def cmdline(self) -> Document:
        """The process's command line, with the values of secret-bearing options redacted."""
        ...
