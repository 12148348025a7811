"""ScheduleLock across server processes: a Postgres session-level advisory lock per schedule.

The lock is taken on a connection of the pool that is kept for the whole run, outside any
transaction (so the run leaves no session idle in a transaction), and released explicitly
before the connection goes back: a rollback does not release a session-level lock. If the
process dies, its session ends and Postgres releases the lock, so a crashed run never blocks
the schedule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, LiteralString

import attrs
import psycopg
import structlog
from psycopg_pool import PoolTimeout

from fleet_adapters.postgres.pool import Pool
from fleet_core.errors import Unavailable

log = structlog.get_logger(__name__)

# One 64-bit key per schedule name, in a namespace of its own so that no other advisory lock of
# this database (the webhook planners take transaction-level ones) can collide by accident.
TRY_LOCK: Final[LiteralString] = "SELECT pg_try_advisory_lock(hashtextextended('fleet.schedule:' || %(name)s, 0))"
UNLOCK: Final[LiteralString] = "SELECT pg_advisory_unlock(hashtextextended('fleet.schedule:' || %(name)s, 0))"


@attrs.frozen
class PgScheduleLock:
    pool: Pool

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        try:
            conn = await self.pool.getconn()
        except (PoolTimeout, psycopg.OperationalError):
            raise Unavailable("database unavailable") from None
        try:
            try:
                cur = await conn.execute(TRY_LOCK, {"name": name})
                row = await cur.fetchone()
                await conn.commit()
            except BaseException as exc:
                # Whether the lock was taken is unknown (cancelled mid-statement, connection
                # lost): the session must end, which releases anything it took.
                await conn.close()
                if isinstance(exc, psycopg.OperationalError):
                    raise Unavailable("database unavailable") from None
                raise
            if row is None or not row[0]:
                yield False
                return
            try:
                yield True
            finally:
                try:
                    await conn.execute(UNLOCK, {"name": name})
                    await conn.commit()
                except BaseException:
                    # A connection that may still hold the lock must not go back to the pool:
                    # closing it ends the session, which releases the lock.
                    log.warning("schedule_lock_release_failed", schedule=name)
                    await conn.close()
                    raise
        finally:
            # A closed connection is discarded by the pool; an open one is lent again.
            await self.pool.putconn(conn)
