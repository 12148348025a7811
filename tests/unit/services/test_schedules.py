"""Named schedules of background jobs and POST /trigger (fleet_core.services.schedules)."""

from __future__ import annotations

import asyncio

import pytest

from fleet_adapters.memory import InMemoryKit
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


async def test_a_trigger_runs_every_job_in_order_even_past_a_failing_one(admin: Viewer) -> None:
    recorder = Recorder()
    schedules = ScheduleService(jobs={"nightly": (recorder.job("a"), recorder.job("b", fails=True),
                                                  recorder.job("c"))})
    await schedules.trigger(admin, "nightly")
    assert recorder.ran == ["a", "b", "c"]


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
    schedules = ScheduleService(jobs={"nightly": (recorder.job("slow", blocking=True),)})
    running = asyncio.create_task(schedules.trigger(admin, "nightly"))
    await recorder.started.wait()
    # The guard only bounds a regression (a second run waiting for the lock); the refusal is immediate.
    async with asyncio.timeout(5):
        with pytest.raises(Conflict):
            await schedules.trigger(admin, "nightly")
        await schedules.guarded("nightly", recorder.job("tick"))()
    recorder.release.set()
    await running
    assert recorder.ran == ["slow"]
    await schedules.guarded("nightly", recorder.job("tick"))()
    assert recorder.ran == ["slow", "tick"]
