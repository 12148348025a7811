"""The Metrics port over the recording adapter and Prometheus: what is reported is what is read
back, by exactly the amounts reported; and the adapters' metered wrappers count at their port
boundary (log destinations, webhooks, Redis) against real files, a real HTTP server and real Redis."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
import redis.asyncio
from prometheus_client import REGISTRY
from redis.exceptions import ResponseError

from fleet_adapters.logs import log_destination, on_delivery
from fleet_adapters.memory.metrics import RecordingMetrics
from fleet_adapters.metrics import MeteredRedis, MeteredWebhookSender, PrometheusMetrics, count_log_delivery
from fleet_adapters.webhook_sender import HttpWebhookSender
from fleet_core.errors import Unavailable
from fleet_core.ports import NO_METRICS, Metrics

pytestmark = pytest.mark.anyio


def prometheus(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@attrs.frozen
class Reader:
    """How a test reads back each kind of report from one adapter."""

    enrolled: Callable[[], float]
    seen: Callable[[], float]
    campaigns: Callable[[], float]
    results: Callable[[], float]
    node_key_hits: Callable[[], float]
    node_key_misses: Callable[[], float]
    status: Callable[[str], float]
    job_runs: Callable[[str, bool], float]


def _recording() -> tuple[Metrics, Reader]:
    m = RecordingMetrics()
    return m, Reader(
        enrolled=lambda: m.counts["hosts_enrolled"], seen=lambda: m.counts["hosts_seen"],
        campaigns=lambda: m.counts["campaigns"], results=lambda: m.counts["live_results"],
        node_key_hits=lambda: m.counts["cache:node_key:hit"],
        node_key_misses=lambda: m.counts["cache:node_key:miss"],
        status=lambda s: m.statuses.get(s, 0),
        job_runs=lambda job, ok: sum(1 for j, _, o in m.job_runs if j == job and o == ok))


def _prometheus() -> tuple[Metrics, Reader]:
    return PrometheusMetrics(), Reader(
        enrolled=lambda: prometheus("fleet_hosts_enrolled_total"),
        seen=lambda: prometheus("fleet_hosts_seen_total"),
        campaigns=lambda: prometheus("fleet_live_query_campaigns_total"),
        results=lambda: prometheus("fleet_live_query_results_total"),
        node_key_hits=lambda: prometheus("fleet_cache_lookups_total", cache="node_key", result="hit"),
        node_key_misses=lambda: prometheus("fleet_cache_lookups_total", cache="node_key", result="miss"),
        status=lambda s: prometheus("fleet_hosts", status=s),
        job_runs=lambda job, ok: prometheus("fleet_job_duration_seconds_count", job=job,
                                            outcome="ok" if ok else "failed"))


@pytest.fixture(params=["recording", "prometheus"])
def adapter(request: pytest.FixtureRequest) -> tuple[Metrics, Reader]:
    return _recording() if request.param == "recording" else _prometheus()


def test_counts_move_by_exactly_what_was_reported(adapter: tuple[Metrics, Reader]) -> None:
    metrics, read = adapter
    before = (read.enrolled(), read.seen(), read.campaigns(), read.results(), read.node_key_hits(),
              read.node_key_misses())
    metrics.hosts_enrolled()
    metrics.hosts_enrolled(2)
    metrics.hosts_seen(7)
    metrics.campaign_started()
    metrics.live_results(4)
    metrics.cache_lookup("node_key", hit=True)
    metrics.cache_lookup("node_key", hit=True)
    metrics.cache_lookup("node_key", hit=False)
    after = (read.enrolled(), read.seen(), read.campaigns(), read.results(), read.node_key_hits(),
             read.node_key_misses())
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 7, 1, 4, 2, 1]


def test_host_statuses_keep_the_latest_sample(adapter: tuple[Metrics, Reader]) -> None:
    metrics, read = adapter
    metrics.host_statuses({"online": 5, "offline": 2})
    metrics.host_statuses({"online": 3, "offline": 4})
    assert (read.status("online"), read.status("offline")) == (3, 4)


def test_job_runs_are_counted_by_job_and_outcome(adapter: tuple[Metrics, Reader]) -> None:
    metrics, read = adapter
    ok, failed = read.job_runs("contract-job", True), read.job_runs("contract-job", False)
    metrics.job_ran("contract-job", 0.25, ok=True)
    metrics.job_ran("contract-job", 1.5, ok=False)
    metrics.job_ran("contract-job", 0.01, ok=True)
    assert (read.job_runs("contract-job", True) - ok, read.job_runs("contract-job", False) - failed) == (2, 1)


def test_the_default_reports_nothing_and_accepts_everything() -> None:
    NO_METRICS.hosts_enrolled()
    NO_METRICS.hosts_seen(3)
    NO_METRICS.host_statuses({"online": 1})
    NO_METRICS.campaign_started()
    NO_METRICS.live_results(2)
    NO_METRICS.cache_lookup("node_key", hit=True)
    NO_METRICS.job_ran("x", 0.1, ok=True)


# ---- the metered adapters -------------------------------------------------------------------------


async def test_log_batches_and_records_are_counted_per_destination_with_failures(tmp_path: Path) -> None:
    def batches(outcome: str) -> tuple[float, float]:
        labels = {"destination": "filesystem", "log_type": "result", "outcome": outcome}
        return prometheus("fleet_log_batches_total", **labels), prometheus("fleet_log_records_total", **labels)

    ok_before, failed_before = batches("ok"), batches("failed")
    stop_counting = on_delivery(count_log_delivery)
    good = log_destination("filesystem", result_path=tmp_path / "result", status_path=tmp_path / "status")
    await good.write("result", [b'{"a":1}', b'{"a":2}', b'{"a":3}'])
    assert (tmp_path / "result").read_bytes().count(b"\n") == 3
    # A directory where the file should be: the destination refuses the batch, and it counts as failed.
    (tmp_path / "blocked").mkdir()
    bad = log_destination("filesystem", result_path=tmp_path / "blocked", status_path=tmp_path / "status2")
    try:
        with pytest.raises(Unavailable):
            await bad.write("result", [b'{"b":1}', b'{"b":2}'])
    finally:
        stop_counting()
    ok_after, failed_after = batches("ok"), batches("failed")
    assert (ok_after[0] - ok_before[0], ok_after[1] - ok_before[1]) == (1, 3)
    assert (failed_after[0] - failed_before[0], failed_after[1] - failed_before[1]) == (1, 2)
    await good.aclose()
    await bad.aclose()


@pytest.fixture
def receiver() -> Iterator[str]:
    """A local HTTP server: 200 on /ok, 500 on anything else."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200 if self.path == "/ok" else 500)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()
    server.server_close()


async def test_webhook_deliveries_and_failures_are_counted(receiver: str) -> None:
    ok, failed = prometheus("fleet_webhook_deliveries_total", outcome="ok"), \
        prometheus("fleet_webhook_deliveries_total", outcome="failed")
    sender = MeteredWebhookSender(HttpWebhookSender(timeout_seconds=5))
    await sender.post(f"{receiver}/ok", {"x": 1}, delivery_id="d1")
    with pytest.raises(Unavailable):
        await sender.post(f"{receiver}/broken", {"x": 2}, delivery_id="d2")
    assert prometheus("fleet_webhook_deliveries_total", outcome="ok") - ok == 1
    assert prometheus("fleet_webhook_deliveries_total", outcome="failed") - failed == 1


@pytest.mark.redis
async def test_redis_commands_and_errors_are_counted_on_a_real_redis(redis_url: str) -> None:
    client = MeteredRedis.from_pool(redis.asyncio.ConnectionPool.from_url(redis_url))
    try:
        commands, errors = prometheus("fleet_redis_commands_total"), prometheus("fleet_redis_errors_total")
        await client.set("metrics:k", "v")
        assert await client.get("metrics:k") == b"v"
        async with client.pipeline(transaction=False) as pipe:
            pipe.incr("metrics:n")
            pipe.incr("metrics:n")
            pipe.incr("metrics:n")
            assert await pipe.execute() == [1, 2, 3]
        with pytest.raises(ResponseError):
            await client.incr("metrics:k")  # not an integer
        assert prometheus("fleet_redis_commands_total") - commands == 6
        assert prometheus("fleet_redis_errors_total") - errors == 1
    finally:
        await client.aclose()

