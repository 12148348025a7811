"""Postgres implementation of fleet_core.ports.HostAggregateRepository: fleet-wide counts over
the hosts a filter matches (status filters do not apply)."""

from __future__ import annotations

import builtins
from typing import Any, LiteralString

from psycopg import AsyncConnection

from fleet_adapters.postgres.hosts.columns import HOST_FROM, fetch_rows
from fleet_adapters.postgres.hosts.filters import host_filter_where
from fleet_core.model.host_aggregates import MDMSolution, MunkiIssue, MunkiVersion
from fleet_core.model.hosts import HostFilter, OSVersion

# Each statement takes a WHERE condition from filters.host_filter_where.


def count_os_versions(where: LiteralString) -> LiteralString:
    return """
    SELECT o.id, o.name, o.version, o.platform, count(*) AS hosts_count""" + HOST_FROM + """
      JOIN operating_systems o ON o.id = h.os_id
     WHERE """ + where + """
     GROUP BY o.id ORDER BY o.id
"""


def count_mdm_solutions(where: LiteralString) -> LiteralString:
    return """
    SELECT ms.id, ms.name, ms.server_url, count(*) AS hosts_count""" + HOST_FROM + """
      JOIN host_mdm hm ON hm.host_id = h.id
      JOIN mdm_solutions ms ON ms.id = hm.mdm_id
     WHERE """ + where + """ AND hm.enrolled
     GROUP BY ms.id ORDER BY ms.id
"""


def count_mdm_statuses(where: LiteralString) -> LiteralString:
    return """
    SELECT count(*) FILTER (WHERE hm.enrolled AND NOT hm.installed_from_dep) AS enrolled_manual_hosts_count,
           count(*) FILTER (WHERE hm.enrolled AND hm.installed_from_dep) AS enrolled_automated_hosts_count,
           count(*) FILTER (WHERE NOT hm.enrolled) AS unenrolled_hosts_count,
           count(*) AS hosts_count""" + HOST_FROM + """
      JOIN host_mdm hm ON hm.host_id = h.id
     WHERE """ + where


def count_munki_versions(where: LiteralString) -> LiteralString:
    return """
    SELECT mi.version, count(*) AS hosts_count""" + HOST_FROM + """
      JOIN host_munki_info mi ON mi.host_id = h.id
     WHERE """ + where + """
     GROUP BY mi.version ORDER BY count(*) DESC, mi.version COLLATE "C"
"""


def count_munki_issues(where: LiteralString) -> LiteralString:
    return """
    SELECT m.id, m.name, m.issue_type, count(*) AS hosts_count""" + HOST_FROM + """
      JOIN host_munki_issues hmi ON hmi.host_id = h.id
      JOIN munki_issues m ON m.id = hmi.munki_issue_id
     WHERE """ + where + """
     GROUP BY m.id ORDER BY m.id
"""


class PgHostAggregateRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def os_versions(self, filters: HostFilter) -> builtins.list[OSVersion]:
        where, params = host_filter_where(filters, None, filters.query)
        rows = await fetch_rows(self._conn, count_os_versions(where), params)
        return [OSVersion(os_id=r["id"], name=f"{r['name']} {r['version']}".strip(), name_only=r["name"],
                          version=r["version"], platform=r["platform"], hosts_count=r["hosts_count"])
                for r in rows]

    async def mdm_solutions(self, filters: HostFilter) -> builtins.list[MDMSolution]:
        where, params = host_filter_where(filters, None, filters.query)
        rows = await fetch_rows(self._conn, count_mdm_solutions(where), params)
        return [MDMSolution(id=r["id"], name=r["name"], server_url=r["server_url"], hosts_count=r["hosts_count"])
                for r in rows]

    async def mdm_status_counts(self, filters: HostFilter) -> dict[str, int]:
        where, params = host_filter_where(filters, None, filters.query)
        rows = await fetch_rows(self._conn, count_mdm_statuses(where), params)
        return {k: int(v) for k, v in rows[0].items()}

    async def munki_versions(self, filters: HostFilter) -> builtins.list[MunkiVersion]:
        where, params = host_filter_where(filters, None, filters.query)
        rows = await fetch_rows(self._conn, count_munki_versions(where), params)
        return [MunkiVersion(version=r["version"], hosts_count=r["hosts_count"]) for r in rows]

    async def munki_issues(self, filters: HostFilter) -> builtins.list[MunkiIssue]:
        where, params = host_filter_where(filters, None, filters.query)
        rows = await fetch_rows(self._conn, count_munki_issues(where), params)
        return [MunkiIssue(id=r["id"], name=r["name"], type=r["issue_type"], hosts_count=r["hosts_count"])
                for r in rows]
