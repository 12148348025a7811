"""Periodic background jobs, and the one table of them that a serving process runs."""

from __future__ import annotations

import asyncio
import time

import pytest

from fleet_adapters.memory import in_memory_kit
from fleet_core.services.jobs import periodic, running_jobs
from fleet_core.services.schedules import AUTOMATIONS, CLEANUPS_THEN_AGGREGATION, VULNERABILITIES

pytestmark = pytest.mark.anyio


async def test_a_job_runs_repeatedly_survives_failures_and_stops_with_its_block() -> None:
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("one bad run")

    async with periodic(0.001, job, name="test-job", run_first=True):
        deadline = time.monotonic() + 5
        while len(runs) < 4:
            assert time.monotonic() < deadline, "job did not keep running after a failure"
            await asyncio.sleep(0.001)
    stopped_at = len(runs)
    for _ in range(20):
        await asyncio.sleep(0.001)
    assert len(runs) == stopped_at


def test_every_background_job_is_in_the_one_table_and_the_trigger_runs_its_schedules_jobs() -> None:
    services = in_memory_kit().services
    assert [job.name for job in services.jobs] == [
        "host-expiry", "webhooks", "live-query-cleanup", "carve-expiry", "software-counts",
        "vulnerability-automations", "seen-flush", "sso-metadata", "host-status-metrics"]
    assert services.schedules.jobs == {
        AUTOMATIONS: (services.webhooks.run,),
        CLEANUPS_THEN_AGGREGATION: (services.hosts.expire, services.live_queries.cleanup, services.carves.expire,
                                    services.software.refresh_counts),
        VULNERABILITIES: (services.vulnerability_automations.run,),
    }


async def test_running_jobs_flushes_the_seen_times_once_more_when_the_process_stops() -> None:
    kit = in_memory_kit()
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, ["s3cret"], kit.clock.now())
        await uow.commit()
    agents = kit.services.agents
    node_key = await agents.enroll(enroll_secret="s3cret", host_identifier="h", host_details={})
    async with running_jobs(kit.services):
        await agents.authenticate(node_key)
        assert len(agents.seen) == 1
    assert len(agents.seen) == 0
