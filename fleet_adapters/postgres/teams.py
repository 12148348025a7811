"""Postgres implementation of fleet_core.ports.TeamRepository."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_core.errors import NotFound
from fleet_core.model.teams import Team

INSERT_TEAM: Final[LiteralString] = """
    INSERT INTO teams (name, description, created_at)
    VALUES (%(name)s, %(description)s, %(at)s)
    RETURNING id, name, description, created_at, agent_options
"""
SELECT_TEAM_BY_ID: Final[LiteralString] = """
    SELECT id, name, description, created_at, agent_options FROM teams WHERE id = %(id)s
"""
SELECT_TEAMS_BY_IDS: Final[LiteralString] = """
    SELECT id, name, description, created_at, agent_options
      FROM teams
     WHERE id = ANY(%(ids)s::bigint[])
     ORDER BY id
"""

UPDATE_TEAM_AGENT_OPTIONS: Final[LiteralString] = """
    UPDATE teams SET agent_options = %(agent_options)s WHERE id = %(id)s
"""


class PgTeamRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def add(self, *, name: str, description: str, at: dt.datetime) -> Team:
        async with guarded_write(self._conn), self._conn.cursor(row_factory=class_row(Team)) as cur:
            await cur.execute(INSERT_TEAM, {"name": name, "description": description, "at": at})
            row = await cur.fetchone()
        assert row is not None
        return row

    async def get(self, team_id: int) -> Team | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Team)) as cur:
                await cur.execute(SELECT_TEAM_BY_ID, {"id": team_id})
                return await cur.fetchone()

    async def get_many(self, team_ids: Sequence[int]) -> list[Team]:
        if not team_ids:
            return []
        with translated():
            async with self._conn.cursor(row_factory=class_row(Team)) as cur:
                await cur.execute(SELECT_TEAMS_BY_IDS, {"ids": list(team_ids)})
                return await cur.fetchall()

    async def set_agent_options(self, team_id: int, agent_options: Mapping[str, Any] | None) -> None:
        with translated():
            cur = await self._conn.execute(UPDATE_TEAM_AGENT_OPTIONS, {
                "id": team_id, "agent_options": None if agent_options is None else Jsonb(dict(agent_options))})
        if cur.rowcount == 0:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
