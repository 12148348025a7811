"""Postgres implementation of fleet_core.ports.SoftwareRepository.

Listing reads the host counts from software_host_counts (Fleet's table of the same name), which
refresh_host_counts() rebuilds; it never counts host_software at request time. A page is two
statements: the titles, then the vulnerabilities of the titles on the page.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from fleet_adapters.postgres.errors import translated
from fleet_adapters.postgres.memberships import fetch_one
from fleet_adapters.postgres.paging import ordered, page_params, search_pattern
from fleet_core.model.hosts import Software
from fleet_core.model.software import SoftwareFilter
from fleet_core.model.vulnerabilities import SoftwareVulnerability
from fleet_core.rules.paging import ListOptions

ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "name": 'lower(s.name) COLLATE "C"',
    "hosts_count": "c.hosts_count",
    # The worst of the title's CVEs; NULL (ordered last) when it has none.
    "cvss_score": "v.cvss_score",
    "epss_probability": "v.epss_probability",
    "cisa_known_exploit": "v.cisa_known_exploit",
}

# The page and the count read the same rows. c is each title's host count in the scope asked
# for: fleet-wide counts are the (team 0, global) rows; otherwise the per-team rows of the teams
# in scope (team 0 = hosts in no team) are summed, exact because a host is in one team at most.
SELECT_SOFTWARE_PAGE: Final[LiteralString] = """
    SELECT s.id, s.name, s.version, s.source, s.bundle_identifier, s.vendor, s.arch, s.release,
           s.extension_id, s.browser, s.generated_cpe, c.hosts_count
      FROM
           (SELECT shc.software_id, sum(shc.hosts_count)::bigint AS hosts_count
              FROM software_host_counts shc
             WHERE (%(fleet_wide)s AND shc.team_id = 0 AND shc.global_stats)
                OR (NOT %(fleet_wide)s AND NOT shc.global_stats AND shc.team_id = ANY(%(team_ids)s::bigint[]))
             GROUP BY shc.software_id) c
      JOIN software s ON s.id = c.software_id
      LEFT JOIN LATERAL (
           SELECT max(m.cvss_score) AS cvss_score, max(m.epss_probability) AS epss_probability,
                  bool_or(m.cisa_known_exploit) AS cisa_known_exploit
             FROM software_cve sc LEFT JOIN cve_meta m ON m.cve = sc.cve
            WHERE sc.software_id = s.id) v ON true
     WHERE c.hosts_count > 0
       AND (%(pattern)s::text IS NULL
            OR lower(s.name) LIKE lower(%(pattern)s) OR lower(s.version) LIKE lower(%(pattern)s)
            OR EXISTS (SELECT 1 FROM software_cve sc
                        WHERE sc.software_id = s.id AND lower(sc.cve) LIKE lower(%(pattern)s)))
       AND (NOT %(vulnerable)s OR EXISTS (SELECT 1 FROM software_cve sc WHERE sc.software_id = s.id))
     {order_by}
     LIMIT %(limit)s OFFSET %(offset)s
"""
COUNT_SOFTWARE: Final[LiteralString] = """
    SELECT count(*) AS n
      FROM
           (SELECT shc.software_id, sum(shc.hosts_count)::bigint AS hosts_count
              FROM software_host_counts shc
             WHERE (%(fleet_wide)s AND shc.team_id = 0 AND shc.global_stats)
                OR (NOT %(fleet_wide)s AND NOT shc.global_stats AND shc.team_id = ANY(%(team_ids)s::bigint[]))
             GROUP BY shc.software_id) c
      JOIN software s ON s.id = c.software_id
     WHERE c.hosts_count > 0
       AND (%(pattern)s::text IS NULL
            OR lower(s.name) LIKE lower(%(pattern)s) OR lower(s.version) LIKE lower(%(pattern)s)
            OR EXISTS (SELECT 1 FROM software_cve sc
                        WHERE sc.software_id = s.id AND lower(sc.cve) LIKE lower(%(pattern)s)))
       AND (NOT %(vulnerable)s OR EXISTS (SELECT 1 FROM software_cve sc WHERE sc.software_id = s.id))
"""

SELECT_VULNERABILITIES: Final[LiteralString] = """
    SELECT sc.software_id, sc.cve, sc.resolved_in_version, sc.created_at,
           m.cvss_score, m.epss_probability, m.cisa_known_exploit, m.published
      FROM software_cve sc LEFT JOIN cve_meta m ON m.cve = sc.cve
     WHERE sc.software_id = ANY(%(ids)s::bigint[])
     ORDER BY sc.software_id, sc.cve COLLATE "C"
"""

# Rebuilds the counts in one statement: every scope's count is computed from host_software,
# rows whose count changed are rewritten, rows of titles no host has any more are deleted.
REFRESH_HOST_COUNTS: Final[LiteralString] = """
    WITH counted AS (
        SELECT hs.software_id, coalesce(h.team_id, 0) AS team_id, false AS global_stats, count(*) AS hosts_count
          FROM host_software hs JOIN hosts h ON h.id = hs.host_id
         GROUP BY hs.software_id, coalesce(h.team_id, 0)
        UNION ALL
        SELECT hs.software_id, 0, true, count(*) FROM host_software hs GROUP BY hs.software_id
    ), removed AS (
        DELETE FROM software_host_counts shc
         WHERE NOT EXISTS (SELECT 1 FROM counted c WHERE c.software_id = shc.software_id
                              AND c.team_id = shc.team_id AND c.global_stats = shc.global_stats)
    )
    INSERT INTO software_host_counts AS shc (software_id, team_id, global_stats, hosts_count, updated_at)
    SELECT c.software_id, c.team_id, c.global_stats, c.hosts_count, %(at)s FROM counted c
     ORDER BY c.software_id, c.team_id, c.global_stats
    ON CONFLICT (software_id, team_id, global_stats) DO UPDATE
       SET hosts_count = EXCLUDED.hosts_count, updated_at = EXCLUDED.updated_at
     WHERE shc.hosts_count <> EXCLUDED.hosts_count
"""
SET_COUNTS_UPDATED_AT: Final[LiteralString] = """
    UPDATE software_jobs_state SET counts_updated_at = %(at)s WHERE id = 1
"""
SELECT_COUNTS_UPDATED_AT: Final[LiteralString] = """
    SELECT counts_updated_at FROM software_jobs_state WHERE id = 1
"""


def _scope_params(f: SoftwareFilter) -> dict[str, Any]:
    """Which count rows the filter reads: fleet-wide, or the per-team rows of these teams."""
    if f.team_id is not None:
        teams: Collection[int] = [f.team_id] if f.visible_team_ids is None or f.team_id in f.visible_team_ids else []
    elif f.no_team:
        teams = [0] if f.visible_team_ids is None else []
    elif f.visible_team_ids is not None:
        teams = sorted(f.visible_team_ids)
    else:
        return {"fleet_wide": True, "team_ids": []}
    return {"fleet_wide": False, "team_ids": list(teams)}


def _filter_params(f: SoftwareFilter) -> dict[str, Any]:
    return {**_scope_params(f), "pattern": search_pattern(f.query), "vulnerable": f.vulnerable}


async def fetch_vulnerabilities(conn: AsyncConnection[Any],
                                ids: Collection[int]) -> dict[int, tuple[SoftwareVulnerability, ...]]:
    """The CVEs found on each software id (ids without any are absent), ordered by CVE id."""
    if not ids:
        return {}
    found: dict[int, list[SoftwareVulnerability]] = {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(SELECT_VULNERABILITIES, {"ids": sorted(ids)})
        for row in await cur.fetchall():
            found.setdefault(row["software_id"], []).append(SoftwareVulnerability(
                cve=row["cve"], cvss_score=row["cvss_score"], epss_probability=row["epss_probability"],
                cisa_known_exploit=row["cisa_known_exploit"], cve_published=row["published"],
                resolved_in_version=row["resolved_in_version"], created_at=row["created_at"]))
    return {software_id: tuple(cves) for software_id, cves in found.items()}


class PgSoftwareRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def list(self, filters: SoftwareFilter, options: ListOptions) -> builtins.list[Software]:
        query = ordered(SELECT_SOFTWARE_PAGE, options, ORDER_COLUMNS, id_column="s.id")
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, {**_filter_params(filters), **page_params(options)})
                rows = await cur.fetchall()
            vulnerabilities = await fetch_vulnerabilities(self._conn, [row["id"] for row in rows])
        return [Software(**row, vulnerabilities=vulnerabilities.get(row["id"], ())) for row in rows]

    async def count(self, filters: SoftwareFilter) -> int:
        with translated():
            row = await fetch_one(self._conn, COUNT_SOFTWARE, _filter_params(filters))
        assert row is not None
        return int(row["n"])

    async def refresh_host_counts(self, at: dt.datetime) -> None:
        with translated():
            await self._conn.execute(REFRESH_HOST_COUNTS, {"at": at})
            await self._conn.execute(SET_COUNTS_UPDATED_AT, {"at": at})

    async def counts_updated_at(self) -> dt.datetime | None:
        with translated():
            row = await fetch_one(self._conn, SELECT_COUNTS_UPDATED_AT, {})
        return None if row is None else row["counts_updated_at"]
