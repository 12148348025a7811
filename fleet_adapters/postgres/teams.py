"""Postgres implementation of fleet_core.ports.TeamRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.paging import ordered, page_params, search_pattern
from fleet_core.errors import NotFound
from fleet_core.model.config import FailingPoliciesWebhook
from fleet_core.model.teams import (
    Team,
    TeamAutomations,
    TeamCounts,
    TeamJiraIntegration,
    TeamMembers,
    TeamZendeskIntegration,
)
from fleet_core.rules.ordering import TEAM_ORDER_KEYS
from fleet_core.rules.paging import ListOptions

INSERT_TEAM: Final[LiteralString] = """
    INSERT INTO teams (name, description, created_at)
    VALUES (%(name)s, %(description)s, %(at)s)
    RETURNING id, name, description, created_at, agent_options
"""
SELECT_TEAM_BY_ID: Final[LiteralString] = """
    SELECT id, name, description, created_at, agent_options FROM teams WHERE id = %(id)s
"""
SELECT_TEAM_BY_NAME: Final[LiteralString] = """
    SELECT id, name, description, created_at, agent_options FROM teams WHERE lower(name) = lower(%(name)s)
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
SELECT_TEAMS_PAGE: Final[LiteralString] = """
    SELECT id, name, description, created_at, agent_options
      FROM teams
     WHERE (%(pattern)s::text IS NULL OR lower(name) LIKE lower(%(pattern)s))
       AND (%(team_ids)s::bigint[] IS NULL OR id = ANY(%(team_ids)s::bigint[]))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
UPDATE_TEAM: Final[LiteralString] = """
    UPDATE teams SET name = %(name)s, description = %(description)s
     WHERE id = %(id)s
    RETURNING id, name, description, created_at, agent_options
"""
# Hosts are moved first so their ids can be returned; the foreign keys would null them anyway.
MOVE_TEAM_HOSTS_TO_NO_TEAM: Final[LiteralString] = """
    UPDATE hosts SET team_id = NULL WHERE team_id = %(id)s RETURNING id
"""
DELETE_TEAM: Final[LiteralString] = "DELETE FROM teams WHERE id = %(id)s"
COUNT_TEAM_MEMBERS: Final[LiteralString] = """
    SELECT t.id,
           (SELECT count(*) FROM user_teams ut WHERE ut.team_id = t.id) AS user_count,
           (SELECT count(*) FROM hosts h WHERE h.team_id = t.id) AS host_count
      FROM teams t
     WHERE t.id = ANY(%(ids)s::bigint[])
"""
SELECT_TEAM_USER_IDS: Final[LiteralString] = """
    SELECT user_id FROM user_teams WHERE team_id = %(id)s ORDER BY user_id
"""
SELECT_TEAM_HOST_IDS: Final[LiteralString] = "SELECT id FROM hosts WHERE team_id = %(id)s ORDER BY id"

SELECT_TEAM_AUTOMATIONS: Final[LiteralString] = """
    SELECT id, failing_policies_webhook, integrations FROM teams
     WHERE (%(id)s::bigint IS NULL OR id = %(id)s)
       AND (failing_policies_webhook IS NOT NULL OR integrations IS NOT NULL)
     ORDER BY id
"""
UPDATE_TEAM_AUTOMATIONS: Final[LiteralString] = """
    UPDATE teams SET failing_policies_webhook = %(hook)s, integrations = %(integrations)s WHERE id = %(id)s
"""

ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "id",
    "name": 'lower(name) COLLATE "C"',
    "description": 'lower(description) COLLATE "C"',
    "created_at": "created_at",
}
assert ORDER_COLUMNS.keys() == TEAM_ORDER_KEYS, "rules.ordering.TEAM_ORDER_KEYS changed; map the new key"

# Inside the class, `list` names the repository method, so annotations use these.
_Teams = builtins.list[Team]
_Ids = builtins.list[int]


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

    async def get_by_name(self, name: str) -> Team | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Team)) as cur:
                await cur.execute(SELECT_TEAM_BY_NAME, {"name": name})
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

    async def list(self, options: ListOptions, *, team_ids: frozenset[int] | None = None) -> _Teams:
        query = ordered(SELECT_TEAMS_PAGE, options, ORDER_COLUMNS, id_column="id")
        params = {"pattern": search_pattern(options.query),
                  "team_ids": None if team_ids is None else sorted(team_ids), **page_params(options)}
        with translated():
            async with self._conn.cursor(row_factory=class_row(Team)) as cur:
                await cur.execute(query, params)
                return await cur.fetchall()

    async def update(self, team_id: int, *, name: str, description: str) -> Team:
        async with guarded_write(self._conn), self._conn.cursor(row_factory=class_row(Team)) as cur:
            await cur.execute(UPDATE_TEAM, {"id": team_id, "name": name, "description": description})
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        return row

    async def delete(self, team_id: int) -> _Ids | None:
        with translated():
            moved = await self._conn.execute(MOVE_TEAM_HOSTS_TO_NO_TEAM, {"id": team_id})
            host_ids = sorted(int(r[0]) for r in await moved.fetchall())
            # Enroll secrets, user and invite roles go with the team (ON DELETE CASCADE).
            deleted = await self._conn.execute(DELETE_TEAM, {"id": team_id})
        if deleted.rowcount == 0:
            return None
        return host_ids

    async def counts(self, team_ids: Sequence[int]) -> dict[int, TeamCounts]:
        if not team_ids:
            return {}
        with translated():
            cur = await self._conn.execute(COUNT_TEAM_MEMBERS, {"ids": list(team_ids)})
            rows = await cur.fetchall()
        return {int(r[0]): TeamCounts(user_count=int(r[1]), host_count=int(r[2])) for r in rows}

    async def members(self, team_id: int) -> TeamMembers:
        with translated():
            users = await (await self._conn.execute(SELECT_TEAM_USER_IDS, {"id": team_id})).fetchall()
            hosts = await (await self._conn.execute(SELECT_TEAM_HOST_IDS, {"id": team_id})).fetchall()
        return TeamMembers(user_ids=tuple(int(r[0]) for r in users), host_ids=tuple(int(r[0]) for r in hosts))

    async def automations(self, team_id: int) -> TeamAutomations:
        return (await self._automations(team_id)).get(team_id, TeamAutomations())

    async def all_automations(self) -> dict[int, TeamAutomations]:
        return await self._automations(None)

    async def _automations(self, team_id: int | None) -> dict[int, TeamAutomations]:
        with translated():
            rows = await (await self._conn.execute(SELECT_TEAM_AUTOMATIONS, {"id": team_id})).fetchall()
        return {int(r[0]): _automations_from_json(r[1], r[2]) for r in rows}

    async def set_automations(self, team_id: int, automations: TeamAutomations) -> None:
        hook = automations.failing_policies_webhook
        with translated():
            cur = await self._conn.execute(UPDATE_TEAM_AUTOMATIONS, {
                "id": team_id,
                "hook": Jsonb({"enable_failing_policies_webhook": hook.enable_failing_policies_webhook,
                               "destination_url": hook.destination_url, "policy_ids": list(hook.policy_ids),
                               "host_batch_size": hook.host_batch_size}),
                "integrations": Jsonb({
                    "jira": [{"url": j.url, "project_key": j.project_key,
                              "enable_failing_policies": j.enable_failing_policies} for j in automations.jira],
                    "zendesk": [{"url": z.url, "group_id": z.group_id,
                                 "enable_failing_policies": z.enable_failing_policies} for z in automations.zendesk],
                }),
            })
        if cur.rowcount == 0:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")


def _automations_from_json(hook: Mapping[str, Any] | None, integrations: Mapping[str, Any] | None) -> TeamAutomations:
    hook = hook or {}
    integrations = integrations or {}
    return TeamAutomations(
        failing_policies_webhook=FailingPoliciesWebhook(
            enable_failing_policies_webhook=bool(hook.get("enable_failing_policies_webhook", False)),
            destination_url=str(hook.get("destination_url", "")),
            policy_ids=[int(i) for i in hook.get("policy_ids") or []],
            host_batch_size=int(hook.get("host_batch_size", 0))),
        jira=tuple(TeamJiraIntegration(url=str(j["url"]), project_key=str(j["project_key"]),
                                       enable_failing_policies=bool(j.get("enable_failing_policies", False)))
                   for j in integrations.get("jira") or []),
        zendesk=tuple(TeamZendeskIntegration(url=str(z["url"]), group_id=int(z["group_id"]),
                                             enable_failing_policies=bool(z.get("enable_failing_policies", False)))
                      for z in integrations.get("zendesk") or []),
    )
