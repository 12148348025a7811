"""Named schedules of background jobs (Fleet's cron schedules), and running one now (POST /trigger).

Each schedule groups the periodic jobs of this server that do the work of one of Fleet's cron
schedules. A run of a schedule, periodic or triggered, holds the schedule's lock (the
ScheduleLock port; across server processes on the same database with the Postgres adapter): a
trigger while a run is in progress anywhere is refused (Conflict), and a periodic tick that finds
a run in progress skips, as that run does the work.

As in Fleet, a trigger answers once the run has started; the run goes on in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import BadRequest, Conflict
from fleet_core.ports import ScheduleLock

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
# Why a Fleet schedule this server has no jobs for is refused, where there is more to say.
NOT_RUN_BECAUSE = {
    "usage_statistics": "this server collects and sends no usage statistics",
    "integrations": "this server has no Jira or Zendesk integrations",
    "apple_mdm_dep_profile_assigner": "this server has no MDM",
    "mdm_apple_profile_manager": "this server has no MDM",
}


@attrs.define
class ScheduleService:
    """The schedules this server runs, by Fleet's name, each with its jobs in running order."""

    jobs: Mapping[str, Sequence[Job]]
    lock: ScheduleLock
    # Triggered runs in progress in this process, so that stop() can end them.
    _runs: set[asyncio.Task[None]] = attrs.field(init=False, factory=set)

    def guarded(self, name: str, job: Job) -> Job:
        """``job`` as a periodic tick of schedule ``name``: it runs holding the schedule's lock,
        and is skipped while a run of the schedule is in progress (in any process)."""
        async def tick() -> None:
            async with self.lock.hold(name) as taken:
                if not taken:
                    log.info("schedule_tick_skipped", schedule=name)
                    return
                await job()
        return tick

    async def trigger(self, viewer: Viewer, name: str) -> None:
        """Start a run of every job of the schedule now and return once it holds the schedule's
        lock; the run goes on in the background. A job that fails is logged and does not stop
        the others, as in a periodic run.

        Raises:
            PermissionDenied: not a global admin.
            BadRequest: ``name`` is not a schedule, or one this server does not run.
            Conflict: a run of the schedule is in progress, in this process or another.
        """
        authorize(viewer, Action.TRIGGER_SCHEDULES)
        if name not in self.jobs:
            supported = ", ".join(sorted(self.jobs))
            if not name:
                raise BadRequest(f"is required; supported trigger names are {supported}", name="name")
            if name in FLEET_SCHEDULES:
                reason = NOT_RUN_BECAUSE.get(name, "it has no jobs here yet")
                raise BadRequest(f"the {name} schedule is not run by this server ({reason}); supported names are "
                                 f"{supported}", name="name")
            raise BadRequest(f"invalid name; supported trigger names are {supported}", name="name")
        started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._run(name, started, viewer.user.id), name=f"trigger-{name}")
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        if not await asyncio.shield(started):
            raise Conflict(f"cannot trigger {name} run: a run of the {name} schedule is in progress")

    async def _run(self, name: str, started: asyncio.Future[bool], user_id: int | None) -> None:
        try:
            async with self.lock.hold(name) as taken:
                started.set_result(taken)
                if not taken:
                    return
                log.info("schedule_triggered", schedule=name, user_id=user_id)
                for job in self.jobs[name]:
                    try:
                        await job()
                    except Exception:
                        log.exception("triggered_job_failed", schedule=name,
                                      job=getattr(job, "__name__", repr(job)))
                log.info("schedule_trigger_done", schedule=name)
        except Exception as exc:
            if started.done():
                log.exception("schedule_run_failed", schedule=name)
            else:
                # Taking the lock itself failed (the database is down): the trigger reports it.
                started.set_exception(exc)
        finally:
            if not started.done():
                started.cancel()

    async def stop(self) -> None:
        """End the triggered runs still in progress in this process (the process is stopping)."""
        runs = list(self._runs)
        for task in runs:
            task.cancel()
        for task in runs:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def runs_in_progress(self) -> int:
        """How many triggered runs of this process are still going (tests and tools poll it)."""
        return len(self._runs)
