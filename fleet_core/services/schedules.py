"""Named schedules of background jobs (Fleet's cron schedules), and running one now (POST /trigger).

Each schedule groups the periodic jobs of this server that do the work of one of Fleet's cron
schedules. A run of a schedule, periodic or triggered, holds the schedule's lock: a trigger
while a run is in progress is refused (Conflict), and a periodic tick that finds a triggered run
in progress skips, as that run does its work. The lock is per process: runs in another server
process are not seen, which is harmless because every job is safe to run concurrently (the
webhook planners take a database lock, host expiry and campaign cleanup are idempotent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import BadRequest, Conflict

log = structlog.get_logger(__name__)

Job = Callable[[], Awaitable[object]]

AUTOMATIONS = "automations"
CLEANUPS_THEN_AGGREGATION = "cleanups_then_aggregation"
VULNERABILITIES = "vulnerabilities"
# Every name Fleet's trigger accepts; the ones without jobs here are refused with a reason.
FLEET_SCHEDULES = (
    "apple_mdm_dep_profile_assigner", AUTOMATIONS, CLEANUPS_THEN_AGGREGATION, "integrations",
    "mdm_apple_profile_manager", "usage_statistics", VULNERABILITIES,
)


@attrs.define
class ScheduleService:
    """The schedules this server runs, by Fleet's name, each with its jobs in running order."""

    jobs: Mapping[str, Sequence[Job]]
    _locks: dict[str, asyncio.Lock] = attrs.field(init=False, factory=dict)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def guarded(self, name: str, job: Job) -> Job:
        """``job`` as a periodic tick of schedule ``name``: it runs holding the schedule's lock,
        and is skipped while another run of the schedule is in progress."""
        async def tick() -> None:
            lock = self._lock(name)
            if lock.locked():
                log.info("schedule_tick_skipped", schedule=name)
                return
            async with lock:
                await job()
        return tick

    async def trigger(self, viewer: Viewer, name: str) -> None:
        """Run every job of the schedule now, in this process; returns when they are done. A job
        that fails is logged and does not stop the others, as in a periodic run.

        Raises:
            PermissionDenied: not a global admin.
            BadRequest: ``name`` is not a schedule, or one this server does not run.
            Conflict: a run of the schedule is in progress.
        """
        authorize(viewer, Action.TRIGGER_SCHEDULES)
        if name not in self.jobs:
            if not name:
                raise BadRequest(f"is required; supported trigger names are {', '.join(sorted(self.jobs))}",
                                 name="name")
            if name in FLEET_SCHEDULES:
                raise BadRequest(f"the {name} schedule is not run by this server; supported names are "
                                 f"{', '.join(sorted(self.jobs))}", name="name")
            raise BadRequest(f"invalid name; supported trigger names are {', '.join(sorted(self.jobs))}",
                             name="name")
        lock = self._lock(name)
        if lock.locked():
            raise Conflict(f"cannot trigger {name} run: a run of the {name} schedule is in progress")
        # No await between the check and taking the lock, so two triggers cannot both pass it.
        async with lock:
            log.info("schedule_triggered", schedule=name, user_id=viewer.user.id)
            for job in self.jobs[name]:
                try:
                    await job()
                except Exception:
                    log.exception("triggered_job_failed", schedule=name, job=getattr(job, "__name__", repr(job)))
