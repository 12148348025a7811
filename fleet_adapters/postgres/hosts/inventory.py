"""Postgres implementation of fleet_core.ports.HostInventoryRepository: the host list and its
counts, one host's details, targeting and search."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, Final, LiteralString

import attrs
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from fleet_adapters.postgres.errors import translated
from fleet_adapters.postgres.hosts.columns import (
    AFTER_TIME,
    AFTER_VALUES,
    HOST_FROM,
    HOST_JOINS,
    HOST_SELECT_LIST,
    ORDER_COLUMNS,
    SEEN,
    SEEN_JOINED,
    SELECT_HOSTS,
    fetch_rows,
    row_to_host,
)
from fleet_adapters.postgres.hosts.filters import (
    MISSING,
    NEW,
    NOT_ONLINE_BOUND,
    OFFLINE,
    SEARCH_MATCHES,
    host_filter_where,
    status_bounds,
    visibility,
)
from fleet_adapters.postgres.labels import SELECT_BUILTIN_LABELS
from fleet_adapters.postgres.paging import order_by, page_params, search_pattern
from fleet_adapters.postgres.software import fetch_vulnerabilities
from fleet_core.model.hosts import (
    Battery,
    DeviceMapping,
    Host,
    HostFilter,
    HostStatus,
    HostStatusCounts,
    HostSummary,
    HostUser,
    Label,
    MDMInfo,
    MunkiInfo,
    Software,
)
from fleet_core.rules.detail_queries import LINUX_PLATFORMS
from fleet_core.rules.host_storage import HOST_ORDER_TYPES, check_order_key, parse_after, search_text, summary_platforms
from fleet_core.rules.paging import Direction, ListOptions
from fleet_core.rules.targets import NO_TEAM, TargetSelection

SELECT_HOST_USERS: Final[LiteralString] = """
    SELECT uid, username, type, groupname, shell FROM host_users
     WHERE host_id = %(host_id)s ORDER BY uid, username COLLATE "C"
"""
SELECT_HOST_SOFTWARE: Final[LiteralString] = """
    SELECT s.id, s.name, s.version, s.source, s.bundle_identifier, s.vendor, s.arch, s.release,
           s.extension_id, s.browser, s.generated_cpe, hs.last_opened_at
      FROM host_software hs JOIN software s ON s.id = hs.software_id
     WHERE hs.host_id = %(host_id)s
     ORDER BY s.name COLLATE "C", s.version COLLATE "C", s.source COLLATE "C"
"""
# hosts_count is the fleet-wide count of the last refresh (software_host_counts), 0 before it.
SELECT_SOFTWARE_BY_ID: Final[LiteralString] = """
    SELECT s.id, s.name, s.version, s.source, s.bundle_identifier, s.vendor, s.arch, s.release,
           s.extension_id, s.browser, s.generated_cpe,
           coalesce((SELECT shc.hosts_count FROM software_host_counts shc
                      WHERE shc.software_id = s.id AND shc.team_id = 0 AND shc.global_stats), 0) AS hosts_count
      FROM software s
     WHERE s.id = %(id)s
"""
SELECT_HOST_EMAILS: Final[LiteralString] = """
    SELECT email, source FROM host_emails WHERE host_id = %(host_id)s
     ORDER BY email COLLATE "C", source COLLATE "C"
"""
SELECT_HOST_MDM: Final[LiteralString] = """
    SELECT enrolled, server_url, installed_from_dep, name FROM host_mdm WHERE host_id = %(host_id)s
"""
SELECT_HOST_MUNKI: Final[LiteralString] = """
    SELECT mi.version,
           COALESCE(array_agg(m.name ORDER BY m.name COLLATE "C") FILTER (WHERE m.issue_type = 'error'),
                    '{}') AS errors,
           COALESCE(array_agg(m.name ORDER BY m.name COLLATE "C") FILTER (WHERE m.issue_type = 'warning'),
                    '{}') AS warnings
      FROM host_munki_info mi
      LEFT JOIN host_munki_issues hmi ON hmi.host_id = mi.host_id
      LEFT JOIN munki_issues m ON m.id = hmi.munki_issue_id
     WHERE mi.host_id = %(host_id)s
     GROUP BY mi.version
"""
SELECT_HOST_BATTERIES: Final[LiteralString] = """
    SELECT cycle_count, health FROM host_batteries WHERE host_id = %(host_id)s ORDER BY position
"""
SELECT_HOST_LABELS: Final[LiteralString] = """
    SELECT l.id, l.name, l.description, l.query, l.platform, l.label_type, l.label_membership_type,
           l.created_at, l.updated_at, l.team_id
      FROM label_membership lm JOIN labels l ON l.id = lm.label_id
     WHERE lm.host_id = %(host_id)s
     ORDER BY l.id
"""

# Fleet's HostIDsInTargets in one statement: the selected labels are classified by the labels
# table (ids naming no label drop out), then each host is tested against the groups.
TARGET_GROUPS: Final[LiteralString] = """
    WITH chosen AS (
        SELECT l.id, l.label_type = 'builtin' AS builtin, l.label_type = 'builtin' AND l.name = 'All Hosts' AS all_hosts
          FROM labels l WHERE l.id = ANY(%(label_ids)s::bigint[])
    ), groups AS (
        SELECT COALESCE(bool_or(all_hosts), false) AS all_hosts,
               COALESCE(bool_or(NOT builtin), false) AS custom,
               COALESCE(bool_or(builtin), false) AS builtin
          FROM chosen
    )
"""
# Whether host h (with g from groups) is targeted.
TARGETED: Final[LiteralString] = """
           (h.id = ANY(%(host_ids)s::bigint[])
            OR g.all_hosts
            OR ((g.custom OR g.builtin OR %(any_team)s)
                AND (NOT g.custom OR EXISTS (SELECT 1 FROM label_membership lm JOIN chosen c ON c.id = lm.label_id
                                              WHERE lm.host_id = h.id AND NOT c.builtin))
                AND (NOT g.builtin OR EXISTS (SELECT 1 FROM label_membership lm JOIN chosen c ON c.id = lm.label_id
                                               WHERE lm.host_id = h.id AND c.builtin))
                AND (NOT %(any_team)s OR h.team_id = ANY(%(team_ids)s::bigint[])
                     OR (%(no_team)s AND h.team_id IS NULL))))
       AND (%(all_teams)s OR h.team_id = ANY(%(visible_team_ids)s::bigint[]))
"""
TARGET_HOST_IDS: Final[LiteralString] = (
    TARGET_GROUPS + " SELECT h.id FROM hosts h CROSS JOIN groups g WHERE " + TARGETED + " ORDER BY h.id"  # noqa: S608
)
# The total needs no seen time; offline and missing hosts are counted among those seen before
# online_after only (read from host_seen_times_seen_order_idx), and online = total - offline.
COUNT_TARGETS_BY_STATUS: Final[LiteralString] = TARGET_GROUPS + """
    SELECT targeted.total, not_online.offline, not_online.missing
      FROM (SELECT count(*) AS total FROM hosts h CROSS JOIN groups g WHERE """ + TARGETED + """) AS targeted,
           (SELECT count(*) FILTER (WHERE """ + OFFLINE + """) AS offline,
                   count(*) FILTER (WHERE """ + MISSING + """) AS missing
              FROM hosts h CROSS JOIN groups g JOIN host_seen_times hst ON hst.host_id = h.id
             WHERE """ + NOT_ONLINE_BOUND + " AND " + TARGETED + """) AS not_online
"""  # noqa: S608 - fixed fragments only


def target_params(selection: TargetSelection, visible_team_ids: frozenset[int] | None) -> dict[str, Any]:
    teams = sorted(selection.team_ids)
    return {
        "host_ids": sorted(selection.host_ids), "label_ids": sorted(selection.label_ids),
        "any_team": bool(teams), "team_ids": teams, "no_team": NO_TEAM in selection.team_ids,
        **visibility(visible_team_ids),
    }


SEARCH_HOSTS_BY_TEXT: Final[LiteralString] = SELECT_HOSTS + """
     WHERE NOT h.id = ANY(%(excluded_ids)s::bigint[])
       AND (%(all_teams)s OR h.team_id = ANY(%(visible_team_ids)s::bigint[]))
       AND h.id IN (""" + SEARCH_MATCHES + """)
     ORDER BY h.id LIMIT %(limit)s
"""
# Read in order from host_seen_times_seen_order_idx (seen_time is never NULL, so NULLS LAST
# changes nothing but lets the index serve the order).
SEARCH_RECENT_HOSTS: Final[LiteralString] = SELECT_HOSTS + """
     WHERE NOT h.id = ANY(%(excluded_ids)s::bigint[])
       AND (%(all_teams)s OR h.team_id = ANY(%(visible_team_ids)s::bigint[]))
       AND """ + SEEN_JOINED + """
     ORDER BY """ + SEEN + """ DESC NULLS LAST, h.id LIMIT %(limit)s
"""


# The statements below take a WHERE condition from filters.host_filter_where.

COUNT_HOSTS_BY_LABEL: Final[LiteralString] = """
    SELECT lm.label_id, count(*) AS n FROM label_membership lm
     WHERE lm.label_id = ANY(%(label_ids)s::bigint[])
       AND (%(all_teams)s OR EXISTS (SELECT 1 FROM hosts h WHERE h.id = lm.host_id
                                       AND h.team_id = ANY(%(visible_team_ids)s::bigint[])))
     GROUP BY lm.label_id
"""


def select_host_page(where: LiteralString, order: LiteralString) -> LiteralString:
    # A deferred join: the page's ids are found, sorted and cut from narrow rows (Postgres drops
    # the joins that neither the filter nor the order key uses), and only those hosts are read
    # whole. Sorting whole joined rows made every ordered page of 100,000 hosts cost ~3x more
    # (docs/performance.md, "Management API at 100,000 hosts").
    return """
    SELECT """ + HOST_SELECT_LIST + """
      FROM (SELECT h.id""" + HOST_FROM + " WHERE " + where + " " + order + """
             LIMIT %(limit)s OFFSET %(offset)s) AS page
      JOIN hosts h ON h.id = page.id""" + HOST_JOINS + order  # noqa: S608 - fixed fragments only


def count_hosts(where: LiteralString) -> LiteralString:
    return "SELECT count(*) AS n" + HOST_FROM + " WHERE " + where


def count_online_hosts(where: LiteralString) -> LiteralString:
    # Every host is online or offline (each has its host_seen_times row).
    return ("SELECT (" + count_hosts(where) + ") - (SELECT count(*)" + HOST_FROM + " WHERE " + where
            + " AND " + OFFLINE + ") AS n")


def select_host_ids(where: LiteralString) -> LiteralString:
    return "SELECT h.id" + HOST_FROM + " WHERE " + where + " ORDER BY h.id"


def summarize_hosts(where: LiteralString) -> LiteralString:
    # The platform alone (the Linux total is summed from it), so that the whole fleet is counted
    # from hosts_platform_idx rather than from the wide rows.
    return """
    SELECT h.platform, count(*) AS total""" + HOST_FROM + """
     WHERE """ + where + """
     GROUP BY h.platform ORDER BY h.platform COLLATE "C"
"""


def count_statuses(where: LiteralString) -> LiteralString:
    # The new hosts from hosts_created_at_idx; only the hosts seen before online_after can be
    # offline or missing (filters.NOT_ONLINE_BOUND): a range of host_seen_times_seen_order_idx.
    return """
    SELECT (SELECT count(*)""" + HOST_FROM + " WHERE " + where + " AND " + NEW + """) AS new,
           count(*) FILTER (WHERE """ + OFFLINE + """) AS offline,
           count(*) FILTER (WHERE """ + MISSING + """) AS missing""" + HOST_FROM + """
     WHERE """ + where + " AND " + NOT_ONLINE_BOUND


class PgHostInventoryRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def list(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                   after: str | None = None) -> builtins.list[Host]:
        query, params = self.list_statement(filters, options, now=now, after=after)
        return [row_to_host(r) for r in await self._rows(query, params)]

    def list_statement(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                       after: str | None = None) -> tuple[LiteralString, dict[str, Any]]:
        """The statement list() runs and its parameters (the host listing streams it too)."""
        check_order_key(options)
        where, params = host_filter_where(filters, now, search_text(filters, options))
        if after is not None and options.order_key is not None:
            key = options.order_key
            kind = HOST_ORDER_TYPES[key]
            operator: LiteralString = " < " if options.order_direction is Direction.DESC else " > "
            where += " AND " + ORDER_COLUMNS[key] + operator + AFTER_VALUES.get(kind, AFTER_TIME)
            params["after"] = parse_after(key, after)
        if options.order_key == "seen_time":
            where += " AND " + SEEN_JOINED
        query = select_host_page(where, order_by(options, ORDER_COLUMNS, id_column="h.id"))
        return query, {**params, **page_params(options)}

    async def count(self, filters: HostFilter, *, now: dt.datetime) -> int:
        if filters.status is HostStatus.ONLINE:
            # Most hosts are online: count the others (a range of host_seen_times_seen_order_idx)
            # and subtract, rather than test every host's interval.
            where, params = host_filter_where(attrs.evolve(filters, status=None), now, filters.query)
            params.update(status_bounds(now))
            rows = await self._rows(count_online_hosts(where), params)
        else:
            where, params = host_filter_where(filters, now, filters.query)
            rows = await self._rows(count_hosts(where), params)
        return int(rows[0]["n"])

    async def count_by_label(self, label_ids: Collection[int], *,
                             visible_team_ids: frozenset[int] | None) -> dict[int, int]:
        # One pass over the memberships' primary key (an index-only scan for a global viewer)
        # instead of one count per label.
        rows = await self._rows(COUNT_HOSTS_BY_LABEL, {"label_ids": sorted(label_ids), **visibility(visible_team_ids)})
        counts = {r["label_id"]: int(r["n"]) for r in rows}
        return {label_id: counts.get(label_id, 0) for label_id in label_ids}

    async def ids(self, filters: HostFilter, *, now: dt.datetime) -> builtins.list[int]:
        where, params = host_filter_where(filters, now, filters.query)
        rows = await self._rows(select_host_ids(where), params)
        return [r["id"] for r in rows]

    async def summary(self, filters: HostFilter, *, platform: str | None, now: dt.datetime) -> HostSummary:
        where, params = host_filter_where(filters, now, filters.query)
        platforms = summary_platforms(platform)
        if platforms is not None:
            where += " AND h.platform = ANY(%(platforms)s::text[])"
            params["platforms"] = sorted(platforms)
        params.update(status_bounds(now))
        # The hosts per platform (summed here), then the new, offline and missing ones.
        by_platform = await self._rows(summarize_hosts(where), params)
        total = sum(r["total"] for r in by_platform)
        [statuses] = await self._rows(count_statuses(where), params)
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(SELECT_BUILTIN_LABELS)
                labels = [Label(**r) for r in await cur.fetchall()]
        return HostSummary(
            team_id=filters.team_id,
            totals_hosts_count=total,
            online_count=total - statuses["offline"],
            offline_count=statuses["offline"],
            mia_count=statuses["missing"],
            missing_30_days_count=statuses["missing"],
            new_count=statuses["new"],
            all_linux_count=sum(r["total"] for r in by_platform if r["platform"] in LINUX_PLATFORMS),
            platforms=tuple((r["platform"], r["total"]) for r in by_platform),
            builtin_labels=tuple(labels),
        )

    async def users(self, host_id: int) -> builtins.list[HostUser]:
        return [HostUser(**r) for r in await self._rows(SELECT_HOST_USERS, {"host_id": host_id})]

    async def software(self, host_id: int) -> builtins.list[Software]:
        rows = await self._rows(SELECT_HOST_SOFTWARE, {"host_id": host_id})
        with translated():
            vulnerabilities = await fetch_vulnerabilities(self._conn, [r["id"] for r in rows])
        return [Software(**r, vulnerabilities=vulnerabilities.get(r["id"], ())) for r in rows]

    async def software_by_id(self, software_id: int) -> Software | None:
        rows = await self._rows(SELECT_SOFTWARE_BY_ID, {"id": software_id})
        if not rows:
            return None
        with translated():
            vulnerabilities = await fetch_vulnerabilities(self._conn, [software_id])
        return Software(**rows[0], vulnerabilities=vulnerabilities.get(software_id, ()))

    async def device_mapping(self, host_id: int) -> builtins.list[DeviceMapping]:
        return [DeviceMapping(**r) for r in await self._rows(SELECT_HOST_EMAILS, {"host_id": host_id})]

    async def mdm(self, host_id: int) -> MDMInfo | None:
        rows = await self._rows(SELECT_HOST_MDM, {"host_id": host_id})
        return MDMInfo(**rows[0]) if rows else None

    async def munki(self, host_id: int) -> MunkiInfo | None:
        rows = await self._rows(SELECT_HOST_MUNKI, {"host_id": host_id})
        if not rows:
            return None
        return MunkiInfo(version=rows[0]["version"], errors=tuple(rows[0]["errors"]),
                         warnings=tuple(rows[0]["warnings"]))

    async def batteries(self, host_id: int) -> builtins.list[Battery]:
        return [Battery(**r) for r in await self._rows(SELECT_HOST_BATTERIES, {"host_id": host_id})]

    async def labels(self, host_id: int) -> builtins.list[Label]:
        return [Label(**r) for r in await self._rows(SELECT_HOST_LABELS, {"host_id": host_id})]

    async def target_host_ids(self, selection: TargetSelection, *,
                              visible_team_ids: frozenset[int] | None) -> builtins.list[int]:
        return [r["id"] for r in await self._rows(TARGET_HOST_IDS, target_params(selection, visible_team_ids))]

    async def target_status_counts(self, selection: TargetSelection, *, visible_team_ids: frozenset[int] | None,
                                   now: dt.datetime) -> HostStatusCounts:
        # Counted in Postgres: the targeted ids never travel (100,000 of them did, both ways).
        params = {**target_params(selection, visible_team_ids), **status_bounds(now)}
        row = (await self._rows(COUNT_TARGETS_BY_STATUS, params))[0]
        return HostStatusCounts(total=row["total"], online=row["total"] - row["offline"], missing=row["missing"])

    async def search(self, text: str, *, excluded_ids: frozenset[int], limit: int,
                     visible_team_ids: frozenset[int] | None) -> builtins.list[Host]:
        params: dict[str, Any] = {"excluded_ids": sorted(excluded_ids), "limit": max(limit, 0),
                                  **visibility(visible_team_ids)}
        if text:
            params["pattern"] = search_pattern(text)
            query = SEARCH_HOSTS_BY_TEXT
        else:
            query = SEARCH_RECENT_HOSTS
        return [row_to_host(r) for r in await self._rows(query, params)]

    async def _rows(self, query: LiteralString, params: Mapping[str, Any]) -> builtins.list[dict[str, Any]]:
        return await fetch_rows(self._conn, query, params)
