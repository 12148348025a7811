"""Postgres implementation of fleet_core.ports.HostRepository: enrollment, identity look-ups,
check-ins, and storing what detail queries found."""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any, Final, LiteralString

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_adapters.postgres.hosts.columns import (
    HOST_JOINS,
    HOST_SELECT_LIST,
    SELECT_HOSTS,
    VITAL,
    fetch_rows,
    field_params,
    row_to_host,
)
from fleet_adapters.postgres.memberships import fetch_one
from fleet_core.errors import NotFound
from fleet_core.model.enrollment import Enrollment
from fleet_core.model.hosts import Host, HostFacts, MDMInfo, MunkiInfo, SoftwareItem
from fleet_core.rules.host_storage import check_fields, normalized_munki, os_key, unique_mappings, unique_users
from fleet_core.rules.software_inventory import distinct_software, software_checksum, software_identity

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


def enroll_host(columns: Sequence[LiteralString]) -> LiteralString:
    """The enroll upsert, storing the vital ``columns`` the agent reported as well.

    The upsert keeps one row per osquery_host_id even when two agents enroll at once: the second
    waits on the unique index, then updates. xmax = 0 tells a fresh insert from an update. A
    re-enrolled host drops its policy results; every host joins the built-in "All Hosts" label.
    """
    names: LiteralString = "".join(", " + c for c in columns)
    values: LiteralString = "".join(", %(" + c + ")s" for c in columns)
    updates: LiteralString = "".join(", " + c + " = EXCLUDED." + c for c in columns)
    return """
    WITH upserted AS (
        INSERT INTO hosts AS h (osquery_host_id, node_key_hash, team_id, created_at, updated_at,
                                last_enrolled_at, seen_time, refetch_requested""" + names + """)
        VALUES (%(osquery_host_id)s, %(node_key_hash)s, %(team_id)s, %(at)s, %(at)s,
                %(at)s, %(at)s, true""" + values + """)
        ON CONFLICT (osquery_host_id) DO UPDATE
           SET node_key_hash = EXCLUDED.node_key_hash, team_id = EXCLUDED.team_id,
               updated_at = EXCLUDED.updated_at, last_enrolled_at = EXCLUDED.last_enrolled_at,
               seen_time = GREATEST(h.seen_time, EXCLUDED.seen_time)""" + updates + """
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
    SELECT h.created, """ + HOST_SELECT_LIST + """
      FROM upserted h """ + HOST_JOINS  # noqa: S608 - constants and VITAL column names only


def update_host(columns: Sequence[LiteralString], *, details_updated: bool, labels_updated: bool,
                policies_updated: bool, clear_refetch: bool, set_os: bool = False,
                software_checksum: bool = False, list_checksums: bool = False) -> LiteralString:
    """Store the vital ``columns`` detail queries reported on one host (updated_at = at), with the
    *_updated_at times the flags name and refetch_requested cleared if asked.

    ``set_os``: os_id becomes the operating_systems row named by the os_name, os_release and
    os_platform parameters (NULL when there is none yet: the caller creates it, see apply_facts).
    ``software_checksum``: also return the digest of the host's last software answer, which
    saves reading it in a statement of its own; ``list_checksums``: those of its users, emails and
    batteries (host_list_checksums)."""
    sets: LiteralString = "".join(", " + c + " = %(" + c + ")s" for c in columns)
    if set_os:
        sets += """, os_id = (SELECT o.id FROM operating_systems o WHERE o.name = %(os_name)s
                                  AND o.version = %(os_release)s AND o.platform = %(os_platform)s)"""
    if details_updated:
        sets += ", detail_updated_at = %(at)s"
    if labels_updated:
        sets += ", label_updated_at = %(at)s"
    if policies_updated:
        sets += ", policy_updated_at = %(at)s"
    if clear_refetch:
        sets += ", refetch_requested = false"
    returning: LiteralString = "h.os_version, h.platform, h.os_id"
    if software_checksum:
        returning += """,
              (SELECT c.checksum FROM host_software_checksums c WHERE c.host_id = h.id) AS software_checksum"""
    if list_checksums:
        returning += """,
              (SELECT c.users FROM host_list_checksums c WHERE c.host_id = h.id) AS users_checksum,
              (SELECT c.emails FROM host_list_checksums c WHERE c.host_id = h.id) AS emails_checksum,
              (SELECT c.batteries FROM host_list_checksums c WHERE c.host_id = h.id) AS batteries_checksum"""
    return """
    UPDATE hosts h SET updated_at = %(at)s""" + sets + """
     WHERE h.id = %(host_id)s
    RETURNING """ + returning  # noqa: S608 - VITAL column names only


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

# The host's users, emails and batteries are each replaced by one statement that deletes the rows
# no longer reported and inserts or updates the others, leaving unchanged rows alone (no dead
# tuples when a refresh reports the same). The key sets deleted and upserted are disjoint, so
# the order Postgres runs the two parts in does not matter.
REPLACE_HOST_USERS: Final[LiteralString] = """
    WITH reported AS (
        SELECT x.uid, x.username, x.type, x.groupname, x.shell
          FROM unnest(%(uids)s::bigint[], %(usernames)s::text[], %(types)s::text[], %(groupnames)s::text[],
                      %(shells)s::text[]) AS x(uid, username, type, groupname, shell)
    ), removed AS (
        DELETE FROM host_users hu
         WHERE hu.host_id = %(host_id)s
           AND NOT EXISTS (SELECT 1 FROM reported r WHERE r.uid = hu.uid AND r.username = hu.username)
    )
    INSERT INTO host_users AS hu (host_id, uid, username, type, groupname, shell)
    SELECT %(host_id)s, r.uid, r.username, r.type, r.groupname, r.shell FROM reported r ORDER BY r.uid, r.username
    ON CONFLICT (host_id, uid, username) DO UPDATE
       SET type = EXCLUDED.type, groupname = EXCLUDED.groupname, shell = EXCLUDED.shell
     WHERE (hu.type, hu.groupname, hu.shell) IS DISTINCT FROM (EXCLUDED.type, EXCLUDED.groupname, EXCLUDED.shell)
"""

# A host's software answer is stored as a diff. The digest of its last answer is read first (by the
# host update, update_host's software_checksum): an unchanged answer stops there (no write). A
# changed one costs three more statements whatever the
# number of packages: create the software rows nobody had yet, delete and upsert the host's links
# (rows that did not change are left alone), and store the new digest.
INSERT_SOFTWARE: Final[LiteralString] = """
    INSERT INTO software (name, version, source, release, vendor, arch, bundle_identifier, extension_id, browser)
    SELECT x.name, x.version, x.source, x.release, x.vendor, x.arch, x.bundle_identifier, x.extension_id, x.browser
      FROM unnest(%(names)s::text[], %(versions)s::text[], %(sources)s::text[], %(releases)s::text[],
                  %(vendors)s::text[], %(archs)s::text[], %(bundles)s::text[], %(extension_ids)s::text[],
                  %(browsers)s::text[])
           WITH ORDINALITY AS x(name, version, source, release, vendor, arch, bundle_identifier, extension_id,
                                browser, ord)
     WHERE NOT EXISTS (SELECT 1 FROM software s
                        WHERE s.name = x.name AND s.version = x.version AND s.source = x.source
                          AND s.release = x.release AND s.vendor = x.vendor AND s.arch = x.arch
                          AND s.bundle_identifier = x.bundle_identifier AND s.extension_id = x.extension_id
                          AND s.browser = x.browser)
     ORDER BY x.ord
    ON CONFLICT ON CONSTRAINT software_identity_key DO NOTHING
"""
REPLACE_HOST_SOFTWARE: Final[LiteralString] = """
    WITH reported AS (
        SELECT s.id AS software_id, x.last_opened_at
          FROM unnest(%(names)s::text[], %(versions)s::text[], %(sources)s::text[], %(releases)s::text[],
                      %(vendors)s::text[], %(archs)s::text[], %(bundles)s::text[], %(extension_ids)s::text[],
                      %(browsers)s::text[], %(opened)s::timestamptz[])
               AS x(name, version, source, release, vendor, arch, bundle_identifier, extension_id, browser,
                    last_opened_at)
          JOIN software s ON s.name = x.name AND s.version = x.version AND s.source = x.source
                         AND s.release = x.release AND s.vendor = x.vendor AND s.arch = x.arch
                         AND s.bundle_identifier = x.bundle_identifier AND s.extension_id = x.extension_id
                         AND s.browser = x.browser
    ), removed AS (
        DELETE FROM host_software hs
         WHERE hs.host_id = %(host_id)s
           AND NOT EXISTS (SELECT 1 FROM reported r WHERE r.software_id = hs.software_id)
    )
    INSERT INTO host_software AS hs (host_id, software_id, last_opened_at, created_at)
    SELECT %(host_id)s, r.software_id, r.last_opened_at, %(at)s FROM reported r ORDER BY r.software_id
    ON CONFLICT (host_id, software_id) DO UPDATE SET last_opened_at = EXCLUDED.last_opened_at
     WHERE hs.last_opened_at IS DISTINCT FROM EXCLUDED.last_opened_at
"""
UPSERT_SOFTWARE_CHECKSUM: Final[LiteralString] = """
    INSERT INTO host_software_checksums (host_id, checksum, updated_at)
    VALUES (%(host_id)s, %(checksum)s, %(at)s)
    ON CONFLICT (host_id) DO UPDATE SET checksum = EXCLUDED.checksum, updated_at = EXCLUDED.updated_at
"""

# The digests of the lists just stored; a list not reported (NULL) keeps its digest.
UPSERT_LIST_CHECKSUMS: Final[LiteralString] = """
    INSERT INTO host_list_checksums AS c (host_id, users, emails, batteries)
    VALUES (%(host_id)s, %(users)s, %(emails)s, %(batteries)s)
    ON CONFLICT (host_id) DO UPDATE
       SET users = coalesce(EXCLUDED.users, c.users), emails = coalesce(EXCLUDED.emails, c.emails),
           batteries = coalesce(EXCLUDED.batteries, c.batteries)
"""

REPLACE_HOST_EMAILS: Final[LiteralString] = """
    WITH reported AS (
        SELECT x.email, x.source FROM unnest(%(emails)s::text[], %(sources)s::text[]) AS x(email, source)
    ), removed AS (
        DELETE FROM host_emails he
         WHERE he.host_id = %(host_id)s
           AND NOT EXISTS (SELECT 1 FROM reported r WHERE r.email = he.email AND r.source = he.source)
    )
    INSERT INTO host_emails (host_id, email, source)
    SELECT %(host_id)s, r.email, r.source FROM reported r ORDER BY r.email, r.source
    ON CONFLICT (host_id, email, source) DO NOTHING
"""

# mdm_id is looked up in the same statement when the caller does not know it yet (%(mdm_id)s
# NULL): a solution nobody reported before leaves it NULL, and the caller creates the solution
# and stores again. An unchanged row is not rewritten.
UPSERT_HOST_MDM: Final[LiteralString] = """
    INSERT INTO host_mdm AS m (host_id, enrolled, server_url, installed_from_dep, name, mdm_id)
    VALUES (%(host_id)s, %(enrolled)s, %(server_url)s, %(installed_from_dep)s, %(name)s,
            coalesce(%(mdm_id)s::bigint, (SELECT s.id FROM mdm_solutions s
                                           WHERE %(identified)s AND s.name = %(name)s
                                             AND s.server_url = %(server_url)s)))
    ON CONFLICT (host_id) DO UPDATE
       SET enrolled = EXCLUDED.enrolled, server_url = EXCLUDED.server_url,
           installed_from_dep = EXCLUDED.installed_from_dep, name = EXCLUDED.name, mdm_id = EXCLUDED.mdm_id
     WHERE (m.enrolled, m.server_url, m.installed_from_dep, m.name, m.mdm_id)
           IS DISTINCT FROM (EXCLUDED.enrolled, EXCLUDED.server_url, EXCLUDED.installed_from_dep, EXCLUDED.name,
                             EXCLUDED.mdm_id)
    RETURNING m.mdm_id
"""

UPSERT_HOST_MUNKI: Final[LiteralString] = """
    INSERT INTO host_munki_info AS mi (host_id, version) VALUES (%(host_id)s, %(version)s)
    ON CONFLICT (host_id) DO UPDATE SET version = EXCLUDED.version WHERE mi.version <> EXCLUDED.version
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

REPLACE_HOST_BATTERIES: Final[LiteralString] = """
    WITH reported AS (
        SELECT x.position, x.cycle_count, x.health
          FROM unnest(%(cycle_counts)s::bigint[], %(healths)s::text[])
               WITH ORDINALITY AS x(cycle_count, health, position)
    ), removed AS (
        DELETE FROM host_batteries hb
         WHERE hb.host_id = %(host_id)s AND NOT EXISTS (SELECT 1 FROM reported r WHERE r.position = hb.position)
    )
    INSERT INTO host_batteries AS hb (host_id, position, cycle_count, health)
    SELECT %(host_id)s, r.position, r.cycle_count, r.health FROM reported r ORDER BY r.position
    ON CONFLICT (host_id, position) DO UPDATE SET cycle_count = EXCLUDED.cycle_count, health = EXCLUDED.health
     WHERE (hb.cycle_count, hb.health) IS DISTINCT FROM (EXCLUDED.cycle_count, EXCLUDED.health)
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


def _digest(items: Sequence[tuple[Any, ...]]) -> bytes:
    """A list's digest: its items in the order stored (each list is put in one order first)."""
    return hashlib.blake2b(repr(items).encode(), digest_size=16).digest()


def _stored(row: Mapping[str, Any], column: str) -> bytes | None:
    value = row.get(column)
    return bytes(value) if value is not None else None


async def fetch_rows_alone(conn: AsyncConnection[Any], query: LiteralString,
                           params: Mapping[str, Any]) -> builtins.list[dict[str, Any]]:
    """Run one read-only statement, in autocommit when no transaction is open on ``conn``.

    A single statement sees one snapshot either way (READ COMMITTED), so a unit of work that only
    reads once loses nothing by it, and saves the BEGIN and ROLLBACK round trips. Inside an open
    transaction the statement runs in it as usual. Autocommit is set back before returning; if a
    cancellation still leaves it on, the pool's reset turns it off again.
    """
    if conn.pgconn.transaction_status != TransactionStatus.IDLE:
        return await fetch_rows(conn, query, params)
    await conn.set_autocommit(True)
    try:
        return await fetch_rows(conn, query, params)
    finally:
        # A connection broken meanwhile may refuse; the pool discards it anyway.
        with suppress(psycopg.Error):
            await conn.set_autocommit(False)


class PgHostRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn


    async def enroll(self, *, osquery_host_id: str, node_key_hash: str, team_id: int | None,
                     at: dt.datetime, fields: Mapping[str, Any]) -> Enrollment:
        check_fields(fields)
        params = {"osquery_host_id": osquery_host_id, "node_key_hash": node_key_hash, "team_id": team_id,
                  "at": at, **field_params(fields)}
        async with guarded_write(self._conn):
            row = await fetch_one(self._conn, enroll_host([VITAL[name] for name in sorted(fields)]), params)
            assert row is not None
            created = row.pop("created")
            host = row_to_host(row)
            if "os_version" in fields or "platform" in fields:
                await self._sync_os(host.id, host.os_version, host.platform)
        return Enrollment(host=host, created=bool(created))

    async def get(self, host_id: int) -> Host | None:
        return await self._one(SELECT_HOST_BY_ID, {"id": host_id})

    async def get_by_node_key(self, node_key_hash: str) -> Host | None:
        # The agent hot path's only statement on a host-cache miss: outside a transaction when
        # none is open yet, it costs one round trip instead of BEGIN, SELECT and ROLLBACK.
        with translated():
            rows = await fetch_rows_alone(self._conn, SELECT_HOST_BY_NODE_KEY, {"node_key_hash": node_key_hash})
        return row_to_host(rows[0]) if rows else None

    async def get_by_osquery_host_id(self, osquery_host_id: str) -> Host | None:
        return await self._one(SELECT_HOST_BY_OSQUERY_HOST_ID, {"osquery_host_id": osquery_host_id})

    async def find_by_identifier(self, identifier: str, *, node_key_hash: str) -> Host | None:
        return await self._one(SELECT_HOST_BY_IDENTIFIER,
                               {"identifier": identifier, "node_key_hash": node_key_hash})

    async def apply_facts(self, host_id: int, facts: HostFacts, *, at: dt.datetime, details_updated: bool = False,
                          labels_updated: bool = False, policies_updated: bool = False,
                          clear_refetch: bool = False) -> None:
        check_fields(facts.fields)
        fields = facts.fields
        # With both OS fields reported (a detail refresh), the OS is known before the update and
        # set by it; with one of them, the other is the row's, so it is set after (_sync_os).
        set_os = "os_version" in fields and "platform" in fields
        key = os_key(str(fields["os_version"] or ""), str(fields["platform"] or "")) if set_os else None
        lists = facts.users is not None or facts.device_mapping is not None or facts.batteries is not None
        query = update_host([VITAL[name] for name in sorted(fields)], details_updated=details_updated,
                            labels_updated=labels_updated, policies_updated=policies_updated,
                            clear_refetch=clear_refetch, set_os=set_os,
                            software_checksum=facts.software is not None, list_checksums=lists)
        params = {"host_id": host_id, "at": at, **field_params(fields)}
        if set_os:
            params.update(zip(("os_name", "os_release", "os_platform"), key or (None, None, None), strict=True))
        conn = self._conn
        with translated():
            # Updating the host row first locks it, so concurrent writers of one host queue here.
            row = await fetch_one(conn, query, params)
            if row is None:
                return
            if (set_os and key is not None and row["os_id"] is None) or (
                    not set_os and ("os_version" in fields or "platform" in fields)):
                # An OS nobody reported before is created here, after the host row is locked.
                await self._sync_os(host_id, row["os_version"], row["platform"])
            ids = {"host_id": host_id}
            # A list reported as last time (same digest) is not written at all.
            changed: dict[str, bytes | None] = {"users": None, "emails": None, "batteries": None}
            if facts.users is not None:
                users = unique_users(facts.users)
                digest = _digest([(u.uid, u.username, u.type, u.groupname, u.shell) for u in users])
                if digest != _stored(row, "users_checksum"):
                    changed["users"] = digest
                    await conn.execute(REPLACE_HOST_USERS, {
                        **ids, "uids": [u.uid for u in users], "usernames": [u.username for u in users],
                        "types": [u.type for u in users], "groupnames": [u.groupname for u in users],
                        "shells": [u.shell for u in users]})
            if facts.software is not None:
                stored = row["software_checksum"]
                await self._replace_software(host_id, facts.software, at,
                                             stored=bytes(stored) if stored is not None else None)
            if facts.device_mapping is not None:
                mappings = unique_mappings(facts.device_mapping)
                digest = _digest([(m.email, m.source) for m in mappings])
                if digest != _stored(row, "emails_checksum"):
                    changed["emails"] = digest
                    await conn.execute(REPLACE_HOST_EMAILS, {
                        **ids, "emails": [m.email for m in mappings], "sources": [m.source for m in mappings]})
            if facts.mdm is not None:
                await self._store_mdm(host_id, facts.mdm)
            if facts.munki is not None:
                await self._store_munki(host_id, normalized_munki(facts.munki))
            if facts.batteries is not None:
                digest = _digest([(b.cycle_count, b.health) for b in facts.batteries])
                if digest != _stored(row, "batteries_checksum"):
                    changed["batteries"] = digest
                    await conn.execute(REPLACE_HOST_BATTERIES, {
                        **ids, "cycle_counts": [b.cycle_count for b in facts.batteries],
                        "healths": [b.health for b in facts.batteries]})
            if any(digest is not None for digest in changed.values()):
                await conn.execute(UPSERT_LIST_CHECKSUMS, {**ids, **changed})

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

    async def seen_before(self, cutoff: dt.datetime) -> builtins.list[int]:
        return [r["id"] for r in await fetch_rows(self._conn, SELECT_SEEN_BEFORE, {"cutoff": cutoff})]

    async def _one(self, query: LiteralString, params: Mapping[str, Any]) -> Host | None:
        rows = await fetch_rows(self._conn, query, params)
        return row_to_host(rows[0]) if rows else None

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

    async def _replace_software(self, host_id: int, reported: Sequence[SoftwareItem], at: dt.datetime, *,
                                stored: bytes | None) -> None:
        """Store the host's software answer unless it is the one whose digest is ``stored``."""
        # New software rows are inserted in one order for every host: two hosts first reporting
        # the same new packages in different orders would otherwise each wait on a row the other
        # inserted (ON CONFLICT waits for the inserting transaction) and deadlock.
        items = sorted(distinct_software(reported), key=software_identity)
        checksum = software_checksum(items)
        if stored == checksum:
            return
        columns = {"names": [i.name for i in items], "versions": [i.version for i in items],
                   "sources": [i.source for i in items], "releases": [i.release for i in items],
                   "vendors": [i.vendor for i in items], "archs": [i.arch for i in items],
                   "bundles": [i.bundle_identifier for i in items], "extension_ids": [i.extension_id for i in items],
                   "browsers": [i.browser for i in items]}
        if items:
            await self._conn.execute(INSERT_SOFTWARE, columns)
        await self._conn.execute(REPLACE_HOST_SOFTWARE, {
            **columns, "host_id": host_id, "at": at, "opened": [i.last_opened_at for i in items]})
        await self._conn.execute(UPSERT_SOFTWARE_CHECKSUM, {"host_id": host_id, "checksum": checksum, "at": at})

    async def _store_mdm(self, host_id: int, info: MDMInfo) -> None:
        identified = bool(info.name or info.server_url)
        params = {"host_id": host_id, "enrolled": info.enrolled, "server_url": info.server_url,
                  "installed_from_dep": info.installed_from_dep, "name": info.name, "mdm_id": None,
                  "identified": identified}
        cur = await self._conn.execute(UPSERT_HOST_MDM, params)
        stored = await cur.fetchone()
        # No row back: nothing changed, so the solution was known. A NULL id for an identified
        # solution: it is new, and is created now.
        if identified and stored is not None and stored[0] is None:
            params["mdm_id"] = await self._get_or_create(GET_OR_CREATE_MDM_SOLUTION,
                                                         {"name": info.name, "server_url": info.server_url})
            await self._conn.execute(UPSERT_HOST_MDM, params)

    async def _store_munki(self, host_id: int, munki: MunkiInfo) -> None:
        await self._conn.execute(UPSERT_HOST_MUNKI, {"host_id": host_id, "version": munki.version})
        issues = {"names": [*munki.errors, *munki.warnings],
                  "types": ["error"] * len(munki.errors) + ["warning"] * len(munki.warnings)}
        if issues["names"]:
            await self._conn.execute(INSERT_MUNKI_ISSUES, issues)
        await self._conn.execute(REPLACE_HOST_MUNKI_ISSUES, {**issues, "host_id": host_id})
