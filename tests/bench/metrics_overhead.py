"""The metrics' CPU cost on the agent hot path, without the noise of a whole server (not a test).

Serves POST /api/osquery/log and /api/osquery/distributed/read (alternately) through the osquery
app in this one process over the in-memory kit, first without metrics, then with everything
`fleet serve` adds per agent request: the request histogram around the app, the Prometheus
Metrics port (node-key and configuration cache counters) and the metered log destination, in
prometheus_client's multiprocess mode (values in mmapped files, as under `fleet serve`). Rounds
alternate so that a busy machine weighs on both sides alike; CPU is process time.

    .venv/bin/python tests/bench/metrics_overhead.py --requests 3000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

# Multiprocess mode is chosen when prometheus_client is first imported: set it first.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="fleet-metrics-bench-"))

import attrs

from fleet_adapters.logs import DeliveryEvent, on_delivery, report_delivery
from fleet_adapters.memory import in_memory_kit
from fleet_adapters.metrics import PrometheusMetrics, count_log_delivery
from fleet_adapters.serve.asgi import _forwarded_lifespan
from fleet_adapters.serve.metrics_endpoint import MetricsEndpoint
from fleet_core.services.setup import SetupInput
from fleet_osquery.app import create_app

Message = MutableMapping[str, Any]
SECRET = "bench-enroll-secret"
PASSWORD = "bench-horse-battery-9!"


async def request(app: Callable[..., Awaitable[None]], path: str, body: bytes) -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"host", b"fleet.test")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    delivered = False
    status, chunks = 0, []

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


class Reporting:
    """The in-memory destination reporting each batch as a real destination does, so that the
    metrics' log counting is part of what is measured."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def write(self, log_type: str, records: Any) -> None:
        await self.inner.write(log_type, records)
        report_delivery(DeliveryEvent("filesystem", log_type, "accepted", len(records), sum(map(len, records))))


async def cpu_per_request(with_metrics: bool, requests: int) -> float:
    kit = in_memory_kit()
    services = kit.services
    if with_metrics:
        metrics = PrometheusMetrics()
        agents = attrs.evolve(services.agents, metrics=metrics)
        agents.logs["result"] = Reporting(services.agents.logs["result"])
        on_delivery(count_log_delivery)
        services = attrs.evolve(services, agents=agents, metrics=metrics)
    app = create_app(lambda: contextlib.nullcontext(services))
    setup = await services.setup.setup(SetupInput(
        name="Bench", email="bench@example.com", password=PASSWORD, password_confirmation=PASSWORD,
        org_name="Bench", server_url="https://fleet.test"))
    await services.config.replace_enroll_secrets(await services.auth.authenticate(setup.token), [SECRET])

    async def served(path: str, body: bytes) -> tuple[int, bytes]:
        if with_metrics:
            async def metered(scope: Any, receive: Any, send: Any) -> None:
                await MetricsEndpoint.metered(app, "osquery", scope, receive, send)
            return await request(metered, path, body)
        return await request(app, path, body)

    async with _forwarded_lifespan(app, {"type": "lifespan", "asgi": {"version": "3.0"}}):
        status, body = await served("/api/osquery/enroll", json.dumps({
            "enroll_secret": SECRET, "host_identifier": "bench-host",
            "host_details": {"system_info": {"hostname": "bench-host", "uuid": "bench-uuid"}}}).encode())
        assert status == 200, body
        node_key = json.loads(body)["node_key"]
        read = json.dumps({"node_key": node_key}).encode()
        log = json.dumps({"node_key": node_key, "log_type": "result",
                          "data": [{"name": "pack/p/q", "columns": {"a": "1"}}]}).encode()
        calls = [("/api/osquery/distributed/read", read), ("/api/osquery/log", log)]
        for path, payload in calls * 100:  # warm the caches
            await served(path, payload)
        started = time.process_time()
        for i in range(requests):
            path, payload = calls[i % 2]
            status, _ = await served(path, payload)
            assert status == 200
        return (time.process_time() - started) / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    without, with_ = [], []
    for _ in range(rounds):
        without.append(await cpu_per_request(False, requests))
        with_.append(await cpu_per_request(True, requests))
    a, b = statistics.median(without), statistics.median(with_)
    print(f"without metrics: {', '.join(f'{x:.1f}' for x in without)} µs/request (median {a:.1f})")
    print(f"with metrics:    {', '.join(f'{x:.1f}' for x in with_)} µs/request (median {b:.1f})")
    print(f"metrics cost: {b - a:.1f} µs per agent request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
