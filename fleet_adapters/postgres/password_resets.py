"""Postgres implementation of fleet_core.ports.PasswordResetRepository."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection

from fleet_adapters.postgres.errors import guarded_write, translated

INSERT_RESET_REQUEST: Final[LiteralString] = """
    INSERT INTO password_resets (user_id, token_hash, expires_at)
    VALUES (%(user_id)s, %(token_hash)s, %(expires_at)s)
"""
# Deleting first (whether or not it expired) makes a token single-use even when two
# requests race: only one DELETE gets the row back.
DELETE_RESET_REQUEST_RETURNING: Final[LiteralString] = """
    DELETE FROM password_resets WHERE token_hash = %(token_hash)s
    RETURNING user_id, expires_at
"""
DELETE_RESET_REQUESTS_OF_USER: Final[LiteralString] = """
    DELETE FROM password_resets WHERE user_id = %(user_id)s
"""


class PgPasswordResetRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def add(self, *, user_id: int, token_hash: str, expires_at: dt.datetime) -> None:
        async with guarded_write(self._conn):
            await self._conn.execute(INSERT_RESET_REQUEST, {
                "user_id": user_id, "token_hash": token_hash, "expires_at": expires_at})

    async def consume(self, token_hash: str, *, now: dt.datetime) -> int | None:
        with translated():
            cur = await self._conn.execute(DELETE_RESET_REQUEST_RETURNING, {"token_hash": token_hash})
            row = await cur.fetchone()
        if row is None:
            return None
        user_id, expires_at = row
        return int(user_id) if now < expires_at else None

    async def delete_for_user(self, user_id: int) -> None:
        with translated():
            await self._conn.execute(DELETE_RESET_REQUESTS_OF_USER, {"user_id": user_id})
