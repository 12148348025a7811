"""Postgres implementation of fleet_core.ports.InviteRepository."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.memberships import TeamMemberships, fetch_one, role_of, role_text
from fleet_adapters.postgres.paging import ordered, page_params, search_pattern
from fleet_core.errors import NotFound
from fleet_core.model.users import Invite, NewInvite, TeamRole
from fleet_core.rules.ordering import INVITE_ORDER_KEYS
from fleet_core.rules.paging import ListOptions

INSERT_INVITE: Final[LiteralString] = """
    INSERT INTO invites AS i (invited_by, email, name, position, sso_enabled, global_role, token_hash)
    VALUES (%(invited_by)s, %(email)s, %(name)s, %(position)s, %(sso_enabled)s, %(global_role)s,
            %(token_hash)s)
    RETURNING i.id, i.invited_by, i.email, i.name, i.global_role, i.created_at, i.updated_at,
           i.sso_enabled, i.position
"""

INSERT_INVITE_TEAMS: Final[LiteralString] = """
    INSERT INTO invite_teams (invite_id, team_id, role)
    SELECT %(owner_id)s, x.team_id, x.role
      FROM unnest(%(team_ids)s::bigint[], %(roles)s::text[]) AS x(team_id, role)
"""

SELECT_INVITE_BY_ID: Final[LiteralString] = """
    SELECT i.id, i.invited_by, i.email, i.name, i.global_role, i.created_at, i.updated_at,
           i.sso_enabled, i.position
      FROM invites i
     WHERE i.id = %(id)s
"""

SELECT_INVITE_BY_HASH: Final[LiteralString] = """
    SELECT i.id, i.invited_by, i.email, i.name, i.global_role, i.created_at, i.updated_at,
           i.sso_enabled, i.position
      FROM invites i
     WHERE i.token_hash = %(token_hash)s
"""

SELECT_INVITES_PAGE: Final[LiteralString] = """
    SELECT i.id, i.invited_by, i.email, i.name, i.global_role, i.created_at, i.updated_at,
           i.sso_enabled, i.position
      FROM invites i
     WHERE (%(pattern)s::text IS NULL
            OR lower(i.name) LIKE lower(%(pattern)s)
            OR lower(i.email) LIKE lower(%(pattern)s))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""

SELECT_TEAMS_OF_INVITES: Final[LiteralString] = """
    SELECT it.invite_id, it.team_id, it.role, t.name AS team_name
      FROM invite_teams it
      JOIN teams t ON t.id = it.team_id
     WHERE it.invite_id = ANY(%(owner_ids)s::bigint[])
     ORDER BY it.invite_id, it.team_id
"""

UPDATE_INVITE: Final[LiteralString] = """
    UPDATE invites AS i
       SET invited_by = %(invited_by)s, email = %(email)s, name = %(name)s,
           global_role = %(global_role)s, sso_enabled = %(sso_enabled)s,
           position = %(position)s, updated_at = now()
     WHERE i.id = %(id)s
    RETURNING i.id, i.invited_by, i.email, i.name, i.global_role, i.created_at, i.updated_at,
           i.sso_enabled, i.position
"""

DELETE_INVITE_TEAMS: Final[LiteralString] = "DELETE FROM invite_teams WHERE invite_id = %(owner_id)s"

TEAMS = TeamMemberships(insert=INSERT_INVITE_TEAMS, delete=DELETE_INVITE_TEAMS, select=SELECT_TEAMS_OF_INVITES)

DELETE_INVITE: Final[LiteralString] = "DELETE FROM invites WHERE id = %(id)s"

ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "i.id",
    "name": 'lower(i.name) COLLATE "C"',
    "email": 'lower(i.email) COLLATE "C"',
    "created_at": "i.created_at",
    "updated_at": "i.updated_at",
    "global_role": 'lower(i.global_role) COLLATE "C"',
    "position": 'lower(i.position) COLLATE "C"',
}
assert ORDER_COLUMNS.keys() == INVITE_ORDER_KEYS, "rules.ordering.INVITE_ORDER_KEYS changed; map the new key"


# Inside the class, `list` names the repository method, so annotations use these.
_Invites = list[Invite]
_Rows = list[dict[str, Any]]

class PgInviteRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def add(self, invite: NewInvite) -> Invite:
        async with guarded_write(self._conn):
            row = await fetch_one(self._conn, INSERT_INVITE, {
                "invited_by": invite.invited_by, "email": invite.email, "name": invite.name,
                "position": invite.position, "sso_enabled": invite.sso_enabled,
                "global_role": role_text(invite.global_role), "token_hash": invite.token_hash,
            })
            assert row is not None
            await TEAMS.replace(self._conn, row["id"], invite.teams)
        return (await self._with_teams([row]))[0]

    async def get(self, invite_id: int) -> Invite | None:
        return await self._get_one(SELECT_INVITE_BY_ID, {"id": invite_id})

    async def get_by_token_hash(self, token_hash: str) -> Invite | None:
        return await self._get_one(SELECT_INVITE_BY_HASH, {"token_hash": token_hash})

    async def list(self, options: ListOptions) -> _Invites:
        query = ordered(SELECT_INVITES_PAGE, options, ORDER_COLUMNS, id_column="i.id")
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, {"pattern": search_pattern(options.query), **page_params(options)})
                rows = await cur.fetchall()
        return await self._with_teams(rows)

    async def update(self, invite: Invite) -> Invite:
        async with guarded_write(self._conn):
            row = await fetch_one(self._conn, UPDATE_INVITE, {
                "id": invite.id, "invited_by": invite.invited_by, "email": invite.email,
                "name": invite.name, "global_role": role_text(invite.global_role),
                "sso_enabled": invite.sso_enabled, "position": invite.position,
            })
            if row is None:
                raise NotFound("invite not found")
            await TEAMS.replace(self._conn, invite.id, invite.teams)
        return (await self._with_teams([row]))[0]

    async def delete(self, invite_id: int) -> bool:
        with translated():
            cur = await self._conn.execute(DELETE_INVITE, {"id": invite_id})
        return cur.rowcount > 0

    async def _get_one(self, query: LiteralString, params: Mapping[str, Any]) -> Invite | None:
        with translated():
            row = await fetch_one(self._conn, query, params)
            return None if row is None else (await self._with_teams([row]))[0]

    async def _with_teams(self, rows: _Rows) -> _Invites:
        teams = await TEAMS.load(self._conn, [r["id"] for r in rows])
        return [_row_to_invite(r, teams.get(r["id"], ())) for r in rows]


def _row_to_invite(row: Mapping[str, Any], teams: tuple[TeamRole, ...]) -> Invite:
    return Invite(
        id=row["id"],
        invited_by=row["invited_by"],
        email=row["email"],
        name=row["name"],
        global_role=role_of(row["global_role"]),
        teams=teams,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sso_enabled=row["sso_enabled"],
        position=row["position"],
    )
