"""Postgres implementation of fleet_core.ports.SessionRepository."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import class_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_core.model.users import Session

INSERT_SESSION: Final[LiteralString] = """
    INSERT INTO sessions (user_id, token_hash, created_at, accessed_at)
    VALUES (%(user_id)s, %(token_hash)s, %(at)s, %(at)s)
    RETURNING id, user_id, created_at, accessed_at
"""
SELECT_SESSION_BY_ID: Final[LiteralString] = """
    SELECT id, user_id, created_at, accessed_at FROM sessions WHERE id = %(id)s
"""
SELECT_SESSION_BY_HASH: Final[LiteralString] = """
    SELECT id, user_id, created_at, accessed_at FROM sessions WHERE token_hash = %(token_hash)s
"""
SELECT_SESSIONS_OF_USER: Final[LiteralString] = """
    SELECT id, user_id, created_at, accessed_at
      FROM sessions
     WHERE user_id = %(user_id)s
     ORDER BY created_at, id
"""
UPDATE_SESSION_ACCESSED_AT: Final[LiteralString] = """
    UPDATE sessions SET accessed_at = %(at)s WHERE id = %(id)s
"""
DELETE_SESSION: Final[LiteralString] = "DELETE FROM sessions WHERE id = %(id)s"
DELETE_SESSIONS_OF_USER: Final[LiteralString] = """
    DELETE FROM sessions
     WHERE user_id = %(user_id)s AND id IS DISTINCT FROM %(except_id)s::bigint
"""


class PgSessionRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def add(self, *, user_id: int, token_hash: str, at: dt.datetime) -> Session:
        async with guarded_write(self._conn), self._conn.cursor(row_factory=class_row(Session)) as cur:
            await cur.execute(INSERT_SESSION, {"user_id": user_id, "token_hash": token_hash, "at": at})
            row = await cur.fetchone()
        assert row is not None
        return row

    async def get(self, session_id: int) -> Session | None:
        return await self._one(SELECT_SESSION_BY_ID, {"id": session_id})

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        return await self._one(SELECT_SESSION_BY_HASH, {"token_hash": token_hash})

    async def list_for_user(self, user_id: int) -> list[Session]:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Session)) as cur:
                await cur.execute(SELECT_SESSIONS_OF_USER, {"user_id": user_id})
                return await cur.fetchall()

    async def touch(self, session_id: int, at: dt.datetime) -> None:
        with translated():
            await self._conn.execute(UPDATE_SESSION_ACCESSED_AT, {"id": session_id, "at": at})

    async def delete(self, session_id: int) -> bool:
        with translated():
            cur = await self._conn.execute(DELETE_SESSION, {"id": session_id})
        return cur.rowcount > 0

    async def delete_for_user(self, user_id: int, *, except_id: int | None = None) -> int:
        with translated():
            cur = await self._conn.execute(DELETE_SESSIONS_OF_USER, {"user_id": user_id, "except_id": except_id})
        return cur.rowcount

    async def _one(self, query: LiteralString, params: dict[str, Any]) -> Session | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Session)) as cur:
                await cur.execute(query, params)
                return await cur.fetchone()
