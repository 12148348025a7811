"""Postgres implementation of fleet_core.ports.DeviceTokenRepository (table host_device_auth:
one row per host, the token's SHA-256 digest unique, migrations 0006 and 0015)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection

from fleet_adapters.postgres.errors import guarded_write, translated

REPLACE_DEVICE_AUTH: Final[LiteralString] = """
    INSERT INTO host_device_auth (host_id, token_hash, created_at, expires_at)
    VALUES (%(host_id)s, %(hash)s, %(at)s, %(expires_at)s)
    ON CONFLICT (host_id) DO UPDATE
       SET token_hash = EXCLUDED.token_hash, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
"""
SELECT_DEVICE_HOST: Final[LiteralString] = """
    SELECT host_id FROM host_device_auth WHERE token_hash = %(hash)s AND expires_at > %(now)s
"""
EXTEND_DEVICE_AUTH: Final[LiteralString] = """
    UPDATE host_device_auth SET expires_at = %(expires_at)s WHERE host_id = %(host_id)s AND token_hash = %(hash)s
"""


class PgDeviceTokenRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def replace(self, host_id: int, token_hash: str, *, at: dt.datetime, expires_at: dt.datetime) -> None:
        async with guarded_write(self._conn):
            await self._conn.execute(REPLACE_DEVICE_AUTH, {
                "host_id": host_id, "hash": token_hash, "at": at, "expires_at": expires_at})

    async def host_id(self, token_hash: str, *, now: dt.datetime) -> int | None:
        with translated():
            cur = await self._conn.execute(SELECT_DEVICE_HOST, {"hash": token_hash, "now": now})
            row = await cur.fetchone()
        return None if row is None else int(row[0])

    async def extend(self, host_id: int, token_hash: str, *, expires_at: dt.datetime) -> bool:
        async with guarded_write(self._conn):
            cur = await self._conn.execute(EXTEND_DEVICE_AUTH, {
                "host_id": host_id, "hash": token_hash, "expires_at": expires_at})
        return cur.rowcount == 1
