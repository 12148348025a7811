"""Postgres implementation of fleet_core.ports.EnrollSecretRepository."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import class_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_core.model.secrets import EnrollSecret

# Secrets created together share created_at; the secret itself breaks the tie so that
# the order is stable (the in-memory adapter must use the same rule).
SELECT_ENROLL_SECRETS_OF_TEAM: Final[LiteralString] = """
    SELECT secret, team_id, created_at
      FROM enroll_secrets
     WHERE team_id IS NOT DISTINCT FROM %(team_id)s::bigint
     ORDER BY created_at, secret COLLATE "C"
"""
DELETE_ENROLL_SECRETS_NOT_IN: Final[LiteralString] = """
    DELETE FROM enroll_secrets
     WHERE team_id IS NOT DISTINCT FROM %(team_id)s::bigint
       AND secret <> ALL(%(secrets)s::text[])
"""
# No ON CONFLICT: a secret held by another team must fail on enroll_secrets_pkey
# (-> AlreadyExists) rather than be skipped silently. Survivors are filtered out, so they
# keep their created_at.
INSERT_NEW_ENROLL_SECRETS: Final[LiteralString] = """
    INSERT INTO enroll_secrets (secret, secret_digest, team_id, created_at)
    SELECT x.secret, sha256(convert_to(x.secret, 'UTF8')), %(team_id)s::bigint, %(at)s
      FROM unnest(%(secrets)s::text[]) AS x(secret)
     WHERE NOT EXISTS (SELECT 1 FROM enroll_secrets e
                        WHERE e.secret = x.secret
                          AND e.team_id IS NOT DISTINCT FROM %(team_id)s::bigint)
"""
SELECT_ALL_ENROLL_SECRETS: Final[LiteralString] = """
    SELECT secret, team_id, created_at FROM enroll_secrets ORDER BY secret COLLATE "C"
"""
# By digest, so that how long the lookup takes says nothing about the secret (migration 0011).
FIND_BY_DIGEST: Final[LiteralString] = """
    SELECT secret, team_id, created_at
      FROM enroll_secrets
     WHERE secret_digest = sha256(convert_to(%(secret)s, 'UTF8'))
"""


# Inside the class, `list` names the repository method, so annotations use these.
_EnrollSecrets = list[EnrollSecret]

class PgEnrollSecretRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def list(self, team_id: int | None) -> _EnrollSecrets:
        with translated():
            async with self._conn.cursor(row_factory=class_row(EnrollSecret)) as cur:
                await cur.execute(SELECT_ENROLL_SECRETS_OF_TEAM, {"team_id": team_id})
                return await cur.fetchall()

    async def replace(self, team_id: int | None, secrets: Sequence[str], at: dt.datetime) -> _EnrollSecrets:
        params = {"team_id": team_id, "secrets": list(dict.fromkeys(secrets)), "at": at}
        async with guarded_write(self._conn):
            await self._conn.execute(DELETE_ENROLL_SECRETS_NOT_IN, params)
            await self._conn.execute(INSERT_NEW_ENROLL_SECRETS, params)
        return await self.list(team_id)

    async def find(self, secret: str) -> EnrollSecret | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(EnrollSecret)) as cur:
                await cur.execute(FIND_BY_DIGEST, {"secret": secret})
                return await cur.fetchone()

    async def all(self) -> _EnrollSecrets:
        with translated():
            async with self._conn.cursor(row_factory=class_row(EnrollSecret)) as cur:
                await cur.execute(SELECT_ALL_ENROLL_SECRETS)
                return await cur.fetchall()
