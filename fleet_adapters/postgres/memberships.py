"""Team roles held by users and by invites: the same shape of join table for both owners."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, LiteralString

import attrs
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from fleet_adapters.postgres.errors import translated
from fleet_core.model.users import Role, TeamRole


@attrs.frozen
class TeamMemberships:
    """One join table ``<table>(<owner>, team_id, role)`` keyed by the owner's id.

    Its statements take ``owner_id`` / ``owner_ids``, ``team_ids`` and ``roles`` parameters; the
    select returns ``(owner_id, team_id, role, team_name)`` rows ordered by owner, then team.
    """

    insert: LiteralString
    delete: LiteralString
    select: LiteralString

    async def replace(self, conn: AsyncConnection[Any], owner_id: int, teams: Iterable[TeamRole]) -> None:
        """Make ``teams`` the owner's whole set of memberships."""
        await conn.execute(self.delete, {"owner_id": owner_id})
        teams = tuple(teams)
        if teams:
            await conn.execute(self.insert, {
                "owner_id": owner_id,
                "team_ids": [t.team_id for t in teams],
                "roles": [str(t.role) for t in teams],
            })

    async def load(self, conn: AsyncConnection[Any], owner_ids: Sequence[int]) -> dict[int, tuple[TeamRole, ...]]:
        """Every listed owner's memberships, with team names, in one round trip."""
        if not owner_ids:
            return {}
        found: dict[int, list[TeamRole]] = {}
        with translated():
            cur = await conn.execute(self.select, {"owner_ids": list(owner_ids)})
            for owner_id, team_id, role, team_name in await cur.fetchall():
                found.setdefault(owner_id, []).append(TeamRole(team_id, Role(role), team_name))
        return {owner: tuple(teams) for owner, teams in found.items()}


async def fetch_one(
    conn: AsyncConnection[Any], query: LiteralString, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


def role_text(role: Role | None) -> str | None:
    return None if role is None else str(role)


def role_of(text: str | None) -> Role | None:
    return None if text is None else Role(text)
