"""Postgres implementation of fleet_core.ports.VulnerabilityRepository.

Each write is one statement over arrays (unnest), whatever the batch size, and writes only rows
that change: an unchanged re-run of the vulnerability job writes nothing.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection

from fleet_adapters.postgres.errors import translated
from fleet_adapters.postgres.memberships import fetch_one
from fleet_core.model.vulnerabilities import CVEMeta, SoftwareToMatch
from fleet_core.model.vulnerability_job import SoftwareCVE, StoredSoftware, VulnerabilityJobState

# Rows are only ever added or removed (their identity is their content), so count and newest id
# together change whenever the set does.
SELECT_SOFTWARE_VERSION: Final[LiteralString] = """
    SELECT count(*) AS n, coalesce(max(id), 0) AS newest FROM software
"""
SELECT_SOFTWARE_BATCH: Final[LiteralString] = """
    SELECT id, name, version, source, vendor, bundle_identifier, release, arch, extension_id, browser,
           generated_cpe
      FROM software WHERE id > %(after)s ORDER BY id LIMIT %(limit)s
"""
UPDATE_GENERATED_CPES: Final[LiteralString] = """
    UPDATE software s SET generated_cpe = x.cpe
      FROM unnest(%(ids)s::bigint[], %(cpes)s::text[]) AS x(id, cpe)
     WHERE s.id = x.id AND s.generated_cpe IS DISTINCT FROM x.cpe
"""
# Deletes what the batch no longer has and upserts what it has, in one statement; created_at of
# an existing row is never touched, and an unchanged row is not rewritten.
REPLACE_SOFTWARE_CVES: Final[LiteralString] = """
    WITH found AS (
        SELECT x.software_id, x.cve, x.resolved_in_version
          FROM unnest(%(found_ids)s::bigint[], %(cves)s::text[], %(resolved)s::text[])
               AS x(software_id, cve, resolved_in_version)
          JOIN software s ON s.id = x.software_id
    ), removed AS (
        DELETE FROM software_cve sc
         WHERE sc.software_id = ANY(%(batch_ids)s::bigint[])
           AND NOT EXISTS (SELECT 1 FROM found f WHERE f.software_id = sc.software_id AND f.cve = sc.cve)
        RETURNING 1
    ), written AS (
        INSERT INTO software_cve AS sc (software_id, cve, resolved_in_version, created_at)
        SELECT f.software_id, f.cve, f.resolved_in_version, %(at)s FROM found f ORDER BY f.software_id, f.cve
        ON CONFLICT (software_id, cve) DO UPDATE SET resolved_in_version = EXCLUDED.resolved_in_version
         WHERE sc.resolved_in_version IS DISTINCT FROM EXCLUDED.resolved_in_version
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM written) AS changed
"""
UPSERT_CVE_META: Final[LiteralString] = """
    INSERT INTO cve_meta AS m (cve, cvss_score, epss_probability, cisa_known_exploit, published, description)
    SELECT x.cve, x.cvss_score, x.epss_probability, x.cisa_known_exploit, x.published, x.description
      FROM unnest(%(cves)s::text[], %(cvss)s::double precision[], %(epss)s::double precision[],
                  %(cisa)s::boolean[], %(published)s::timestamptz[], %(descriptions)s::text[])
           AS x(cve, cvss_score, epss_probability, cisa_known_exploit, published, description)
     ORDER BY x.cve
    ON CONFLICT (cve) DO UPDATE
       SET cvss_score = EXCLUDED.cvss_score, epss_probability = EXCLUDED.epss_probability,
           cisa_known_exploit = EXCLUDED.cisa_known_exploit, published = EXCLUDED.published,
           description = EXCLUDED.description
     WHERE (m.cvss_score, m.epss_probability, m.cisa_known_exploit, m.published, m.description)
           IS DISTINCT FROM (EXCLUDED.cvss_score, EXCLUDED.epss_probability, EXCLUDED.cisa_known_exploit,
                             EXCLUDED.published, EXCLUDED.description)
"""
SELECT_JOB_STATE: Final[LiteralString] = """
    SELECT vuln_feed_version, vuln_software_version, vuln_finished_at FROM software_jobs_state WHERE id = 1
"""
UPDATE_JOB_STATE: Final[LiteralString] = """
    UPDATE software_jobs_state
       SET vuln_feed_version = %(feed)s, vuln_software_version = %(software)s, vuln_finished_at = %(finished)s
     WHERE id = 1
"""


class PgVulnerabilityRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def software_version(self) -> str:
        with translated():
            row = await fetch_one(self._conn, SELECT_SOFTWARE_VERSION, {})
        assert row is not None
        return f"{row['n']}:{row['newest']}"

    async def software_batch(self, after_id: int, limit: int) -> builtins.list[StoredSoftware]:
        with translated():
            async with self._conn.cursor() as cur:
                await cur.execute(SELECT_SOFTWARE_BATCH, {"after": after_id, "limit": limit})
                rows = await cur.fetchall()
        return [StoredSoftware(
            software=SoftwareToMatch(id=r[0], name=r[1], version=r[2], source=r[3], vendor=r[4],
                                     bundle_identifier=r[5], release=r[6], arch=r[7], extension_id=r[8],
                                     browser=r[9]),
            generated_cpe=r[10]) for r in rows]

    async def set_generated_cpes(self, cpes: Mapping[int, str]) -> None:
        if not cpes:
            return
        ids = sorted(cpes)
        with translated():
            await self._conn.execute(UPDATE_GENERATED_CPES, {"ids": ids, "cpes": [cpes[i] for i in ids]})

    async def replace_cves(self, software_ids: Sequence[int], found: Sequence[SoftwareCVE],
                           at: dt.datetime) -> int:
        if not software_ids:
            return 0
        with translated():
            row = await fetch_one(self._conn, REPLACE_SOFTWARE_CVES, {
                "batch_ids": list(software_ids), "found_ids": [f.software_id for f in found],
                "cves": [f.cve for f in found], "resolved": [f.resolved_in_version for f in found], "at": at})
        assert row is not None
        return int(row["changed"])

    async def upsert_cve_meta(self, metas: Sequence[CVEMeta]) -> None:
        if not metas:
            return
        with translated():
            await self._conn.execute(UPSERT_CVE_META, {
                "cves": [m.cve for m in metas], "cvss": [m.cvss_score for m in metas],
                "epss": [m.epss_probability for m in metas], "cisa": [m.cisa_known_exploit for m in metas],
                "published": [m.published for m in metas], "descriptions": [m.description for m in metas]})

    async def job_state(self) -> VulnerabilityJobState:
        with translated():
            row = await fetch_one(self._conn, SELECT_JOB_STATE, {})
        if row is None:
            return VulnerabilityJobState()
        return VulnerabilityJobState(feed_version=row["vuln_feed_version"],
                                     software_version=row["vuln_software_version"],
                                     finished_at=row["vuln_finished_at"])

    async def save_job_state(self, state: VulnerabilityJobState) -> None:
        with translated():
            await self._conn.execute(UPDATE_JOB_STATE, {"feed": state.feed_version, "software": state.software_version,
                                                        "finished": state.finished_at})

