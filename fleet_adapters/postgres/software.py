"""Postgres implementation of fleet_core.ports.SoftwareRepository.

Counts are computed per request in one statement: host_software grouped by software_id (the
host_software_software_id_idx index), joined to hosts only when a team filter needs it. Fleet
keeps a software_host_counts table refreshed by a cron job instead; at the inventory sizes this
server targets, counting live is cheap enough and never stale.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from fleet_adapters.postgres.errors import translated
from fleet_adapters.postgres.paging import ordered, page_params, search_pattern
from fleet_core.model.hosts import Software
from fleet_core.model.software import SoftwareFilter
from fleet_core.rules.paging import ListOptions

ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "name": 'lower(s.name) COLLATE "C"',
    "hosts_count": "c.hosts_count",
    # No vulnerability data: every title has NULL for these, so they order by id.
    "cvss_score": "NULL::double precision",
    "epss_probability": "NULL::double precision",
    "cisa_known_exploit": "NULL::boolean",
}

# Each title's count of the hosts the filter keeps, as the derived table c. Without a team filter
# the count needs no join with hosts; with one, every team condition is off when its parameter is.
SELECT_SOFTWARE_PAGE: Final[LiteralString] = """
    SELECT s.id, s.name, s.version, s.source, s.bundle_identifier, s.vendor, s.arch, s.release,
           c.hosts_count
      FROM (SELECT hs.software_id, count(*) AS hosts_count
              FROM host_software hs
             GROUP BY hs.software_id) c
      JOIN software s ON s.id = c.software_id
     WHERE (%(pattern)s::text IS NULL
            OR lower(s.name) LIKE lower(%(pattern)s) OR lower(s.version) LIKE lower(%(pattern)s))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
SELECT_TEAM_SOFTWARE_PAGE: Final[LiteralString] = """
    SELECT s.id, s.name, s.version, s.source, s.bundle_identifier, s.vendor, s.arch, s.release,
           c.hosts_count
      FROM (SELECT hs.software_id, count(*) AS hosts_count
              FROM host_software hs JOIN hosts h ON h.id = hs.host_id
             WHERE (%(visible_team_ids)s::bigint[] IS NULL OR h.team_id = ANY(%(visible_team_ids)s::bigint[]))
               AND (%(team_id)s::bigint IS NULL OR h.team_id = %(team_id)s::bigint)
               AND (NOT %(no_team)s OR h.team_id IS NULL)
             GROUP BY hs.software_id) c
      JOIN software s ON s.id = c.software_id
     WHERE (%(pattern)s::text IS NULL
            OR lower(s.name) LIKE lower(%(pattern)s) OR lower(s.version) LIKE lower(%(pattern)s))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
COUNT_SOFTWARE: Final[LiteralString] = """
    SELECT count(*)
      FROM (SELECT hs.software_id, count(*) AS hosts_count
              FROM host_software hs
             GROUP BY hs.software_id) c
      JOIN software s ON s.id = c.software_id
     WHERE (%(pattern)s::text IS NULL
            OR lower(s.name) LIKE lower(%(pattern)s) OR lower(s.version) LIKE lower(%(pattern)s))
"""
COUNT_TEAM_SOFTWARE: Final[LiteralString] = """
    SELECT count(*)
      FROM (SELECT hs.software_id, count(*) AS hosts_count
              FROM host_software hs JOIN hosts h ON h.id = hs.host_id
             WHERE (%(visible_team_ids)s::bigint[] IS NULL OR h.team_id = ANY(%(visible_team_ids)s::bigint[]))
               AND (%(team_id)s::bigint IS NULL OR h.team_id = %(team_id)s::bigint)
               AND (NOT %(no_team)s OR h.team_id IS NULL)
             GROUP BY hs.software_id) c
      JOIN software s ON s.id = c.software_id
     WHERE (%(pattern)s::text IS NULL
            OR lower(s.name) LIKE lower(%(pattern)s) OR lower(s.version) LIKE lower(%(pattern)s))
"""


def _team_params(f: SoftwareFilter) -> dict[str, Any] | None:
    """The team filter's parameters, or None when it keeps every host."""
    if f.visible_team_ids is None and f.team_id is None and not f.no_team:
        return None
    return {"visible_team_ids": None if f.visible_team_ids is None else sorted(f.visible_team_ids),
            "team_id": f.team_id, "no_team": f.no_team}


class PgSoftwareRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def list(self, filters: SoftwareFilter, options: ListOptions) -> builtins.list[Software]:
        if filters.vulnerable:
            return []
        team = _team_params(filters)
        page = SELECT_SOFTWARE_PAGE if team is None else SELECT_TEAM_SOFTWARE_PAGE
        query = ordered(page, options, ORDER_COLUMNS, id_column="s.id")
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, {**(team or {}), "pattern": search_pattern(filters.query),
                                          **page_params(options)})
                return [Software(**row) for row in await cur.fetchall()]

    async def count(self, filters: SoftwareFilter) -> int:
        if filters.vulnerable:
            return 0
        team = _team_params(filters)
        with translated():
            async with self._conn.cursor() as cur:
                await cur.execute(COUNT_SOFTWARE if team is None else COUNT_TEAM_SOFTWARE,
                                  {**(team or {}), "pattern": search_pattern(filters.query)})
                row = await cur.fetchone()
        assert row is not None
        return int(row[0])
