"""Postgres implementation of fleet_core.ports.UserRepository."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.memberships import TeamMemberships, fetch_one, role_of, role_text
from fleet_adapters.postgres.paging import ordered, page_params, search_pattern
from fleet_core.errors import NotFound
from fleet_core.model.users import NewUser, TeamRole, User
from fleet_core.rules.ordering import USER_ORDER_KEYS
from fleet_core.rules.paging import ListOptions

INSERT_USER: Final[LiteralString] = """
    INSERT INTO users AS u (name, email, password_hash, global_role, sso_enabled, api_only,
                            force_password_reset, position)
    VALUES (%(name)s, %(email)s, %(password_hash)s, %(global_role)s, %(sso_enabled)s,
            %(api_only)s, %(force_password_reset)s, %(position)s)
    RETURNING u.id, u.name, u.email, u.password_hash, u.global_role, u.sso_enabled, u.api_only,
           u.force_password_reset, u.position, u.gravatar_url, u.created_at, u.updated_at
"""

INSERT_USER_TEAMS: Final[LiteralString] = """
    INSERT INTO user_teams (user_id, team_id, role)
    SELECT %(owner_id)s, x.team_id, x.role
      FROM unnest(%(team_ids)s::bigint[], %(roles)s::text[]) AS x(team_id, role)
"""

SELECT_USER_BY_ID: Final[LiteralString] = """
    SELECT u.id, u.name, u.email, u.password_hash, u.global_role, u.sso_enabled, u.api_only,
           u.force_password_reset, u.position, u.gravatar_url, u.created_at, u.updated_at
      FROM users u
     WHERE u.id = %(id)s
"""

SELECT_USER_BY_EMAIL: Final[LiteralString] = """
    SELECT u.id, u.name, u.email, u.password_hash, u.global_role, u.sso_enabled, u.api_only,
           u.force_password_reset, u.position, u.gravatar_url, u.created_at, u.updated_at
      FROM users u
     WHERE lower(u.email) = lower(%(email)s)
"""

SELECT_USERS_PAGE: Final[LiteralString] = """
    SELECT u.id, u.name, u.email, u.password_hash, u.global_role, u.sso_enabled, u.api_only,
           u.force_password_reset, u.position, u.gravatar_url, u.created_at, u.updated_at
      FROM users u
     WHERE (%(pattern)s::text IS NULL
            OR lower(u.name) LIKE lower(%(pattern)s)
            OR lower(u.email) LIKE lower(%(pattern)s))
       AND (%(team_id)s::bigint IS NULL
            OR EXISTS (SELECT 1 FROM user_teams ut
                        WHERE ut.user_id = u.id AND ut.team_id = %(team_id)s::bigint))
       AND (%(team_ids)s::bigint[] IS NULL
            OR EXISTS (SELECT 1 FROM user_teams ut
                        WHERE ut.user_id = u.id AND ut.team_id = ANY(%(team_ids)s::bigint[])))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""

SELECT_TEAMS_OF_USERS: Final[LiteralString] = """
    SELECT ut.user_id, ut.team_id, ut.role, t.name AS team_name
      FROM user_teams ut
      JOIN teams t ON t.id = ut.team_id
     WHERE ut.user_id = ANY(%(owner_ids)s::bigint[])
     ORDER BY ut.user_id, ut.team_id
"""

COUNT_USERS: Final[LiteralString] = "SELECT count(*) FROM users"

UPDATE_USER: Final[LiteralString] = """
    UPDATE users AS u
       SET name = %(name)s, email = %(email)s, password_hash = %(password_hash)s,
           global_role = %(global_role)s, sso_enabled = %(sso_enabled)s,
           api_only = %(api_only)s, force_password_reset = %(force_password_reset)s,
           position = %(position)s, gravatar_url = %(gravatar_url)s, updated_at = now()
     WHERE u.id = %(id)s
    RETURNING u.id, u.name, u.email, u.password_hash, u.global_role, u.sso_enabled, u.api_only,
           u.force_password_reset, u.position, u.gravatar_url, u.created_at, u.updated_at
"""

DELETE_USER_TEAMS: Final[LiteralString] = "DELETE FROM user_teams WHERE user_id = %(owner_id)s"

TEAMS = TeamMemberships(insert=INSERT_USER_TEAMS, delete=DELETE_USER_TEAMS, select=SELECT_TEAMS_OF_USERS)

# Sessions, team roles and password resets go with the user (ON DELETE CASCADE).
DELETE_USER: Final[LiteralString] = "DELETE FROM users WHERE id = %(id)s"

# Text keys sort on lower(col) COLLATE "C", as fleet_core.rules.paging.paginate does in memory.
ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "u.id",
    "name": 'lower(u.name) COLLATE "C"',
    "email": 'lower(u.email) COLLATE "C"',
    "created_at": "u.created_at",
    "updated_at": "u.updated_at",
    "global_role": 'lower(u.global_role) COLLATE "C"',
    "api_only": "u.api_only",
    "sso_enabled": "u.sso_enabled",
    "position": 'lower(u.position) COLLATE "C"',
}
assert ORDER_COLUMNS.keys() == USER_ORDER_KEYS, "rules.ordering.USER_ORDER_KEYS changed; map the new key"


# Inside the class, `list` names the repository method, so annotations use these.
_Users = list[User]
_Rows = list[dict[str, Any]]

class PgUserRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def add(self, user: NewUser) -> User:
        async with guarded_write(self._conn):
            row = await fetch_one(self._conn, INSERT_USER, {
                "name": user.name, "email": user.email, "password_hash": user.password_hash,
                "global_role": role_text(user.global_role), "sso_enabled": user.sso_enabled,
                "api_only": user.api_only, "force_password_reset": user.force_password_reset,
                "position": user.position,
            })
            assert row is not None
            await TEAMS.replace(self._conn, row["id"], user.teams)
        return (await self._with_teams([row]))[0]

    async def get(self, user_id: int) -> User | None:
        return await self._get_one(SELECT_USER_BY_ID, {"id": user_id})

    async def get_by_email(self, email: str) -> User | None:
        return await self._get_one(SELECT_USER_BY_EMAIL, {"email": email})

    async def list(self, options: ListOptions, *, team_id: int | None = None,
                   team_ids: frozenset[int] | None = None) -> _Users:
        query = ordered(SELECT_USERS_PAGE, options, ORDER_COLUMNS, id_column="u.id")
        params = {
            "pattern": search_pattern(options.query),
            "team_id": team_id,
            "team_ids": None if team_ids is None else sorted(team_ids),
            **page_params(options),
        }
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, params)
                rows = await cur.fetchall()
        return await self._with_teams(rows)

    async def count(self) -> int:
        with translated():
            row = await (await self._conn.execute(COUNT_USERS)).fetchone()
        assert row is not None
        return int(row[0])

    async def update(self, user: User) -> User:
        async with guarded_write(self._conn):
            row = await fetch_one(self._conn, UPDATE_USER, {
                "id": user.id, "name": user.name, "email": user.email,
                "password_hash": user.password_hash, "global_role": role_text(user.global_role),
                "sso_enabled": user.sso_enabled, "api_only": user.api_only,
                "force_password_reset": user.force_password_reset, "position": user.position,
                "gravatar_url": user.gravatar_url,
            })
            if row is None:
                raise NotFound("user not found")
            await TEAMS.replace(self._conn, user.id, user.teams)
        return (await self._with_teams([row]))[0]

    async def delete(self, user_id: int) -> bool:
        with translated():
            cur = await self._conn.execute(DELETE_USER, {"id": user_id})
        return cur.rowcount > 0

    async def _get_one(self, query: LiteralString, params: Mapping[str, Any]) -> User | None:
        with translated():
            row = await fetch_one(self._conn, query, params)
            return None if row is None else (await self._with_teams([row]))[0]

    async def _with_teams(self, rows: _Rows) -> _Users:
        teams = await TEAMS.load(self._conn, [r["id"] for r in rows])
        return [_row_to_user(r, teams.get(r["id"], ())) for r in rows]


def _row_to_user(row: Mapping[str, Any], teams: tuple[TeamRole, ...]) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        password_hash=row["password_hash"],
        global_role=role_of(row["global_role"]),
        teams=teams,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sso_enabled=row["sso_enabled"],
        api_only=row["api_only"],
        force_password_reset=row["force_password_reset"],
        position=row["position"],
        gravatar_url=row["gravatar_url"],
    )
