"""Postgres implementation of fleet_core.ports.ActivityRepository."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, LiteralString

import msgspec
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.paging import ordered, page_params
from fleet_core.model.activities import Activity, NewActivity
from fleet_core.rules.ordering import ACTIVITY_ORDER_KEYS
from fleet_core.rules.paging import ListOptions

INSERT_ACTIVITY: Final[LiteralString] = """
    INSERT INTO activities AS a (actor_id, actor_full_name, actor_email, actor_gravatar, type,
                                 details, created_at)
    VALUES (%(actor_id)s, %(actor_full_name)s, %(actor_email)s, %(actor_gravatar)s, %(type)s,
            %(details)s::jsonb, %(at)s)
    RETURNING a.id, a.actor_id, a.actor_full_name, a.actor_email, a.actor_gravatar, a.type,
           a.details::text AS details, a.created_at
"""

SELECT_ACTIVITIES_PAGE: Final[LiteralString] = """
    SELECT a.id, a.actor_id, a.actor_full_name, a.actor_email, a.actor_gravatar, a.type,
           a.details::text AS details, a.created_at
      FROM activities a
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""

ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "a.id",
    "created_at": "a.created_at",
    "type": 'lower(a.type) COLLATE "C"',
    "actor_id": "a.actor_id",
    "actor_full_name": 'lower(a.actor_full_name) COLLATE "C"',
    "actor_email": 'lower(a.actor_email) COLLATE "C"',
}
assert ORDER_COLUMNS.keys() == ACTIVITY_ORDER_KEYS, "rules.ordering.ACTIVITY_ORDER_KEYS changed; map the new key"


class PgActivityRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def add(self, activity: NewActivity, at: dt.datetime) -> Activity:
        details = None if activity.details is None else msgspec.json.encode(dict(activity.details)).decode()
        async with guarded_write(self._conn), self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(INSERT_ACTIVITY, {
                "actor_id": activity.actor_id, "actor_full_name": activity.actor_full_name,
                "actor_email": activity.actor_email, "actor_gravatar": activity.actor_gravatar,
                "type": activity.type, "details": details, "at": at,
            })
            row = await cur.fetchone()
        assert row is not None
        return _row_to_activity(row)

    async def list(self, options: ListOptions) -> list[Activity]:
        query = ordered(SELECT_ACTIVITIES_PAGE, options, ORDER_COLUMNS, id_column="a.id")
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, page_params(options))
                return [_row_to_activity(r) for r in await cur.fetchall()]


def _row_to_activity(row: Mapping[str, Any]) -> Activity:
    details = row["details"]
    return Activity(
        id=row["id"],
        actor_id=row["actor_id"],
        actor_full_name=row["actor_full_name"],
        actor_email=row["actor_email"],
        actor_gravatar=row["actor_gravatar"],
        type=row["type"],
        details=None if details is None else msgspec.json.decode(details),
        created_at=row["created_at"],
    )
