"""Postgres implementation of fleet_core.ports.AppConfigRepository: one JSONB row."""

from __future__ import annotations

from typing import Any, Final, LiteralString

import msgspec
from psycopg import AsyncConnection

from fleet_adapters.postgres.errors import translated
from fleet_core.model.config import AppConfig

SELECT_APP_CONFIG: Final[LiteralString] = "SELECT config::text FROM app_config WHERE id = 1"
SELECT_APP_CONFIG_FOR_UPDATE: Final[LiteralString] = "SELECT config::text FROM app_config WHERE id = 1 FOR UPDATE"
# lock() needs a row to lock even before the first save; concurrent inserters wait for each
# other on the primary key, and the loser's DO NOTHING then finds the winner's row.
INSERT_DEFAULT_APP_CONFIG: Final[LiteralString] = """
    INSERT INTO app_config (id, config) VALUES (1, %(config)s::jsonb)
    ON CONFLICT (id) DO NOTHING
"""
UPSERT_APP_CONFIG: Final[LiteralString] = """
    INSERT INTO app_config (id, config, updated_at) VALUES (1, %(config)s::jsonb, now())
    ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, updated_at = EXCLUDED.updated_at
"""


class PgAppConfigRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def get(self) -> AppConfig:
        return await self._read(SELECT_APP_CONFIG)

    async def save(self, config: AppConfig) -> None:
        with translated():
            await self._conn.execute(UPSERT_APP_CONFIG, {"config": _encode(config)})

    async def lock(self) -> AppConfig:
        with translated():
            await self._conn.execute(INSERT_DEFAULT_APP_CONFIG, {"config": _encode(AppConfig())})
        return await self._read(SELECT_APP_CONFIG_FOR_UPDATE)

    async def _read(self, query: LiteralString) -> AppConfig:
        with translated():
            row = await (await self._conn.execute(query)).fetchone()
        if row is None:
            return AppConfig()
        # Fields missing from an older stored document take the model's defaults.
        return msgspec.json.decode(row[0], type=AppConfig)


def _encode(config: AppConfig) -> str:
    return msgspec.json.encode(config).decode()
