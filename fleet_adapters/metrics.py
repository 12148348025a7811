"""Prometheus metrics (GET /metrics): the metric objects, the core's Metrics port on them, and the
wrappers that meter adapters at their port boundary (log destinations, webhooks, Redis, the pool).

Every metric is defined once, here, on prometheus_client's default registry. Under `fleet serve`
each worker process writes its values to files in PROMETHEUS_MULTIPROC_DIR (set by the command
before prometheus_client is first imported: it picks its storage at import), and a scrape answered
by any worker adds up every process's files, so counts are the whole server's. Without that
variable (tests, one app under plain uvicorn) values live in the process.

docs/metrics.md lists every name; keep it in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import redis.asyncio
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client import generate_latest as _generate_latest
from redis.asyncio.client import Pipeline

from fleet_adapters.logs import DeliveryEvent
from fleet_adapters.postgres.pool import Pool
from fleet_core.ports import WebhookSender

MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
# Whether values go to files: decided when prometheus_client was first imported (just above,
# unless something imported it earlier with the same environment).
MULTIPROCESS: Final = bool(os.environ.get(MULTIPROCESS_ENV))
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
# How often each process samples its Postgres pool (in use, waiting): cheap, and fine-grained
# enough to see a pool that runs dry for a few seconds.
POOL_SAMPLE_SECONDS: Final = 5.0

# Agent requests take a few milliseconds; management pages up to seconds; the long-polling live
# query endpoints up to the rest period (25 s).
REQUEST_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS: Final = (0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

HTTP_REQUESTS: Final = Histogram(
    "fleet_http_request_duration_seconds",
    "HTTP requests by API (osquery: the agents' endpoints, fleet: the management API), method, route "
    "template and status; _count is the number of requests",
    ("api", "method", "route", "status"), buckets=REQUEST_BUCKETS)
HOSTS_ENROLLED: Final = Counter("fleet_hosts_enrolled", "Hosts enrolled or re-enrolled")
HOSTS_SEEN: Final = Counter(
    "fleet_hosts_seen", "Hosts whose last check-in time was written (each host at most once per seen flush)")
HOSTS_BY_STATUS: Final = Gauge(
    "fleet_hosts", "Hosts by status, sampled every minute by a background job", ("status",),
    multiprocess_mode="mostrecent")
LIVE_CAMPAIGNS: Final = Counter("fleet_live_query_campaigns", "Live query campaigns started")
LIVE_RESULTS: Final = Counter("fleet_live_query_results", "Host answers to live queries received")
LOG_BATCHES: Final = Counter(
    "fleet_log_batches", "osquery log batches handed to a destination, by outcome (ok or failed)",
    ("destination", "log_type", "outcome"))
LOG_RECORDS: Final = Counter(
    "fleet_log_records", "osquery log records in those batches, by outcome (ok, failed, or dropped: one record "
    "larger than the destination takes)",
    ("destination", "log_type", "outcome"))
WEBHOOK_DELIVERIES: Final = Counter(
    "fleet_webhook_deliveries", "Webhook POSTs, by outcome (ok or failed)", ("outcome",))
JOB_RUNS: Final = Histogram(
    "fleet_job_duration_seconds", "Background job runs by job and outcome; _count is the number of runs",
    ("job", "outcome"), buckets=JOB_BUCKETS)
POOL_CONNECTIONS: Final = Gauge(
    "fleet_postgres_pool_connections", "Postgres connections of the server's pools, by state (in_use, idle)",
    ("state",), multiprocess_mode="livesum")
POOL_WAITING: Final = Gauge(
    "fleet_postgres_pool_waiting", "Requests waiting for a Postgres connection", multiprocess_mode="livesum")
REDIS_COMMANDS: Final = Counter("fleet_redis_commands", "Redis commands sent (a pipeline counts each command)")
REDIS_ERRORS: Final = Counter("fleet_redis_errors", "Redis commands or pipelines that failed")
CACHE_LOOKUPS: Final = Counter(
    "fleet_cache_lookups", "Lookups in the hot path's caches, by cache and result (hit or miss)",
    ("cache", "result"))

# Children by label values, resolved once rather than on every request (prometheus_client's own
# lookup takes a lock and builds a tuple each time). The label sets are bounded: route templates,
# methods, statuses, cache names.
_REQUEST_CHILDREN: dict[tuple[str, str, str, int], Any] = {}
_CACHE_CHILDREN: dict[tuple[str, bool], Any] = {}
_LOG_CHILDREN: dict[tuple[str, str, bool], tuple[Any, Any]] = {}


def render() -> bytes:
    """Every metric in Prometheus' text format: the whole server's when it runs several processes."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return _generate_latest(registry)
    return _generate_latest(REGISTRY)


def observe_request(api: str, method: str, route: str, status: int, seconds: float) -> None:
    key = (api, method, route, status)
    child = _REQUEST_CHILDREN.get(key)
    if child is None:
        child = _REQUEST_CHILDREN[key] = HTTP_REQUESTS.labels(api, method, route, str(status))
    child.observe(seconds)


def record_log_batch(destination: str, log_type: str, records: int, *, ok: bool) -> None:
    """One batch handed to a log destination: what a destination adapter calls if it meters itself."""
    key = (destination, log_type, ok)
    children = _LOG_CHILDREN.get(key)
    if children is None:
        outcome = "ok" if ok else "failed"
        children = _LOG_CHILDREN[key] = (LOG_BATCHES.labels(destination, log_type, outcome),
                                         LOG_RECORDS.labels(destination, log_type, outcome))
    children[0].inc()
    children[1].inc(records)


def record_webhook_delivery(*, ok: bool) -> None:
    WEBHOOK_DELIVERIES.labels("ok" if ok else "failed").inc()


class PrometheusMetrics:
    """The core's Metrics port on the metrics above."""

    def job_ran(self, job: str, seconds: float, *, ok: bool) -> None:
        JOB_RUNS.labels(job, "ok" if ok else "failed").observe(seconds)

    def hosts_enrolled(self, count: int = 1) -> None:
        HOSTS_ENROLLED.inc(count)

    def hosts_seen(self, count: int) -> None:
        HOSTS_SEEN.inc(count)

    def host_statuses(self, counts: Mapping[str, int]) -> None:
        for status, count in counts.items():
            HOSTS_BY_STATUS.labels(status).set(count)

    def campaign_started(self) -> None:
        LIVE_CAMPAIGNS.inc()

    def live_results(self, count: int) -> None:
        LIVE_RESULTS.inc(count)

    def cache_lookup(self, cache: str, *, hit: bool) -> None:
        key = (cache, hit)
        child = _CACHE_CHILDREN.get(key)
        if child is None:
            child = _CACHE_CHILDREN[key] = CACHE_LOOKUPS.labels(cache, "hit" if hit else "miss")
        child.inc()


def count_log_delivery(event: DeliveryEvent) -> None:
    """The fleet_adapters.logs.on_delivery listener behind fleet_log_batches and fleet_log_records:
    every destination reports its own batches (and each record too large for it, as "dropped")."""
    if event.outcome == "dropped":
        LOG_RECORDS.labels(event.destination, event.log_type, "dropped").inc(event.records)
        return
    record_log_batch(event.destination, event.log_type, event.records, ok=event.outcome == "accepted")


class MeteredWebhookSender:
    """A WebhookSender counting its deliveries and their failures."""

    def __init__(self, inner: WebhookSender) -> None:
        self._inner = inner

    async def post(self, url: str, payload: Mapping[str, Any], *, delivery_id: str) -> None:
        ok = False
        try:
            await self._inner.post(url, payload, delivery_id=delivery_id)
            ok = True
        finally:
            record_webhook_delivery(ok=ok)


class MeteredPipeline(Pipeline):
    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        REDIS_COMMANDS.inc(len(self.command_stack))
        try:
            return await super().execute(raise_on_error)
        except Exception:
            REDIS_ERRORS.inc()
            raise


class MeteredRedis(redis.asyncio.Redis):
    """The Redis client counting the commands it sends and those that failed (pub/sub reads aside)."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        REDIS_COMMANDS.inc()
        try:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except Exception:
            REDIS_ERRORS.inc()
            raise

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> MeteredPipeline:
        return MeteredPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


def sample_pool(pool: Pool) -> None:
    stats = pool.get_stats()
    size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
    POOL_CONNECTIONS.labels("in_use").set(max(size - idle, 0))
    POOL_CONNECTIONS.labels("idle").set(idle)
    POOL_WAITING.set(stats.get("requests_waiting", 0))


@contextlib.asynccontextmanager
async def sampling_pool(pool: Pool, *, seconds: float = POOL_SAMPLE_SECONDS) -> AsyncIterator[None]:
    """Sample ``pool`` into the pool gauges every ``seconds`` while the block is open. On leaving,
    this process's pool gauges are zeroed, so a stopped worker no longer adds to the sum (its files
    stay: with one worker the process that checked the backends goes on to serve with them)."""

    async def sample_forever() -> None:
        while True:
            sample_pool(pool)
            await asyncio.sleep(seconds)

    task = asyncio.create_task(sample_forever(), name="postgres-pool-metrics")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for state in ("in_use", "idle"):
            POOL_CONNECTIONS.labels(state).set(0)
        POOL_WAITING.set(0)
