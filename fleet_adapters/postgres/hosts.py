"""Postgres implementation of fleet_core.ports.HostRepository.

Check-ins go to host_seen_times (one upsert for many hosts) and the effective seen time is
GREATEST(hosts.seen_time, host_seen_times.seen_time). Status filters compare it with bounds
computed in Python from fleet_core.rules.hosts, so SQL and the rules share their constants.
The host-list rules shared with the in-memory adapter live in fleet_adapters.memory.hosts.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.labels import SELECT_BUILTIN_LABELS
from fleet_adapters.postgres.memberships import fetch_one
from fleet_adapters.postgres.paging import order_by, page_params, search_pattern
from fleet_core.errors import InvalidArgument, NotFound
from fleet_core.model.hosts import (
    HOST_VITAL_FIELDS,
    Battery,
    DeviceMapping,
    Host,
    HostFacts,
    HostFilter,
    HostStatus,
    HostSummary,
    HostUser,
    Label,
    MDMInfo,
    MunkiInfo,
    OSVersion,
    Software,
    SoftwareItem,
)
from fleet_core.rules.detail_queries import LINUX_PLATFORMS
from fleet_core.rules.host_storage import (
    FLOAT,
    HOST_ORDER_TYPES,
    INT,
    MDM_ENROLLMENT_STATUSES,
    TEXT,
    check_fields,
    check_order_key,
    looks_like_email,
    normalized_munki,
    os_key,
    parse_after,
    search_text,
    summary_platforms,
    unique_mappings,
    unique_users,
)
from fleet_core.rules.hosts import MISSING_AFTER, NEW_FOR, ONLINE_BUFFER
from fleet_core.rules.ordering import HOST_ORDER_KEYS
from fleet_core.rules.paging import Direction, ListOptions
from fleet_core.rules.targets import NO_TEAM, TargetSelection

# Column names double as parameter names; only these names ever reach the SQL text.
VITAL_COLUMNS: Final[tuple[LiteralString, ...]] = (
    "hostname", "uuid", "platform", "platform_like", "osquery_version", "os_version", "build", "code_name",
    "uptime_seconds", "last_restarted_at", "memory", "cpu_type", "cpu_subtype", "cpu_brand",
    "cpu_physical_cores", "cpu_logical_cores", "hardware_vendor", "hardware_model", "hardware_version",
    "hardware_serial", "computer_name", "public_ip", "primary_ip", "primary_mac", "distributed_interval",
    "config_tls_refresh", "logger_tls_period", "gigs_disk_space_available", "percent_disk_space_available",
    "gigs_total_disk_space", "additional",
)
VITAL: Final[Mapping[str, LiteralString]] = {c: c for c in VITAL_COLUMNS}
assert VITAL.keys() == HOST_VITAL_FIELDS, "model.HOST_VITAL_FIELDS changed; add the column"

SEEN: Final[LiteralString] = "GREATEST(h.seen_time, hst.seen_time)"
CHECKIN_INTERVAL: Final[LiteralString] = (
    "(GREATEST(0, LEAST(h.distributed_interval, h.config_tls_refresh)) * interval '1 second')"
)
ONLINE: Final[LiteralString] = SEEN + " + " + CHECKIN_INTERVAL + " > %(online_after)s"
OFFLINE: Final[LiteralString] = SEEN + " + " + CHECKIN_INTERVAL + " <= %(online_after)s"
MISSING: Final[LiteralString] = SEEN + " <= %(missing_before)s"
NEW: Final[LiteralString] = "h.created_at >= %(new_after)s"

HOST_SELECT_LIST: Final[LiteralString] = """
    h.id, h.osquery_host_id, h.team_id, h.created_at, h.updated_at, h.last_enrolled_at,
    GREATEST(h.seen_time, hst.seen_time) AS seen_time, h.detail_updated_at, h.label_updated_at,
    h.policy_updated_at, h.refetch_requested, t.name AS team_name, h.hostname, h.uuid, h.platform,
    h.platform_like, h.osquery_version, h.os_version, h.build, h.code_name, h.uptime_seconds,
    h.last_restarted_at, h.memory, h.cpu_type, h.cpu_subtype, h.cpu_brand, h.cpu_physical_cores,
    h.cpu_logical_cores, h.hardware_vendor, h.hardware_model, h.hardware_version, h.hardware_serial,
    h.computer_name, h.public_ip, h.primary_ip, h.primary_mac, h.distributed_interval,
    h.config_tls_refresh, h.logger_tls_period, h.gigs_disk_space_available,
    h.percent_disk_space_available, h.gigs_total_disk_space, h.additional
"""
HOST_JOINS: Final[LiteralString] = """
    LEFT JOIN teams t ON t.id = h.team_id
    LEFT JOIN host_seen_times hst ON hst.host_id = h.id
"""
HOST_FROM: Final[LiteralString] = " FROM hosts h " + HOST_JOINS
SELECT_HOSTS: Final[LiteralString] = "SELECT " + HOST_SELECT_LIST + HOST_FROM

SELECT_HOST_BY_ID: Final[LiteralString] = SELECT_HOSTS + " WHERE h.id = %(id)s"
SELECT_HOST_BY_NODE_KEY: Final[LiteralString] = SELECT_HOSTS + " WHERE h.node_key_hash = %(node_key_hash)s"
SELECT_HOST_BY_OSQUERY_HOST_ID: Final[LiteralString] = (
    SELECT_HOSTS + " WHERE h.osquery_host_id = %(osquery_host_id)s"
)
# Each arm can use its own index (BitmapOr); a blank identifier only ever matches the node key.
SELECT_HOST_BY_IDENTIFIER: Final[LiteralString] = SELECT_HOSTS + """
     WHERE (%(identifier)s <> '' AND (h.uuid = %(identifier)s OR h.osquery_host_id = %(identifier)s
                                      OR h.hostname = %(identifier)s OR h.hardware_serial = %(identifier)s))
        OR h.node_key_hash = %(node_key_hash)s
     ORDER BY h.id
     LIMIT 1
"""

# The upsert keeps one row per osquery_host_id even when two agents enroll at once: the second
# waits on the unique index, then updates. xmax = 0 tells a fresh insert from an update.
ENROLL_HEAD: Final[LiteralString] = """
    WITH upserted AS (
        INSERT INTO hosts AS h (osquery_host_id, node_key_hash, team_id, created_at, updated_at,
                                last_enrolled_at, seen_time, refetch_requested
"""
ENROLL_VALUES: Final[LiteralString] = """)
        VALUES (%(osquery_host_id)s, %(node_key_hash)s, %(team_id)s, %(at)s, %(at)s, %(at)s, %(at)s, true
"""
ENROLL_CONFLICT: Final[LiteralString] = """)
        ON CONFLICT (osquery_host_id) DO UPDATE
           SET node_key_hash = EXCLUDED.node_key_hash, team_id = EXCLUDED.team_id,
               updated_at = EXCLUDED.updated_at, last_enrolled_at = EXCLUDED.last_enrolled_at,
               seen_time = GREATEST(h.seen_time, EXCLUDED.seen_time)
"""
ENROLL_SIDE_EFFECTS: Final[LiteralString] = """
        RETURNING h.*, (h.xmax = 0) AS created
    ), all_hosts AS (
        INSERT INTO label_membership (label_id, host_id, updated_at)
        SELECT l.id, u.id, %(at)s
          FROM upserted u
          JOIN labels l ON l.name = 'All Hosts' AND l.label_type = 'builtin'
        ON CONFLICT (label_id, host_id) DO NOTHING
    ), dropped_policies AS (
        DELETE FROM policy_membership pm USING upserted u WHERE pm.host_id = u.id AND NOT u.created
    )
"""
SELECT_CREATED: Final[LiteralString] = "SELECT h.created, "
FROM_UPSERTED: Final[LiteralString] = " FROM upserted h "
ENROLL_TAIL: Final[LiteralString] = ENROLL_SIDE_EFFECTS + SELECT_CREATED + HOST_SELECT_LIST + FROM_UPSERTED + HOST_JOINS

# Get-or-create without calling nextval when the row exists, so ids are not burnt on every
# host update (and stay dense like the in-memory adapter's).
GET_OR_CREATE_OS: Final[LiteralString] = """
    WITH found AS (
        SELECT id FROM operating_systems
         WHERE name = %(name)s AND version = %(version)s AND platform = %(platform)s
    ), created AS (
        INSERT INTO operating_systems (name, version, platform)
        SELECT %(name)s, %(version)s, %(platform)s WHERE NOT EXISTS (SELECT 1 FROM found)
        ON CONFLICT (name, version, platform) DO NOTHING
        RETURNING id
    )
    SELECT id FROM found UNION ALL SELECT id FROM created
"""
SET_HOST_OS: Final[LiteralString] = """
    UPDATE hosts SET os_id = %(os_id)s WHERE id = %(host_id)s AND os_id IS DISTINCT FROM %(os_id)s
"""
GET_OR_CREATE_MDM_SOLUTION: Final[LiteralString] = """
    WITH found AS (
        SELECT id FROM mdm_solutions WHERE name = %(name)s AND server_url = %(server_url)s
    ), created AS (
        INSERT INTO mdm_solutions (name, server_url)
        SELECT %(name)s, %(server_url)s WHERE NOT EXISTS (SELECT 1 FROM found)
        ON CONFLICT (name, server_url) DO NOTHING
        RETURNING id
    )
    SELECT id FROM found UNION ALL SELECT id FROM created
"""

UPDATE_HOST_HEAD: Final[LiteralString] = "UPDATE hosts h SET updated_at = %(at)s"
UPDATE_HOST_TAIL: Final[LiteralString] = " WHERE h.id = %(host_id)s RETURNING h.os_version, h.platform"

DELETE_HOST_USERS: Final[LiteralString] = "DELETE FROM host_users WHERE host_id = %(host_id)s"
INSERT_HOST_USERS: Final[LiteralString] = """
    INSERT INTO host_users (host_id, uid, username, type, groupname, shell)
    SELECT %(host_id)s, x.uid, x.username, x.type, x.groupname, x.shell
      FROM unnest(%(uids)s::bigint[], %(usernames)s::text[], %(types)s::text[], %(groupnames)s::text[],
                  %(shells)s::text[]) AS x(uid, username, type, groupname, shell)
"""
SELECT_HOST_USERS: Final[LiteralString] = """
    SELECT uid, username, type, groupname, shell FROM host_users
     WHERE host_id = %(host_id)s ORDER BY uid, username COLLATE "C"
"""

# The first report of a (name, version, source) fixes its other attributes, as in memory.
INSERT_SOFTWARE: Final[LiteralString] = """
    INSERT INTO software (name, version, source, bundle_identifier, vendor, arch, release)
    SELECT DISTINCT ON (x.name, x.version, x.source)
           x.name, x.version, x.source, x.bundle_identifier, x.vendor, x.arch, x.release
      FROM unnest(%(names)s::text[], %(versions)s::text[], %(sources)s::text[], %(bundles)s::text[],
                  %(vendors)s::text[], %(archs)s::text[], %(releases)s::text[])
           WITH ORDINALITY AS x(name, version, source, bundle_identifier, vendor, arch, release, ord)
     WHERE NOT EXISTS (SELECT 1 FROM software s
                        WHERE s.name = x.name AND s.version = x.version AND s.source = x.source)
     ORDER BY x.name, x.version, x.source, x.ord
    ON CONFLICT (name, version, source) DO NOTHING
"""
# Rows that did not change are left alone, so a steady inventory writes nothing.
REPLACE_HOST_SOFTWARE: Final[LiteralString] = """
    WITH reported AS (
        SELECT s.id AS software_id, max(x.last_opened_at) AS last_opened_at
          FROM unnest(%(names)s::text[], %(versions)s::text[], %(sources)s::text[],
                      %(opened)s::timestamptz[]) AS x(name, version, source, last_opened_at)
          JOIN software s ON s.name = x.name AND s.version = x.version AND s.source = x.source
         GROUP BY s.id
    ), removed AS (
        DELETE FROM host_software hs
         WHERE hs.host_id = %(host_id)s
           AND NOT EXISTS (SELECT 1 FROM reported r WHERE r.software_id = hs.software_id)
    )
    INSERT INTO host_software AS hs (host_id, software_id, last_opened_at)
    SELECT %(host_id)s, r.software_id, r.last_opened_at FROM reported r ORDER BY r.software_id
    ON CONFLICT (host_id, software_id) DO UPDATE SET last_opened_at = EXCLUDED.last_opened_at
     WHERE hs.last_opened_at IS DISTINCT FROM EXCLUDED.last_opened_at
"""
SELECT_HOST_SOFTWARE: Final[LiteralString] = """
    SELECT s.id, s.name, s.version, s.source, s.bundle_identifier, s.vendor, s.arch, s.release,
           hs.last_opened_at
      FROM host_software hs JOIN software s ON s.id = hs.software_id
     WHERE hs.host_id = %(host_id)s
     ORDER BY s.name COLLATE "C", s.version COLLATE "C", s.source COLLATE "C"
"""

SELECT_SOFTWARE_BY_ID: Final[LiteralString] = """
    SELECT s.id, s.name, s.version, s.source, s.bundle_identifier, s.vendor, s.arch, s.release,
           (SELECT count(*) FROM host_software hs WHERE hs.software_id = s.id) AS hosts_count
      FROM software s
     WHERE s.id = %(id)s
"""

DELETE_HOST_EMAILS: Final[LiteralString] = "DELETE FROM host_emails WHERE host_id = %(host_id)s"
INSERT_HOST_EMAILS: Final[LiteralString] = """
    INSERT INTO host_emails (host_id, email, source)
    SELECT %(host_id)s, x.email, x.source FROM unnest(%(emails)s::text[], %(sources)s::text[]) AS x(email, source)
"""
SELECT_HOST_EMAILS: Final[LiteralString] = """
    SELECT email, source FROM host_emails WHERE host_id = %(host_id)s
     ORDER BY email COLLATE "C", source COLLATE "C"
"""

UPSERT_HOST_MDM: Final[LiteralString] = """
    INSERT INTO host_mdm (host_id, enrolled, server_url, installed_from_dep, name, mdm_id)
    VALUES (%(host_id)s, %(enrolled)s, %(server_url)s, %(installed_from_dep)s, %(name)s, %(mdm_id)s)
    ON CONFLICT (host_id) DO UPDATE
       SET enrolled = EXCLUDED.enrolled, server_url = EXCLUDED.server_url,
           installed_from_dep = EXCLUDED.installed_from_dep, name = EXCLUDED.name, mdm_id = EXCLUDED.mdm_id
"""
SELECT_HOST_MDM: Final[LiteralString] = """
    SELECT enrolled, server_url, installed_from_dep, name FROM host_mdm WHERE host_id = %(host_id)s
"""

UPSERT_HOST_MUNKI: Final[LiteralString] = """
    INSERT INTO host_munki_info (host_id, version) VALUES (%(host_id)s, %(version)s)
    ON CONFLICT (host_id) DO UPDATE SET version = EXCLUDED.version
"""
INSERT_MUNKI_ISSUES: Final[LiteralString] = """
    INSERT INTO munki_issues (name, issue_type)
    SELECT x.name, x.issue_type
      FROM unnest(%(names)s::text[], %(types)s::text[]) WITH ORDINALITY AS x(name, issue_type, ord)
     WHERE NOT EXISTS (SELECT 1 FROM munki_issues m WHERE m.name = x.name AND m.issue_type = x.issue_type)
     ORDER BY x.ord
    ON CONFLICT (name, issue_type) DO NOTHING
"""
REPLACE_HOST_MUNKI_ISSUES: Final[LiteralString] = """
    WITH reported AS (
        SELECT m.id FROM unnest(%(names)s::text[], %(types)s::text[]) AS x(name, issue_type)
          JOIN munki_issues m ON m.name = x.name AND m.issue_type = x.issue_type
    ), removed AS (
        DELETE FROM host_munki_issues hmi
         WHERE hmi.host_id = %(host_id)s AND NOT EXISTS (SELECT 1 FROM reported r WHERE r.id = hmi.munki_issue_id)
    )
    INSERT INTO host_munki_issues (host_id, munki_issue_id)
    SELECT %(host_id)s, r.id FROM reported r ORDER BY r.id
    ON CONFLICT (host_id, munki_issue_id) DO NOTHING
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

DELETE_HOST_BATTERIES: Final[LiteralString] = "DELETE FROM host_batteries WHERE host_id = %(host_id)s"
INSERT_HOST_BATTERIES: Final[LiteralString] = """
    INSERT INTO host_batteries (host_id, position, cycle_count, health)
    SELECT %(host_id)s, x.position, x.cycle_count, x.health
      FROM unnest(%(cycle_counts)s::bigint[], %(healths)s::text[]) WITH ORDINALITY AS x(cycle_count, health, position)
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

# One statement for a whole batch of check-ins. Sorted ids make concurrent flushes take row
# locks in the same order (no deadlocks); unknown hosts are skipped; an older time writes nothing.
MARK_SEEN: Final[LiteralString] = """
    INSERT INTO host_seen_times AS s (host_id, seen_time)
    SELECT x.host_id, x.seen_time
      FROM unnest(%(host_ids)s::bigint[], %(seen_times)s::timestamptz[]) AS x(host_id, seen_time)
     WHERE EXISTS (SELECT 1 FROM hosts h WHERE h.id = x.host_id)
     ORDER BY x.host_id
    ON CONFLICT (host_id) DO UPDATE SET seen_time = EXCLUDED.seen_time
     WHERE s.seen_time < EXCLUDED.seen_time
"""

REQUEST_REFETCH: Final[LiteralString] = """
    WITH locked AS (SELECT id FROM hosts WHERE id = ANY(%(host_ids)s::bigint[]) ORDER BY id FOR UPDATE)
    UPDATE hosts h SET refetch_requested = true FROM locked l WHERE h.id = l.id
"""
SELECT_TEAM_EXISTS: Final[LiteralString] = "SELECT 1 FROM teams WHERE id = %(team_id)s"
TRANSFER_HOSTS: Final[LiteralString] = """
    WITH locked AS (SELECT id FROM hosts WHERE id = ANY(%(host_ids)s::bigint[]) ORDER BY id FOR UPDATE),
    moved AS (UPDATE hosts h SET team_id = %(team_id)s, policy_updated_at = '1970-01-02 00:00:00+00'
                FROM locked l WHERE h.id = l.id RETURNING h.id),
    dropped AS (DELETE FROM policy_membership pm USING moved m, policies p
                 WHERE pm.host_id = m.id AND p.id = pm.policy_id AND p.team_id IS NOT NULL)
    SELECT id FROM moved ORDER BY id
"""
# host_seen_times has no foreign key (see 0002_hosts.sql); everything else cascades.
DELETE_HOSTS: Final[LiteralString] = """
    WITH locked AS (SELECT id FROM hosts WHERE id = ANY(%(host_ids)s::bigint[]) ORDER BY id FOR UPDATE),
    seen AS (DELETE FROM host_seen_times s USING locked l WHERE s.host_id = l.id),
    gone AS (DELETE FROM hosts h USING locked l WHERE h.id = l.id RETURNING h.id)
    SELECT id FROM gone ORDER BY id
"""
SELECT_SEEN_BEFORE: Final[LiteralString] = """
    SELECT h.id FROM hosts h LEFT JOIN host_seen_times hst ON hst.host_id = h.id
     WHERE GREATEST(h.seen_time, hst.seen_time) < %(cutoff)s
     ORDER BY h.id
"""

# Fleet's HostIDsInTargets in one statement: the selected labels are classified by the labels
# table (ids naming no label drop out), then each host is tested against the groups.
TARGET_HOST_IDS: Final[LiteralString] = """
    WITH chosen AS (
        SELECT l.id, l.label_type = 'builtin' AS builtin, l.label_type = 'builtin' AND l.name = 'All Hosts' AS all_hosts
          FROM labels l WHERE l.id = ANY(%(label_ids)s::bigint[])
    ), groups AS (
        SELECT COALESCE(bool_or(all_hosts), false) AS all_hosts,
               COALESCE(bool_or(NOT builtin), false) AS custom,
               COALESCE(bool_or(builtin), false) AS builtin
          FROM chosen
    )
    SELECT h.id FROM hosts h CROSS JOIN groups g
     WHERE (h.id = ANY(%(host_ids)s::bigint[])
            OR g.all_hosts
            OR ((g.custom OR g.builtin OR %(any_team)s)
                AND (NOT g.custom OR EXISTS (SELECT 1 FROM label_membership lm JOIN chosen c ON c.id = lm.label_id
                                              WHERE lm.host_id = h.id AND NOT c.builtin))
                AND (NOT g.builtin OR EXISTS (SELECT 1 FROM label_membership lm JOIN chosen c ON c.id = lm.label_id
                                               WHERE lm.host_id = h.id AND c.builtin))
                AND (NOT %(any_team)s OR h.team_id = ANY(%(team_ids)s::bigint[])
                     OR (%(no_team)s AND h.team_id IS NULL))))
       AND (%(all_teams)s OR h.team_id = ANY(%(visible_team_ids)s::bigint[]))
     ORDER BY h.id
"""
SEARCH_HEAD: Final[LiteralString] = SELECT_HOSTS + """
     WHERE NOT h.id = ANY(%(excluded_ids)s::bigint[])
       AND (%(all_teams)s OR h.team_id = ANY(%(visible_team_ids)s::bigint[]))
"""
SEARCH_TEXT: Final[LiteralString] = """
       AND (lower(h.hostname) LIKE lower(%(pattern)s) OR lower(h.computer_name) LIKE lower(%(pattern)s)
            OR lower(h.uuid) LIKE lower(%(pattern)s) OR lower(h.hardware_serial) LIKE lower(%(pattern)s)
            OR lower(h.primary_ip) LIKE lower(%(pattern)s))
     ORDER BY h.id LIMIT %(limit)s
"""
SEARCH_RECENT: Final[LiteralString] = " ORDER BY " + SEEN + " DESC, h.id LIMIT %(limit)s"

SUMMARY_HEAD: Final[LiteralString] = (
    "SELECT count(*) AS total, count(*) FILTER (WHERE " + ONLINE + ") AS online, count(*) FILTER (WHERE "
    + MISSING + ") AS missing, count(*) FILTER (WHERE " + NEW + ") AS new, "
    "count(*) FILTER (WHERE h.platform = ANY(%(linux)s::text[])) AS all_linux" + HOST_FROM
)
PLATFORMS_HEAD: Final[LiteralString] = "SELECT h.platform, count(*) AS hosts_count" + HOST_FROM
PLATFORMS_TAIL: Final[LiteralString] = " GROUP BY h.platform ORDER BY h.platform COLLATE \"C\""
OS_VERSIONS_HEAD: Final[LiteralString] = (
    "SELECT o.id, o.name, o.version, o.platform, count(*) AS hosts_count" + HOST_FROM
    + " JOIN operating_systems o ON o.id = h.os_id"
)
OS_VERSIONS_TAIL: Final[LiteralString] = " GROUP BY o.id ORDER BY o.id"
MDM_SOLUTIONS_HEAD: Final[LiteralString] = (
    "SELECT ms.id, ms.name, ms.server_url, count(*) AS hosts_count" + HOST_FROM
    + " JOIN host_mdm hm ON hm.host_id = h.id JOIN mdm_solutions ms ON ms.id = hm.mdm_id"
)
MDM_SOLUTIONS_TAIL: Final[LiteralString] = " AND hm.enrolled GROUP BY ms.id ORDER BY ms.id"
MDM_STATUS_HEAD: Final[LiteralString] = """
    SELECT count(*) FILTER (WHERE hm.enrolled AND NOT hm.installed_from_dep) AS enrolled_manual_hosts_count,
           count(*) FILTER (WHERE hm.enrolled AND hm.installed_from_dep) AS enrolled_automated_hosts_count,
           count(*) FILTER (WHERE NOT hm.enrolled) AS unenrolled_hosts_count,
           count(*) AS hosts_count""" + HOST_FROM + " JOIN host_mdm hm ON hm.host_id = h.id"
MUNKI_VERSIONS_HEAD: Final[LiteralString] = (
    "SELECT mi.version, count(*) AS hosts_count" + HOST_FROM + " JOIN host_munki_info mi ON mi.host_id = h.id"
)
MUNKI_VERSIONS_TAIL: Final[LiteralString] = (
    " GROUP BY mi.version ORDER BY count(*) DESC, mi.version COLLATE \"C\""
)
MUNKI_ISSUES_HEAD: Final[LiteralString] = (
    "SELECT m.id, m.name, m.issue_type, count(*) AS hosts_count" + HOST_FROM
    + " JOIN host_munki_issues hmi ON hmi.host_id = h.id JOIN munki_issues m ON m.id = hmi.munki_issue_id"
)
MUNKI_ISSUES_TAIL: Final[LiteralString] = " GROUP BY m.id ORDER BY m.id"

# Text keys sort on lower(col) COLLATE "C", as fleet_core.rules.paging.paginate does in memory.
ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "h.id",
    "hostname": 'lower(h.hostname) COLLATE "C"',
    "computer_name": 'lower(h.computer_name) COLLATE "C"',
    "display_name": "lower(COALESCE(NULLIF(h.computer_name, ''), h.hostname)) COLLATE \"C\"",
    "created_at": "h.created_at",
    "updated_at": "h.updated_at",
    "seen_time": SEEN,
    "detail_updated_at": "h.detail_updated_at",
    "label_updated_at": "h.label_updated_at",
    "last_enrolled_at": "h.last_enrolled_at",
    "platform": 'lower(h.platform) COLLATE "C"',
    "os_version": 'lower(h.os_version) COLLATE "C"',
    "osquery_version": 'lower(h.osquery_version) COLLATE "C"',
    "uuid": 'lower(h.uuid) COLLATE "C"',
    "hardware_serial": 'lower(h.hardware_serial) COLLATE "C"',
    "hardware_model": 'lower(h.hardware_model) COLLATE "C"',
    "primary_ip": 'lower(h.primary_ip) COLLATE "C"',
    "public_ip": 'lower(h.public_ip) COLLATE "C"',
    "memory": "h.memory",
    "uptime": "h.uptime_seconds",
    "team_id": "h.team_id",
    "team_name": 'lower(t.name) COLLATE "C"',
    "gigs_disk_space_available": "h.gigs_disk_space_available",
    "percent_disk_space_available": "h.percent_disk_space_available",
    "cpu_type": 'lower(h.cpu_type) COLLATE "C"',
}
assert ORDER_COLUMNS.keys() == HOST_ORDER_KEYS, "rules.ordering.HOST_ORDER_KEYS changed; map the new key"

AFTER_VALUES: Final[Mapping[str, LiteralString]] = {
    TEXT: 'lower(%(after)s::text) COLLATE "C"',
    INT: "%(after)s::bigint",
    FLOAT: "%(after)s::double precision",
}
AFTER_TIME: Final[LiteralString] = "%(after)s::timestamptz"

MDM_STATUS_CLAUSES: Final[Mapping[str, LiteralString]] = {
    "manual": "EXISTS (SELECT 1 FROM host_mdm hm"
              " WHERE hm.host_id = h.id AND hm.enrolled AND NOT hm.installed_from_dep)",
    "automatic": "EXISTS (SELECT 1 FROM host_mdm hm"
                 " WHERE hm.host_id = h.id AND hm.enrolled AND hm.installed_from_dep)",
    "unenrolled": "EXISTS (SELECT 1 FROM host_mdm hm WHERE hm.host_id = h.id AND NOT hm.enrolled)",
}
assert MDM_STATUS_CLAUSES.keys() == MDM_ENROLLMENT_STATUSES
# passing = the policy query returned rows, failing = it returned none; an errored run (NULL)
# is neither, but still counts as "has a result" when no response is asked for.
POLICY_CLAUSES: Final[Mapping[str, LiteralString]] = {
    "passing": "EXISTS (SELECT 1 FROM policy_membership pm"
               " WHERE pm.host_id = h.id AND pm.policy_id = %(policy_id)s::bigint AND pm.passes)",
    "failing": "EXISTS (SELECT 1 FROM policy_membership pm"
               " WHERE pm.host_id = h.id AND pm.policy_id = %(policy_id)s::bigint AND NOT pm.passes)",
    "": "EXISTS (SELECT 1 FROM policy_membership pm WHERE pm.host_id = h.id AND pm.policy_id = %(policy_id)s::bigint)",
}

_Hosts = list[Host]
_Ids = list[int]


class PgHostRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def enroll(self, *, osquery_host_id: str, node_key_hash: str, team_id: int | None,
                     at: dt.datetime, fields: Mapping[str, Any]) -> tuple[Host, bool]:
        check_fields(fields)
        columns = [VITAL[name] for name in sorted(fields)]
        query: LiteralString = (
            ENROLL_HEAD + "".join(", " + c for c in columns)
            + ENROLL_VALUES + "".join(", %(" + c + ")s" for c in columns)
            + ENROLL_CONFLICT + "".join(", " + c + " = EXCLUDED." + c for c in columns)
            + ENROLL_TAIL
        )
        params = {"osquery_host_id": osquery_host_id, "node_key_hash": node_key_hash, "team_id": team_id,
                  "at": at, **_field_params(fields)}
        async with guarded_write(self._conn):
            row = await fetch_one(self._conn, query, params)
            assert row is not None
            created = row.pop("created")
            host = _row_to_host(row)
            if "os_version" in fields or "platform" in fields:
                await self._sync_os(host.id, host.os_version, host.platform)
        return host, bool(created)

    async def get(self, host_id: int) -> Host | None:
        return await self._one(SELECT_HOST_BY_ID, {"id": host_id})

    async def get_by_node_key(self, node_key_hash: str) -> Host | None:
        return await self._one(SELECT_HOST_BY_NODE_KEY, {"node_key_hash": node_key_hash})

    async def get_by_osquery_host_id(self, osquery_host_id: str) -> Host | None:
        return await self._one(SELECT_HOST_BY_OSQUERY_HOST_ID, {"osquery_host_id": osquery_host_id})

    async def find_by_identifier(self, identifier: str, *, node_key_hash: str) -> Host | None:
        return await self._one(SELECT_HOST_BY_IDENTIFIER,
                               {"identifier": identifier, "node_key_hash": node_key_hash})

    async def apply_facts(self, host_id: int, facts: HostFacts, *, at: dt.datetime, details_updated: bool = False,
                          labels_updated: bool = False, policies_updated: bool = False,
                          clear_refetch: bool = False) -> None:
        check_fields(facts.fields)
        sets: LiteralString = "".join(", " + VITAL[n] + " = %(" + VITAL[n] + ")s" for n in sorted(facts.fields))
        if details_updated:
            sets += ", detail_updated_at = %(at)s"
        if labels_updated:
            sets += ", label_updated_at = %(at)s"
        if policies_updated:
            sets += ", policy_updated_at = %(at)s"
        if clear_refetch:
            sets += ", refetch_requested = false"
        params = {"host_id": host_id, "at": at, **_field_params(facts.fields)}
        conn = self._conn
        with translated():
            # Updating the host row first locks it, so concurrent writers of one host queue here.
            row = await fetch_one(conn, UPDATE_HOST_HEAD + sets + UPDATE_HOST_TAIL, params)
            if row is None:
                return
            if "os_version" in facts.fields or "platform" in facts.fields:
                await self._sync_os(host_id, row["os_version"], row["platform"])
            ids = {"host_id": host_id}
            if facts.users is not None:
                users = unique_users(facts.users)
                await conn.execute(DELETE_HOST_USERS, ids)
                if users:
                    await conn.execute(INSERT_HOST_USERS, {
                        **ids, "uids": [u.uid for u in users], "usernames": [u.username for u in users],
                        "types": [u.type for u in users], "groupnames": [u.groupname for u in users],
                        "shells": [u.shell for u in users]})
            if facts.software is not None:
                await self._replace_software(host_id, facts.software)
            if facts.device_mapping is not None:
                mappings = unique_mappings(facts.device_mapping)
                await conn.execute(DELETE_HOST_EMAILS, ids)
                if mappings:
                    await conn.execute(INSERT_HOST_EMAILS, {
                        **ids, "emails": [m.email for m in mappings], "sources": [m.source for m in mappings]})
            if facts.mdm is not None:
                await self._store_mdm(host_id, facts.mdm)
            if facts.munki is not None:
                await self._store_munki(host_id, normalized_munki(facts.munki))
            if facts.batteries is not None:
                await conn.execute(DELETE_HOST_BATTERIES, ids)
                if facts.batteries:
                    await conn.execute(INSERT_HOST_BATTERIES, {
                        **ids, "cycle_counts": [b.cycle_count for b in facts.batteries],
                        "healths": [b.health for b in facts.batteries]})

    async def mark_seen(self, seen: Mapping[int, dt.datetime]) -> None:
        if not seen:
            return
        host_ids = sorted(seen)
        with translated():
            await self._conn.execute(MARK_SEEN, {"host_ids": host_ids, "seen_times": [seen[i] for i in host_ids]})

    async def request_refetch(self, host_ids: Sequence[int]) -> int:
        if not host_ids:
            return 0
        with translated():
            cur = await self._conn.execute(REQUEST_REFETCH, {"host_ids": sorted(set(host_ids))})
        return cur.rowcount

    async def transfer(self, host_ids: Sequence[int], team_id: int | None) -> builtins.list[int]:
        async with guarded_write(self._conn):
            if team_id is not None:
                cur = await self._conn.execute(SELECT_TEAM_EXISTS, {"team_id": team_id})
                if await cur.fetchone() is None:
                    raise NotFound(f"Team with id={team_id} was not found in the datastore")
            if not host_ids:
                return []
            cur = await self._conn.execute(TRANSFER_HOSTS, {"host_ids": sorted(set(host_ids)), "team_id": team_id})
            return [r[0] for r in await cur.fetchall()]

    async def delete(self, host_ids: Sequence[int]) -> builtins.list[int]:
        if not host_ids:
            return []
        with translated():
            cur = await self._conn.execute(DELETE_HOSTS, {"host_ids": sorted(set(host_ids))})
            return [r[0] for r in await cur.fetchall()]

    async def list(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                   after: str | None = None) -> builtins.list[Host]:
        check_order_key(options)
        where, params = _where(filters, now, search_text(filters, options))
        if after is not None and options.order_key is not None:
            key = options.order_key
            kind = HOST_ORDER_TYPES[key]
            operator: LiteralString = " < " if options.order_direction is Direction.DESC else " > "
            where += " AND " + ORDER_COLUMNS[key] + operator + AFTER_VALUES.get(kind, AFTER_TIME)
            params["after"] = parse_after(key, after)
        query = (SELECT_HOSTS + " WHERE " + where + " " + order_by(options, ORDER_COLUMNS, id_column="h.id")
                 + " LIMIT %(limit)s OFFSET %(offset)s")
        return [_row_to_host(r) for r in await self._rows(query, {**params, **page_params(options)})]

    async def count(self, filters: HostFilter, *, now: dt.datetime) -> int:
        where, params = _where(filters, now, filters.query)
        rows = await self._rows("SELECT count(*) AS n" + HOST_FROM + " WHERE " + where, params)
        return int(rows[0]["n"])

    async def ids(self, filters: HostFilter, *, now: dt.datetime) -> builtins.list[int]:
        where, params = _where(filters, now, filters.query)
        rows = await self._rows("SELECT h.id" + HOST_FROM + " WHERE " + where + " ORDER BY h.id", params)
        return [r["id"] for r in rows]

    async def summary(self, filters: HostFilter, *, platform: str | None, now: dt.datetime) -> HostSummary:
        where, params = _where(filters, now, filters.query)
        platforms = summary_platforms(platform)
        if platforms is not None:
            where += " AND h.platform = ANY(%(platforms)s::text[])"
            params["platforms"] = sorted(platforms)
        params.update(_status_bounds(now))
        params["linux"] = sorted(LINUX_PLATFORMS)
        totals = (await self._rows(SUMMARY_HEAD + " WHERE " + where, params))[0]
        by_platform = await self._rows(PLATFORMS_HEAD + " WHERE " + where + PLATFORMS_TAIL, params)
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(SELECT_BUILTIN_LABELS)
                labels = [Label(**r) for r in await cur.fetchall()]
        return HostSummary(
            team_id=filters.team_id,
            totals_hosts_count=totals["total"],
            online_count=totals["online"],
            offline_count=totals["total"] - totals["online"],
            mia_count=totals["missing"],
            missing_30_days_count=totals["missing"],
            new_count=totals["new"],
            all_linux_count=totals["all_linux"],
            platforms=tuple((r["platform"], r["hosts_count"]) for r in by_platform),
            builtin_labels=tuple(labels),
        )

    async def users(self, host_id: int) -> builtins.list[HostUser]:
        return [HostUser(**r) for r in await self._rows(SELECT_HOST_USERS, {"host_id": host_id})]

    async def software(self, host_id: int) -> builtins.list[Software]:
        return [Software(**r) for r in await self._rows(SELECT_HOST_SOFTWARE, {"host_id": host_id})]

    async def software_by_id(self, software_id: int) -> Software | None:
        rows = await self._rows(SELECT_SOFTWARE_BY_ID, {"id": software_id})
        return Software(**rows[0]) if rows else None

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

    async def os_versions(self, filters: HostFilter) -> builtins.list[OSVersion]:
        where, params = _where(filters, None, filters.query)
        rows = await self._rows(OS_VERSIONS_HEAD + " WHERE " + where + OS_VERSIONS_TAIL, params)
        return [OSVersion(os_id=r["id"], name=f"{r['name']} {r['version']}".strip(), name_only=r["name"],
                          version=r["version"], platform=r["platform"], hosts_count=r["hosts_count"])
                for r in rows]

    async def mdm_solutions(self, filters: HostFilter) -> builtins.list[tuple[int, str, str, int]]:
        where, params = _where(filters, None, filters.query)
        rows = await self._rows(MDM_SOLUTIONS_HEAD + " WHERE " + where + MDM_SOLUTIONS_TAIL, params)
        return [(r["id"], r["name"], r["server_url"], r["hosts_count"]) for r in rows]

    async def mdm_status_counts(self, filters: HostFilter) -> dict[str, int]:
        where, params = _where(filters, None, filters.query)
        rows = await self._rows(MDM_STATUS_HEAD + " WHERE " + where, params)
        return {k: int(v) for k, v in rows[0].items()}

    async def munki_versions(self, filters: HostFilter) -> builtins.list[tuple[str, int]]:
        where, params = _where(filters, None, filters.query)
        rows = await self._rows(MUNKI_VERSIONS_HEAD + " WHERE " + where + MUNKI_VERSIONS_TAIL, params)
        return [(r["version"], r["hosts_count"]) for r in rows]

    async def munki_issues(self, filters: HostFilter) -> builtins.list[tuple[int, str, str, int]]:
        where, params = _where(filters, None, filters.query)
        rows = await self._rows(MUNKI_ISSUES_HEAD + " WHERE " + where + MUNKI_ISSUES_TAIL, params)
        return [(r["id"], r["name"], r["issue_type"], r["hosts_count"]) for r in rows]

    async def seen_before(self, cutoff: dt.datetime) -> builtins.list[int]:
        return [r["id"] for r in await self._rows(SELECT_SEEN_BEFORE, {"cutoff": cutoff})]

    async def target_host_ids(self, selection: TargetSelection, *,
                              visible_team_ids: frozenset[int] | None) -> builtins.list[int]:
        teams = sorted(selection.team_ids)
        params = {
            "host_ids": sorted(selection.host_ids), "label_ids": sorted(selection.label_ids),
            "any_team": bool(teams), "team_ids": teams, "no_team": NO_TEAM in selection.team_ids,
            **_visibility(visible_team_ids),
        }
        return [r["id"] for r in await self._rows(TARGET_HOST_IDS, params)]

    async def search(self, text: str, *, excluded_ids: frozenset[int], limit: int,
                     visible_team_ids: frozenset[int] | None) -> builtins.list[Host]:
        params: dict[str, Any] = {"excluded_ids": sorted(excluded_ids), "limit": max(limit, 0),
                                  **_visibility(visible_team_ids)}
        if text:
            params["pattern"] = search_pattern(text)
            query = SEARCH_HEAD + SEARCH_TEXT
        else:
            query = SEARCH_HEAD + SEARCH_RECENT
        return [_row_to_host(r) for r in await self._rows(query, params)]

    async def _one(self, query: LiteralString, params: Mapping[str, Any]) -> Host | None:
        rows = await self._rows(query, params)
        return _row_to_host(rows[0]) if rows else None

    async def _rows(self, query: LiteralString, params: Mapping[str, Any]) -> builtins.list[dict[str, Any]]:
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, params)
                return await cur.fetchall()

    async def _get_or_create(self, query: LiteralString, params: Mapping[str, Any]) -> int:
        # A concurrent writer may insert the row between our look-up and insert; the second
        # attempt then finds it.
        for _ in range(2):
            row = await fetch_one(self._conn, query, params)
            if row is not None:
                return int(row["id"])
        raise RuntimeError("get-or-create found no row twice")

    async def _sync_os(self, host_id: int, os_version: str, platform: str) -> None:
        key = os_key(os_version, platform)
        os_id = None
        if key is not None:
            name, version, platform = key
            os_id = await self._get_or_create(GET_OR_CREATE_OS,
                                              {"name": name, "version": version, "platform": platform})
        await self._conn.execute(SET_HOST_OS, {"host_id": host_id, "os_id": os_id})

    async def _replace_software(self, host_id: int, items: Sequence[SoftwareItem]) -> None:
        keys = {"names": [i.name for i in items], "versions": [i.version for i in items],
                "sources": [i.source for i in items]}
        if items:
            await self._conn.execute(INSERT_SOFTWARE, {
                **keys, "bundles": [i.bundle_identifier for i in items], "vendors": [i.vendor for i in items],
                "archs": [i.arch for i in items], "releases": [i.release for i in items]})
        await self._conn.execute(REPLACE_HOST_SOFTWARE, {
            **keys, "host_id": host_id, "opened": [i.last_opened_at for i in items]})

    async def _store_mdm(self, host_id: int, info: MDMInfo) -> None:
        mdm_id = None
        if info.name or info.server_url:
            mdm_id = await self._get_or_create(GET_OR_CREATE_MDM_SOLUTION,
                                               {"name": info.name, "server_url": info.server_url})
        await self._conn.execute(UPSERT_HOST_MDM, {
            "host_id": host_id, "enrolled": info.enrolled, "server_url": info.server_url,
            "installed_from_dep": info.installed_from_dep, "name": info.name, "mdm_id": mdm_id})

    async def _store_munki(self, host_id: int, munki: MunkiInfo) -> None:
        await self._conn.execute(UPSERT_HOST_MUNKI, {"host_id": host_id, "version": munki.version})
        issues = {"names": [*munki.errors, *munki.warnings],
                  "types": ["error"] * len(munki.errors) + ["warning"] * len(munki.warnings)}
        if issues["names"]:
            await self._conn.execute(INSERT_MUNKI_ISSUES, issues)
        await self._conn.execute(REPLACE_HOST_MUNKI_ISSUES, {**issues, "host_id": host_id})


def _field_params(fields: Mapping[str, Any]) -> dict[str, Any]:
    params = dict(fields)
    if "additional" in params and params["additional"] is not None:
        params["additional"] = Jsonb(params["additional"])
    return params


def _status_bounds(now: dt.datetime) -> dict[str, dt.datetime]:
    # fleet_core.rules.hosts rearranged so the host's columns stand alone on one side:
    # seen + interval + buffer > now  <=>  seen + interval > now - buffer, and so on.
    return {"online_after": now - ONLINE_BUFFER, "missing_before": now - MISSING_AFTER, "new_after": now - NEW_FOR}


_STATUS_CLAUSES: Final[Mapping[HostStatus, LiteralString]] = {
    HostStatus.ONLINE: ONLINE,
    HostStatus.OFFLINE: OFFLINE,
    HostStatus.MISSING: MISSING,
    HostStatus.MIA: MISSING,
    HostStatus.NEW: NEW,
}


def _where(f: HostFilter, now: dt.datetime | None, query: str) -> tuple[LiteralString, dict[str, Any]]:
    """The WHERE condition (over ``hosts h``) for every set filter, and its parameters.

    Only fixed SQL fragments are joined; every value travels as a parameter. Status needs
    ``now``; the aggregate views pass None and are not filtered by status.
    """
    clauses: list[LiteralString] = []
    params: dict[str, Any] = {}
    if f.ids is not None:
        clauses.append("h.id = ANY(%(ids)s::bigint[])")
        params["ids"] = sorted(f.ids)
    if f.visible_team_ids is not None:
        clauses.append("h.team_id = ANY(%(visible_team_ids)s::bigint[])")
        params["visible_team_ids"] = sorted(f.visible_team_ids)
    if f.team_id is not None:
        clauses.append("h.team_id = %(team_id)s::bigint")
        params["team_id"] = f.team_id
    if f.no_team:
        clauses.append("h.team_id IS NULL")
    if f.status is not None and now is not None:
        clauses.append(_STATUS_CLAUSES[f.status])
        params.update(_status_bounds(now))
    if f.label_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM label_membership lm"
                       " WHERE lm.host_id = h.id AND lm.label_id = %(label_id)s::bigint)")
        params["label_id"] = f.label_id
    if f.policy_id is not None:
        clauses.append(POLICY_CLAUSES.get(f.policy_response or "", POLICY_CLAUSES[""]))
        params["policy_id"] = f.policy_id
    if f.software_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM host_software hs"
                       " WHERE hs.host_id = h.id AND hs.software_id = %(software_id)s::bigint)")
        params["software_id"] = f.software_id
    if f.os_id is not None:
        clauses.append("h.os_id = %(os_id)s::bigint")
        params["os_id"] = f.os_id
    if f.os_name is not None or f.os_version is not None:
        os_clause: LiteralString = "EXISTS (SELECT 1 FROM operating_systems o WHERE o.id = h.os_id"
        if f.os_name is not None:
            os_clause += " AND o.name = %(os_name)s::text"
            params["os_name"] = f.os_name
        if f.os_version is not None:
            os_clause += " AND o.version = %(os_version)s::text"
            params["os_version"] = f.os_version
        clauses.append(os_clause + ")")
    if f.mdm_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM host_mdm hm WHERE hm.host_id = h.id AND hm.mdm_id = %(mdm_id)s::bigint)")
        params["mdm_id"] = f.mdm_id
    if f.mdm_enrollment_status is not None:
        clause = MDM_STATUS_CLAUSES.get(f.mdm_enrollment_status)
        if clause is None:
            raise InvalidArgument(("mdm_enrollment_status", "must be one of automatic, manual, unenrolled"))
        clauses.append(clause)
    if f.munki_issue_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM host_munki_issues hmi"
                       " WHERE hmi.host_id = h.id AND hmi.munki_issue_id = %(munki_issue_id)s::bigint)")
        params["munki_issue_id"] = f.munki_issue_id
    if query:
        text: LiteralString = (
            "(lower(h.hostname) LIKE lower(%(pattern)s) OR lower(h.computer_name) LIKE lower(%(pattern)s)"
            " OR lower(h.uuid) LIKE lower(%(pattern)s) OR lower(h.hardware_serial) LIKE lower(%(pattern)s)"
            " OR lower(h.primary_ip) LIKE lower(%(pattern)s)"
        )
        params["pattern"] = search_pattern(query)
        if looks_like_email(query):
            text += (" OR EXISTS (SELECT 1 FROM host_emails e"
                     " WHERE e.host_id = h.id AND lower(e.email) = lower(%(email)s::text))")
            params["email"] = query
        clauses.append(text + ")")
    return (" AND ".join(clauses) if clauses else "TRUE"), params


def _visibility(visible_team_ids: frozenset[int] | None) -> dict[str, Any]:
    return {"all_teams": visible_team_ids is None, "visible_team_ids": sorted(visible_team_ids or ())}


def _row_to_host(row: Mapping[str, Any]) -> Host:
    return Host(**row)
