"""What the services report to the Metrics port (recorded by the in-memory kit's RecordingMetrics):
enrollments, the node-key cache, check-ins written, hosts by status, live campaigns and answers,
and every background job run with its outcome."""

from __future__ import annotations

import asyncio
import time

import pytest

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_adapters.memory.metrics import RecordingMetrics
from fleet_core.authz import Viewer
from fleet_core.rules.campaigns import query_name
from fleet_core.rules.targets import TargetSelection
from fleet_core.services.agents import QueryResult
from fleet_core.services.jobs import measured, running_jobs
from tests.unit.services.support import ENROLL_SECRET, enroll_host

pytestmark = pytest.mark.anyio


async def test_enrollments_cache_lookups_and_written_check_ins_are_counted(kit: InMemoryKit, admin: Viewer) -> None:
    await enroll_host(kit, admin, "one")  # enrolls, then authenticates once: a miss
    await enroll_host(kit, admin, "two")
    counts = kit.metrics.counts
    assert counts["hosts_enrolled"] == 2
    assert (counts["cache:node_key:miss"], counts["cache:node_key:hit"]) == (2, 0)
    node_key = await kit.services.agents.enroll(
        enroll_secret=ENROLL_SECRET, host_identifier="one",
        host_details={"system_info": {"hostname": "one", "uuid": "uuid-one"}})
    assert counts["hosts_enrolled"] == 3  # a re-enrollment counts too
    await kit.services.agents.authenticate(node_key)
    await kit.services.agents.authenticate(node_key)
    assert (counts["cache:node_key:miss"], counts["cache:node_key:hit"]) == (3, 1)
    # Two hosts checked in since the last flush: each written, and counted, once.
    assert await kit.services.agents.flush_seen() == 2
    assert counts["hosts_seen"] == 2
    assert await kit.services.agents.flush_seen() == 0
    assert counts["hosts_seen"] == 2


async def test_host_statuses_are_sampled_over_every_host(kit: InMemoryKit, admin: Viewer) -> None:
    await enroll_host(kit, admin, "a")
    await enroll_host(kit, admin, "b")
    counts = await kit.services.hosts.sample_statuses()
    assert kit.metrics.statuses == counts
    assert (counts["total"], counts["online"], counts["new"], counts["offline"], counts["mia"]) == (2, 2, 2, 0, 0)


async def test_live_campaigns_and_their_answers_are_counted(kit: InMemoryKit, admin: Viewer) -> None:
    first = await enroll_host(kit, admin, "first")
    second = await enroll_host(kit, admin, "second")
    started = await kit.services.live_queries.create_campaign(
        admin, query="SELECT 1;", query_id=None, selected=TargetSelection(host_ids=[first.id, second.id]))
    assert kit.metrics.counts["campaigns"] == 1
    name = query_name(started.campaign.id)
    await kit.services.agents.distributed_write(first, {name: QueryResult(rows=[{"1": "1"}])})
    await kit.services.agents.distributed_write(second, {name: QueryResult(rows=[], status=1, message="boom")})
    # Answers to other queries (details, labels) are not live results.
    await kit.services.agents.distributed_write(first, {"fleet_detail_query_uptime": QueryResult(rows=[])})
    assert kit.metrics.counts["live_results"] == 2


async def test_every_job_run_is_timed_with_its_outcome() -> None:
    metrics = RecordingMetrics()
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("a bad run")
        return calls

    run = measured("flaky", flaky, metrics)
    assert await run() == 1
    with pytest.raises(RuntimeError):
        await run()
    assert await run() == 3
    assert [(job, ok) for job, _, ok in metrics.job_runs] == [("flaky", True), ("flaky", False), ("flaky", True)]
    assert all(seconds >= 0 for _, seconds, _ in metrics.job_runs)


async def test_the_process_runner_measures_every_job_of_the_table() -> None:
    kit = in_memory_kit()

    def ran() -> set[str]:
        return {job for job, _, ok in kit.metrics.job_runs if ok}

    async with running_jobs(kit.services):
        # host-expiry and host-status-metrics run at start.
        deadline = time.monotonic() + 5
        while not {"host-expiry", "host-status-metrics"} <= ran():
            assert time.monotonic() < deadline, f"the jobs that run at start were measured: {ran()}"
            await asyncio.sleep(0.001)
        assert "seen-flush" not in ran()
    # seen-flush runs once more at exit.
    assert "seen-flush" in ran()
