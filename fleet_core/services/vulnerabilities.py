"""The vulnerability job: which software rows the feeds' CVEs apply to.

A run brings the feed files up to date (unless data sync is disabled), loads their index, and
pages through the software rows: each batch gets its CPE and CVE matches computed in a worker
thread (the matching is CPU work over the index) and its stored CPEs, software_cve rows and
cve_meta rows brought in line in one unit of work, writing only what changed (a CVE found again
keeps the created_at of when it was first found). A run whose feed index and software set are
both what the last complete run saw has nothing to do and stops after two reads.

Only one process runs the job at a time: it is the `vulnerabilities` schedule's job, and every run
of a schedule, periodic or triggered, holds the schedule's lock across processes
(fleet_core/services/schedules.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

import attrs
import structlog

from fleet_core.errors import Unavailable
from fleet_core.model.vulnerabilities import CVEMeta
from fleet_core.model.vulnerability_job import SoftwareCVE, StoredSoftware, VulnerabilityJobState
from fleet_core.model.vulnerability_settings import VulnerabilitiesConfig
from fleet_core.ports import Clock, UnitOfWorkFactory
from fleet_core.ports.vulnerability_feeds import VulnerabilityFeed, VulnerabilityIndex

log = structlog.get_logger(__name__)

# Software rows matched per unit of work: large enough that the per-batch statements are few
# (20 batches for 20,000 rows), small enough that a batch's transaction stays short.
BATCH_SIZE = 1000


@attrs.frozen
class BatchResult:
    """What one batch of software rows should store."""

    cpes: dict[int, str]  # software id -> new generated_cpe, only where it changed
    found: list[SoftwareCVE]
    metas: list[CVEMeta]  # for the CVEs this run had not seen yet


@attrs.frozen
class RunSummary:
    """What a run did (returned for tests and logged)."""

    skipped: bool = False
    software: int = 0
    cpes_changed: int = 0
    cves_found: int = 0
    rows_changed: int = 0


def match_batch(index: VulnerabilityIndex, batch: Sequence[StoredSoftware], known: Iterable[str]) -> BatchResult:
    """The CPEs and CVEs of a batch (pure computation over the index; run in a worker thread)."""
    cpes: dict[int, str] = {}
    found: list[SoftwareCVE] = []
    for row in batch:
        software = row.software
        cpe = index.cpe_for(software)
        if cpe != row.generated_cpe:
            cpes[software.id] = cpe
        seen: set[str] = set()
        for match in index.matches(cpe, software.version) if cpe else ():
            if match.cve not in seen:
                seen.add(match.cve)
                found.append(SoftwareCVE(software_id=software.id, cve=match.cve,
                                         resolved_in_version=match.resolved_in_version))
    new = {f.cve for f in found} - set(known)
    metas = list(index.meta(sorted(new)).values()) if new else []
    return BatchResult(cpes=cpes, found=found, metas=metas)


@attrs.frozen
class VulnerabilityService:
    uow: UnitOfWorkFactory
    clock: Clock
    feed: VulnerabilityFeed
    settings: VulnerabilitiesConfig

    async def run(self) -> RunSummary:
        """One run of the job (the periodic tick and POST /trigger?name=vulnerabilities).

        A feed that cannot be downloaded is logged and the files already there are used; when
        there are none, the run logs it and stops without touching what is stored.
        """
        started = time.monotonic()
        if not self.settings.disable_data_sync:
            try:
                await self.feed.sync()
            except Unavailable as exc:
                log.warning("vulnerability_feed_sync_failed", error=str(exc))
        try:
            index = await self.feed.load()
        except Unavailable as exc:
            log.warning("vulnerability_feed_unavailable", error=str(exc))
            return RunSummary(skipped=True)
        async with self.uow() as uow:
            state = await uow.vulnerabilities.job_state()
            software_version = await uow.vulnerabilities.software_version()
        if state.feed_version == index.version and state.software_version == software_version:
            log.info("vulnerabilities_unchanged", feed_version=index.version, software_version=software_version)
            return RunSummary(skipped=True)
        log.info("vulnerabilities_started", feed_version=index.version, software_version=software_version)
        summary = RunSummary()
        known: set[str] = set()
        after = 0
        while True:
            async with self.uow() as uow:
                batch = await uow.vulnerabilities.software_batch(after, BATCH_SIZE)
            if not batch:
                break
            result = await asyncio.to_thread(match_batch, index, batch, frozenset(known))
            now = self.clock.now()
            async with self.uow() as uow:
                repo = uow.vulnerabilities
                await repo.set_generated_cpes(result.cpes)
                changed = await repo.replace_cves([row.software.id for row in batch], result.found, now)
                await repo.upsert_cve_meta(result.metas)
                await uow.commit()
            known.update(meta.cve for meta in result.metas)
            after = batch[-1].software.id
            summary = attrs.evolve(summary, software=summary.software + len(batch),
                                   cpes_changed=summary.cpes_changed + len(result.cpes),
                                   cves_found=summary.cves_found + len(result.found),
                                   rows_changed=summary.rows_changed + changed)
            log.info("vulnerabilities_progress", software=summary.software, cves_found=summary.cves_found,
                     rows_changed=summary.rows_changed)
        async with self.uow() as uow:
            await uow.vulnerabilities.save_job_state(VulnerabilityJobState(
                feed_version=index.version, software_version=software_version, finished_at=self.clock.now()))
            await uow.commit()
        log.info("vulnerabilities_finished", software=summary.software, cpes_changed=summary.cpes_changed,
                 cves_found=summary.cves_found, rows_changed=summary.rows_changed,
                 seconds=round(time.monotonic() - started, 3))
        return summary
