"""The background jobs of a server process, in one table, and how a process runs them.

Every periodic job is a row of ``background_jobs``: its name, its period, what it calls and the
Fleet schedule it belongs to (whose lock its ticks hold, and which POST /trigger runs). The
process that serves the APIs runs the whole table for as long as its services are open
(``running_jobs``); the apps' own lifespans start none. A new job is one more row here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
import structlog

from fleet_core.ports import Metrics
from fleet_core.services.schedules import AUTOMATIONS, CLEANUPS_THEN_AGGREGATION, VULNERABILITIES, Job

if TYPE_CHECKING:
    from fleet_core.services import Services
    from fleet_core.services.agents import AgentService
    from fleet_core.services.carves import CarveService
    from fleet_core.services.hosts import HostService
    from fleet_core.services.live_queries import LiveQueryService
    from fleet_core.services.software import SoftwareService
    from fleet_core.services.sso import SSOService
    from fleet_core.services.vulnerabilities import VulnerabilityService
    from fleet_core.services.vulnerability_automations import VulnerabilityAutomationService
    from fleet_core.services.webhooks import WebhookService

log = structlog.get_logger(__name__)

# Host expiry counts in days, so checking a few times an hour is plenty.
HOST_EXPIRY_PERIOD = dt.timedelta(minutes=10)
# Campaigns nobody reads are dropped after a minute; finding them within another is enough.
CAMPAIGN_CLEANUP_PERIOD = dt.timedelta(minutes=1)
# Carves expire after a day; an hour late is fine, and each pass handles a bounded batch.
CARVE_EXPIRY_PERIOD = dt.timedelta(hours=1)
# Software host counts: one statement; a title first reported is listed from the next refresh.
SOFTWARE_COUNTS_PERIOD = dt.timedelta(minutes=10)
# IdP metadata fetched from its URL: a rotated signing key is picked up within the hour.
SSO_METADATA_PERIOD = dt.timedelta(hours=1)
# Hosts by status for the metrics: sampled, so that a scrape never counts the hosts table.
HOST_STATUS_SAMPLE_PERIOD = dt.timedelta(minutes=1)


@attrs.frozen
class BackgroundJob:
    name: str
    period: dt.timedelta
    run: Job
    # The Fleet schedule the job does the work of, if any: its ticks skip while a run of the
    # schedule is in progress, and POST /trigger?name=<schedule> runs it now.
    schedule: str | None = None
    # Run once as soon as the process starts, rather than one period later.
    run_first: bool = False
    # Run once more when the process stops, so that nothing it buffers is lost.
    run_at_exit: bool = False


def background_jobs(*, hosts: HostService, webhooks: WebhookService, live_queries: LiveQueryService,
                    carves: CarveService, agents: AgentService, software: SoftwareService,
                    vulnerability_automations: VulnerabilityAutomationService,
                    vulnerabilities: VulnerabilityService | None = None,
                    sso: SSOService | None = None) -> tuple[BackgroundJob, ...]:
    """Every background job of a server process, in the order they start (the vulnerability job
    only when this instance runs it: --vulnerabilities-current-instance-checks)."""
    detection: tuple[BackgroundJob, ...] = ()
    if vulnerabilities is not None and vulnerabilities.settings.runs_here:
        detection = (BackgroundJob("vulnerabilities", vulnerabilities.settings.periodicity, vulnerabilities.run,
                                   schedule=VULNERABILITIES),)
    return (
        BackgroundJob("host-expiry", HOST_EXPIRY_PERIOD, hosts.expire, schedule=CLEANUPS_THEN_AGGREGATION,
                      run_first=True),
        BackgroundJob("webhooks", webhooks.schedule.check_interval, webhooks.run, schedule=AUTOMATIONS),
        BackgroundJob("live-query-cleanup", CAMPAIGN_CLEANUP_PERIOD, live_queries.cleanup,
                      schedule=CLEANUPS_THEN_AGGREGATION),
        BackgroundJob("carve-expiry", CARVE_EXPIRY_PERIOD, carves.expire, schedule=CLEANUPS_THEN_AGGREGATION),
        # Not at start: host-expiry's first run holds the schedule then, and the stored counts
        # survive a restart anyway.
        BackgroundJob("software-counts", SOFTWARE_COUNTS_PERIOD, software.refresh_counts,
                      schedule=CLEANUPS_THEN_AGGREGATION),
        *detection,
        # Fleet runs the vulnerability automations in its vulnerabilities schedule, after detection:
        # a trigger of that schedule runs detection then this; the ticks catch up in between.
        BackgroundJob("vulnerability-automations", vulnerability_automations.check_interval,
                      vulnerability_automations.run, schedule=VULNERABILITIES),
        # Seen times of check-ins are buffered in memory and written in one batch per flush.
        BackgroundJob("seen-flush", agents.settings.seen_flush_interval, agents.flush_seen, run_at_exit=True),
        *((BackgroundJob("sso-metadata", SSO_METADATA_PERIOD, sso.refresh_metadata),) if sso is not None else ()),
        # Every process samples (no schedule): the metric keeps the latest sample of any of them.
        BackgroundJob("host-status-metrics", HOST_STATUS_SAMPLE_PERIOD, hosts.sample_statuses, run_first=True),
    )


def jobs_by_schedule(jobs: Sequence[BackgroundJob]) -> Mapping[str, Sequence[Job]]:
    """What each Fleet schedule runs when triggered, in table order."""
    grouped: dict[str, list[Job]] = {}
    for job in jobs:
        if job.schedule is not None:
            grouped.setdefault(job.schedule, []).append(job.run)
    return {name: tuple(runs) for name, runs in grouped.items()}


@contextlib.asynccontextmanager
async def running_jobs(services: Services) -> AsyncIterator[None]:
    """Run every background job of ``services`` while the block is open (the process's lifespan)."""
    async with contextlib.AsyncExitStack() as stack:
        # Triggered runs end with the periodic jobs (the stack unwinds in reverse).
        stack.push_async_callback(services.schedules.stop)
        for job in services.jobs:
            timed = measured(job.name, job.run, services.metrics)
            run = timed if job.schedule is None else services.schedules.guarded(job.schedule, timed)
            if job.run_at_exit:
                stack.push_async_callback(_last_run, job.name, timed)
            await stack.enter_async_context(
                periodic(job.period.total_seconds(), run, name=job.name, run_first=job.run_first))
        yield


def measured(name: str, run: Job, metrics: Metrics) -> Job:
    """``run`` reporting each run's duration and outcome to ``metrics`` (a run skipped because
    another process holds its schedule never starts, so it is not counted)."""

    async def timed() -> object:
        started = time.perf_counter()
        ok = False
        try:
            result = await run()
            ok = True
            return result
        finally:
            metrics.job_ran(name, time.perf_counter() - started, ok=ok)

    return timed


async def _last_run(name: str, run: Job) -> None:
    try:
        await run()
    except Exception:
        # The process is stopping either way; what could not be written is logged.
        log.exception("background_job_failed", job=name)


async def _every(seconds: float, job: Callable[[], Awaitable[object]], name: str, run_first: bool) -> None:
    if not run_first:
        await asyncio.sleep(seconds)
    while True:
        try:
            await job()
        except Exception:
            # One failed run must not end the job; the next tick tries again.
            log.exception("background_job_failed", job=name)
        await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def periodic(seconds: float, job: Callable[[], Awaitable[object]], *, name: str,
                   run_first: bool = False) -> AsyncIterator[None]:
    """Run ``job`` every ``seconds`` while the block is open; stop it when the block closes."""
    task = asyncio.create_task(_every(seconds, job, name, run_first), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
