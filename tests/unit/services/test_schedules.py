"""Named schedules of background jobs and POST /trigger (fleet_core.services.schedules)."""

from __future__ import annotations

import asyncio

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_adapters.memory.schedule_lock import InMemoryScheduleLock
from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, Conflict, PermissionDenied
from fleet_core.services.schedules import AUTOMATIONS, CLEANUPS_THEN_AGGREGATION, Job, ScheduleService
from tests.unit.services.support import MakeUser, create_team

pytestmark = pytest.mark.anyio


class Recorder:
    """Jobs that note when they run; ``blocking`` ones wait until released."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    def job(self, name: str, *, fails: bool = False, blocking: bool = False) -> Job:
        async def run() -> None:
            self.ran.append(name)
            if blocking:
                self.started.set()
                await self.release.wait()
            if fails:
                raise RuntimeError(f"{name} failed")
        return run


async def test_a_trigger_starts_a_run_of_every_job_in_order_even_past_a_failing_one(admin: Viewer) -> None:
    recorder = Recorder()
    schedules = ScheduleService(jobs={"nightly": (recorder.job("a"), recorder.job("b", fails=True),
                                                  recorder.job("c"))}, lock=InMemoryScheduleLock())
    # As in Fleet, the trigger returns once the run has started; the run goes on.
    await schedules.trigger(admin, "nightly")
    await schedules_idle(schedules)
    assert recorder.ran == ["a", "b", "c"]


async def schedules_idle(schedules: ScheduleService) -> None:
    async with asyncio.timeout(5):
        while schedules.runs_in_progress():
            await asyncio.sleep(0)


@pytest.mark.parametrize("name", ["", "usage_statistics", "no_such_schedule"])
async def test_only_the_schedules_this_server_runs_can_be_triggered(kit: InMemoryKit, admin: Viewer,
                                                                    name: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await kit.services.schedules.trigger(admin, name)
    assert caught.value.name == "name"
    assert AUTOMATIONS in caught.value.reason and CLEANUPS_THEN_AGGREGATION in caught.value.reason


async def test_only_global_admins_trigger(kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    for viewer in (await make_user(global_role="maintainer"), await make_user(teams=[(team_id, "admin")])):
        with pytest.raises(PermissionDenied):
            await kit.services.schedules.trigger(viewer, CLEANUPS_THEN_AGGREGATION)
    await kit.services.schedules.trigger(admin, CLEANUPS_THEN_AGGREGATION)


async def test_a_trigger_during_a_run_is_refused_and_a_periodic_tick_skips(admin: Viewer) -> None:
    recorder = Recorder()
    schedules = ScheduleService(jobs={"nightly": (recorder.job("slow", blocking=True),)}, lock=InMemoryScheduleLock())
    await schedules.trigger(admin, "nightly")
    await recorder.started.wait()
    assert schedules.runs_in_progress() == 1
    # The guard only bounds a regression (a second run waiting for the lock); the refusal is immediate.
    async with asyncio.timeout(5):
        with pytest.raises(Conflict):
            await schedules.trigger(admin, "nightly")
        await schedules.guarded("nightly", recorder.job("tick"))()
    recorder.release.set()
    await schedules_idle(schedules)
    assert recorder.ran == ["slow"]
    await schedules.guarded("nightly", recorder.job("tick"))()
    assert recorder.ran == ["slow", "tick"]


async def test_a_lock_held_elsewhere_refuses_the_trigger_and_skips_the_tick(admin: Viewer) -> None:
    """The lock is the port's: another holder (another process, for Postgres) blocks this one."""
    recorder = Recorder()
    lock = InMemoryScheduleLock()
    schedules = ScheduleService(jobs={"nightly": (recorder.job("run"),)}, lock=lock)
    async with lock.hold("nightly") as taken:
        assert taken
        with pytest.raises(Conflict):
            await schedules.trigger(admin, "nightly")
        await schedules.guarded("nightly", recorder.job("tick"))()
    assert recorder.ran == []
    assert schedules.runs_in_progress() == 0
    await schedules.trigger(admin, "nightly")
    await schedules_idle(schedules)
    assert recorder.ran == ["run"]


async def test_stop_ends_the_runs_in_progress(admin: Viewer) -> None:
    recorder = Recorder()
    lock = InMemoryScheduleLock()
    schedules = ScheduleService(jobs={"nightly": (recorder.job("slow", blocking=True),)}, lock=lock)
    await schedules.trigger(admin, "nightly")
    await recorder.started.wait()
    await schedules.stop()
    assert schedules.runs_in_progress() == 0
    # The cancelled run released the lock.
    async with lock.hold("nightly") as taken:
        assert taken
