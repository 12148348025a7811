"""Opening the connection pool every Postgres adapter shares."""

from __future__ import annotations

import select
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import psycopg
from psycopg import AsyncConnection, ProgrammingError
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from fleet_core.errors import Unavailable

Pool = AsyncConnectionPool[AsyncConnection[Any]]

# A connection given back this recently is lent without the checkout round trip, unless its socket
# has something to read (see check_before_lending). Under load connections come back and go out
# again within milliseconds, so the round trip is only paid after a pause.
RECENT_RETURN_SECONDS = 2.0
# When each pooled connection was last given back in good order (monotonic clock).
_returned_at: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = weakref.WeakKeyDictionary()


def configuration_drift(conn: AsyncConnection[Any]) -> str | None:
    """What differs from the state every pooled connection must be lent in, or None.

    That state is psycopg's default: outside any transaction, autocommit off (so the first
    statement opens the unit of work's transaction and SAVEPOINTs work), the server's default
    isolation level and access mode.
    """
    if (status := conn.pgconn.transaction_status) != TransactionStatus.IDLE:
        return f"transaction status {TransactionStatus(status).name}"
    if conn.autocommit:
        return "autocommit on"
    if conn.isolation_level is not None or conn.read_only is not None or conn.deferrable is not None:
        return "transaction characteristics changed"
    return None


async def restore_configuration(conn: AsyncConnection[Any]) -> None:
    """The pool's reset: runs on every returned connection, after the pool rolled back.

    Flags are set back rather than the connection discarded: none of them costs a round trip,
    reconnecting does. A connection still inside a transaction here is refused, and the pool
    closes it.
    """
    if conn.pgconn.transaction_status != TransactionStatus.IDLE:
        raise ProgrammingError("returned connection is still inside a transaction")
    if conn.autocommit:
        await conn.set_autocommit(False)
    if conn.isolation_level is not None:
        await conn.set_isolation_level(None)
    if conn.read_only is not None:
        await conn.set_read_only(None)
    if conn.deferrable is not None:
        await conn.set_deferrable(None)
    _returned_at[conn] = time.monotonic()


def _quiet_since_return(conn: AsyncConnection[Any]) -> bool:
    """Whether the connection came back moments ago and the server has sent nothing since.

    A server that restarts, fails over or ends the session sends its FATAL message and closes the
    socket, so a dead connection shows up as a readable socket here (the message or EOF) without a
    round trip. An idle connection's socket has nothing to read. Only a connection silently cut
    (a firewall dropping idle sessions) shows nothing, which is why older ones still get the trip.
    """
    returned = _returned_at.pop(conn, None)
    if returned is None or time.monotonic() - returned > RECENT_RETURN_SECONDS:
        return False
    try:
        poller = select.poll()
        poller.register(conn.pgconn.socket, select.POLLIN)
        # POLLIN for a message or EOF; POLLHUP and POLLERR come whether asked for or not.
        return not poller.poll(0)
    except (OSError, ValueError, psycopg.OperationalError):
        return False


async def check_before_lending(conn: AsyncConnection[Any]) -> None:
    """The pool's check on checkout: the connection is alive and in its configured state.

    Connections idle in the pool die with server restarts and failovers; one round trip on
    checkout saves the request that would get a dead one. The trip is an empty query in
    autocommit, so that it opens no transaction; it is skipped for a connection given back moments
    ago whose socket shows the server sent nothing since (`_quiet_since_return`). psycopg's own
    check_connection turned autocommit on *before* its try block: a cancellation delivered inside
    set_autocommit(True) (psycopg yields there when the loop has been busy) left the connection in
    autocommit for good, and every later SAVEPOINT on it failed. Here the switch is inside the try, and
    restore_configuration repairs whatever a cancellation still leaves behind.
    """
    if (drift := configuration_drift(conn)) is not None:
        # Raising makes the pool hand the connection to its reset (which repairs it) and
        # lend another one.
        raise ProgrammingError(f"pooled connection not in its configured state: {drift}")
    if _quiet_since_return(conn):
        return
    try:
        await conn.set_autocommit(True)
        await conn.execute("")
    finally:
        # set_autocommit(False) flips the flag before its only possible yield, so even a
        # cancellation delivered here leaves it off; a closed connection raises, and the pool
        # discards it anyway.
        with suppress(Exception):
            await conn.set_autocommit(False)


async def open_pool(conninfo: str, *, min_size: int = 1, max_size: int = 10,
                    wait_seconds: float = 10.0, name: str | None = None,
                    reconnect_timeout: float = 300.0) -> Pool:
    """An opened pool, or Unavailable if no connection could be made within ``wait_seconds``.

    ``wait_seconds`` also bounds how long a unit of work waits for a free connection.
    """
    pool: Pool = AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=wait_seconds,
        name=name,
        reconnect_timeout=reconnect_timeout,
        # open=False: opening in the constructor is deprecated for async pools, and we want
        # to wait for the first connection so a wrong URL fails at startup, not on a request.
        open=False,
        check=check_before_lending,
        # A reset also makes the pool return connections from a worker task of its own, so
        # the return cannot be cut short by the cancellation of the request returning it.
        reset=restore_configuration,
    )
    try:
        await pool.open(wait=True, timeout=wait_seconds)
    except PoolTimeout:
        await pool.close()
        # The driver's reason is in the pool's own warning log; it may name hosts and users.
        raise Unavailable("database unavailable") from None
    return pool


@asynccontextmanager
async def connection_pool(conninfo: str, **options: Any) -> AsyncIterator[Pool]:
    """open_pool() for the length of a block, closed afterwards."""
    pool = await open_pool(conninfo, **options)
    try:
        yield pool
    finally:
        await pool.close()
