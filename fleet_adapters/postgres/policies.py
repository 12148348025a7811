"""Postgres implementation of fleet_core.ports.PolicyRepository.

Passing and failing host counts come from ``policy_stats``, which triggers on
``policy_membership`` keep exact in the same transaction as every change to the answers
(migration 0006), so a policy list costs one indexed join whatever the number of hosts.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

import attrs
from psycopg import AsyncConnection
from psycopg.rows import class_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_core.errors import NotFound
from fleet_core.model.policies import Policy, PolicyFields

# Reads select from the policy_details view (migration 0010): the author's name and email joined
# at read time, and the maintained counts.
SELECT_POLICY: Final[LiteralString] = "SELECT * FROM policy_details p WHERE p.id = %(id)s"
SELECT_POLICY_BY_NAME: Final[LiteralString] = "SELECT * FROM policy_details p WHERE p.name = %(name)s"
SELECT_POLICIES_OF_TEAM: Final[LiteralString] = """
    SELECT * FROM policy_details p WHERE p.team_id IS NOT DISTINCT FROM %(team_id)s::bigint ORDER BY p.id
"""
SELECT_EVERY_POLICY: Final[LiteralString] = """
    SELECT id, name, query, created_at, updated_at, description, resolution, platforms AS platform, critical,
           team_id, author_id
      FROM policies ORDER BY id
"""
INSERT_POLICY: Final[LiteralString] = """
    INSERT INTO policies (team_id, name, query, description, resolution, platforms, critical, author_id,
                          created_at, updated_at)
    VALUES (%(team_id)s, %(name)s, %(query)s, %(description)s, %(resolution)s, %(platform)s, %(critical)s,
            %(author_id)s, %(at)s, %(at)s)
    RETURNING id
"""
# The old query and platform come from the row as it was before the update (a self-join sees it).
UPDATE_POLICY: Final[LiteralString] = """
    UPDATE policies p SET name = %(name)s, query = %(query)s, description = %(description)s,
                          resolution = %(resolution)s, platforms = %(platform)s, critical = %(critical)s,
                          updated_at = %(at)s
      FROM policies old
     WHERE p.id = %(id)s AND old.id = p.id
    RETURNING old.query <> %(query)s OR old.platforms <> %(platform)s
"""
DELETE_ANSWERS: Final[LiteralString] = "DELETE FROM policy_membership WHERE policy_id = %(id)s"
DELETE_POLICIES: Final[LiteralString] = "DELETE FROM policies WHERE id = ANY(%(ids)s::bigint[]) RETURNING id"
# An unchanged answer is not rewritten (a refresh mostly repeats the last one): updated_at is
# when the answer last changed.
RECORD_ANSWERS: Final[LiteralString] = """
    INSERT INTO policy_membership (policy_id, host_id, passes, updated_at)
    SELECT a.policy_id, h.id, a.passes, %(at)s
      FROM unnest(%(ids)s::bigint[], %(passes)s::boolean[]) AS a(policy_id, passes)
      JOIN policies p ON p.id = a.policy_id
      JOIN hosts h ON h.id = %(host_id)s
     ORDER BY a.policy_id
    ON CONFLICT (policy_id, host_id) DO UPDATE SET passes = EXCLUDED.passes, updated_at = EXCLUDED.updated_at
     WHERE policy_membership.passes IS DISTINCT FROM EXCLUDED.passes
"""
DROP_ANSWERS: Final[LiteralString] = (
    "DELETE FROM policy_membership WHERE host_id = %(host_id)s AND policy_id = ANY(%(ids)s::bigint[])")
SELECT_ANSWERS: Final[LiteralString] = "SELECT policy_id, passes FROM policy_membership WHERE host_id = %(host_id)s"
SELECT_FAILING: Final[LiteralString] = """
    SELECT host_id, count(*) FROM policy_membership
     WHERE host_id = ANY(%(ids)s::bigint[]) AND passes IS FALSE
     GROUP BY host_id
"""
class PgPolicyRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def get(self, policy_id: int) -> Policy | None:
        return await self._one(SELECT_POLICY, {"id": policy_id})

    async def get_by_name(self, name: str) -> Policy | None:
        return await self._one(SELECT_POLICY_BY_NAME, {"name": name})

    async def list(self, *, team_id: int | None) -> builtins.list[Policy]:
        return await self._all(SELECT_POLICIES_OF_TEAM, {"team_id": team_id})

    async def every(self) -> builtins.list[Policy]:
        return await self._all(SELECT_EVERY_POLICY, {})

    async def add(self, fields: PolicyFields, *, team_id: int | None, author_id: int | None,
                  at: dt.datetime) -> Policy:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(INSERT_POLICY, {**attrs.asdict(fields), "team_id": team_id, "author_id": author_id,
                                              "at": at})
            row = await cur.fetchone()
        assert row is not None
        return await self._require(row[0])

    async def update(self, policy_id: int, fields: PolicyFields, at: dt.datetime) -> Policy:
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(UPDATE_POLICY, {**attrs.asdict(fields), "id": policy_id, "at": at})
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"Policy with id={policy_id} was not found in the datastore")
            if row[0]:
                await cur.execute(DELETE_ANSWERS, {"id": policy_id})
        return await self._require(policy_id)

    async def delete_many(self, policy_ids: Sequence[int]) -> builtins.list[int]:
        with translated():
            cur = await self._conn.execute(DELETE_POLICIES, {"ids": sorted(set(policy_ids))})
            return sorted(row[0] for row in await cur.fetchall())

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime, *,
                             dropped: Sequence[int] = ()) -> None:
        ids = sorted(results)
        with translated():
            if dropped:
                await self._conn.execute(DROP_ANSWERS, {"host_id": host_id, "ids": sorted(set(dropped))})
            if ids:
                await self._conn.execute(RECORD_ANSWERS, {"host_id": host_id, "ids": ids,
                                                          "passes": [results[i] for i in ids], "at": at})

    async def host_results(self, host_id: int) -> dict[int, bool | None]:
        with translated():
            cur = await self._conn.execute(SELECT_ANSWERS, {"host_id": host_id})
            return {row[0]: row[1] for row in await cur.fetchall()}

    async def failing_counts(self, host_ids: Sequence[int]) -> dict[int, int]:
        if not host_ids:
            return {}
        with translated():
            cur = await self._conn.execute(SELECT_FAILING, {"ids": sorted(set(host_ids))})
            return {row[0]: row[1] for row in await cur.fetchall()}

    async def _one(self, query: LiteralString, params: Mapping[str, Any]) -> Policy | None:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Policy)) as cur:
                await cur.execute(query, params)
                return await cur.fetchone()

    async def _all(self, query: LiteralString, params: Mapping[str, Any]) -> builtins.list[Policy]:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Policy)) as cur:
                await cur.execute(query, params)
                return await cur.fetchall()

    async def _require(self, policy_id: int) -> Policy:
        policy = await self.get(policy_id)
        if policy is None:
            raise NotFound(f"Policy with id={policy_id} was not found in the datastore")
        return policy
