"""Forward-only schema migrations: numbered SQL files, a ledger, one transaction per file."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
from collections.abc import Sequence
from importlib import resources
from typing import Final, LiteralString

import attrs
import psycopg
from psycopg import AsyncConnection, sql

# Any constant works as long as every runner uses the same one; this is "fleet" in ASCII.
LOCK_KEY: Final = 0x666C656574
NO_TRANSACTION_MARKER: Final = "-- fleet:no-transaction"
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

CREATE_LEDGER: Final[LiteralString] = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""
SELECT_LEDGER: Final[LiteralString] = "SELECT version, checksum FROM schema_migrations"
SELECT_LEDGER_EXISTS: Final[LiteralString] = "SELECT to_regclass('schema_migrations')"
INSERT_LEDGER_ROW: Final[LiteralString] = (
    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"
)
# A session lock (not pg_advisory_xact_lock) because no-transaction files run between
# transactions and must stay serialised too.
LOCK_RUNNER: Final[LiteralString] = "SELECT pg_advisory_lock(%s)"
UNLOCK_RUNNER: Final[LiteralString] = "SELECT pg_advisory_unlock(%s)"


class MigrationError(Exception):
    """The migration files and the database's ledger disagree; nothing was applied."""


@attrs.frozen
class Migration:
    version: int
    name: str
    text: str = attrs.field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def transactional(self) -> bool:
        return self.text.partition("\n")[0].strip() != NO_TRANSACTION_MARKER


def load_migrations() -> list[Migration]:
    """Every migration file shipped in the package, in version order."""
    found: dict[int, Migration] = {}
    for entry in resources.files(__package__ or "fleet_adapters.postgres").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migration files share version {version:04d}")
        found[version] = Migration(version, entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
    return [found[v] for v in sorted(found)]


def _pending(migrations: Sequence[Migration], applied: dict[int, str]) -> list[Migration]:
    for m in migrations:
        if m.version in applied and applied[m.version] != m.checksum:
            raise MigrationError(f"migration {m.name} changed after it was applied; add a new migration instead")
    return [m for m in migrations if m.version not in applied]


async def _ledger(conn: AsyncConnection, *, create: bool = True) -> dict[int, str]:
    if create:
        await conn.execute(CREATE_LEDGER)
    else:
        found = await (await conn.execute(SELECT_LEDGER_EXISTS)).fetchone()
        if found is None or found[0] is None:
            return {}
    rows = await (await conn.execute(SELECT_LEDGER)).fetchall()
    return {version: checksum for version, checksum in rows}


async def pending_migrations(conninfo: str) -> list[str]:
    """Names of the migrations apply_migrations would run now."""
    async with await AsyncConnection.connect(conninfo, autocommit=True) as conn:
        return [m.name for m in _pending(load_migrations(), await _ledger(conn, create=False))]


async def apply_migrations(conninfo: str, *, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply every pending migration and return their names, oldest first.

    ``migrations`` defaults to the files shipped in the package (tests pass their own).

    Raises:
        MigrationError: an applied migration's file changed, or two files share a version.
    """
    migrations = load_migrations() if migrations is None else sorted(migrations, key=lambda m: m.version)
    applied: list[str] = []
    async with await AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(LOCK_RUNNER, (LOCK_KEY,))
        try:
            for m in _pending(migrations, await _ledger(conn)):
                # The files ship inside the package and are reviewed like code, so treating
                # their text as a literal query is as safe as a constant in a module.
                body = sql.SQL(m.text)
                if m.transactional:
                    async with conn.transaction():
                        await conn.execute(body)
                        await conn.execute(INSERT_LEDGER_ROW, (m.version, m.name, m.checksum))
                else:
                    # Sent statement by statement: a multi-statement query string would run
                    # as one implicit transaction, which CREATE INDEX CONCURRENTLY refuses.
                    # Such files must be idempotent (IF NOT EXISTS): a failure is retried whole.
                    for statement in _statements(m.text):
                        await conn.execute(sql.SQL(statement))
                    await conn.execute(INSERT_LEDGER_ROW, (m.version, m.name, m.checksum))
                applied.append(m.name)
        finally:
            await conn.execute(UNLOCK_RUNNER, (LOCK_KEY,))
    return applied


def _statements(text: str) -> list[str]:
    # No-transaction files hold plain DDL only (no function bodies), so ";" at a line end
    # is a reliable separator.
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m fleet_adapters.postgres.migrate <conninfo>", file=sys.stderr)
        return 2
    try:
        names = asyncio.run(apply_migrations(argv[1]))
    except MigrationError as exc:
        print(f"migration refused: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        # psycopg's messages name the host and role, never the password.
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    for name in names:
        print(f"applied {name}")
    if not names:
        print("schema is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
