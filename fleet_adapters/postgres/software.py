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
from fleet_adapters.postgres.paging import order_by, page_params, search_pattern
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

SELECT_COLUMNS: Final[LiteralString] = """
    SELECT s.id, s.name, s.version, s.source, s.bundle_identifier, s.vendor, s.arch, s.release,
           c.hosts_count
"""
SEARCH: Final[LiteralString] = """
     WHERE (%(pattern)s::text IS NULL
            OR lower(s.name) LIKE lower(%(pattern)s) OR lower(s.version) LIKE lower(%(pattern)s))
"""


def _counts(f: SoftwareFilter) -> tuple[LiteralString, dict[str, Any]]:
    """The per-software host counts over the hosts the filter keeps, as a derived table ``c``."""
    clauses: list[LiteralString] = []
    params: dict[str, Any] = {}
    if f.visible_team_ids is not None:
        clauses.append("h.team_id = ANY(%(visible_team_ids)s::bigint[])")
        params["visible_team_ids"] = sorted(f.visible_team_ids)
    if f.team_id is not None:
        clauses.append("h.team_id = %(team_id)s::bigint")
        params["team_id"] = f.team_id
    if f.no_team:
        clauses.append("h.team_id IS NULL")
    source: LiteralString = "host_software hs"
    where: LiteralString = ""
    if clauses:
        source = "host_software hs JOIN hosts h ON h.id = hs.host_id"
        where = " WHERE " + " AND ".join(clauses)
    derived: LiteralString = (
        "(SELECT hs.software_id, count(*) AS hosts_count FROM " + source + where  # noqa: S608 - constants only
        + " GROUP BY hs.software_id) c JOIN software s ON s.id = c.software_id")
    return derived, params


class PgSoftwareRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def list(self, filters: SoftwareFilter, options: ListOptions) -> builtins.list[Software]:
        if filters.vulnerable:
            return []
        derived, params = _counts(filters)
        query = (SELECT_COLUMNS + " FROM " + derived + SEARCH + order_by(options, ORDER_COLUMNS, id_column="s.id")
                 + " LIMIT %(limit)s OFFSET %(offset)s")
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, {**params, "pattern": search_pattern(filters.query),
                                          **page_params(options)})
                return [Software(**row) for row in await cur.fetchall()]

    async def count(self, filters: SoftwareFilter) -> int:
        if filters.vulnerable:
            return 0
        derived, params = _counts(filters)
        with translated():
            async with self._conn.cursor() as cur:
                await cur.execute("SELECT count(*) FROM " + derived + SEARCH,  # noqa: S608 - constants only
                                  {**params, "pattern": search_pattern(filters.query)})
                row = await cur.fetchone()
        assert row is not None
        return int(row[0])
