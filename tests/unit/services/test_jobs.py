"""Periodic background jobs."""

from __future__ import annotations

import asyncio
import time

import pytest

from fleet_core.services.jobs import periodic

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
