"""The agent hot path in one process, against the floor app, without the noise of a shared machine.

Drives the ASGI apps directly (no sockets, no HTTP parsing: what uvicorn does is the same for
both and is left out) with the steady state's mix of agent requests -- for every 100 check-ins,
54 /log, 39 /distributed/read and 7 /config, as `make bench` sees them -- and reads the process's
CPU time (time.process_time) per request. Rounds interleave the two apps so that a busy machine
weighs on both alike. The real app runs as `fleet serve` runs it: the osquery app behind the
server's ASGI entry with the request metrics (prometheus_client's multiprocess mode, values in
mmapped files), the metered node-key and configuration caches, the metered log destination, over
the in-memory kit (in the steady state the Postgres adapter sends nothing on these routes).

    .venv/bin/python tests/bench/hot_path.py --requests 5000 --rounds 5
    .venv/bin/python tests/bench/hot_path.py --profile --requests 20000   # pyinstrument's table
    .venv/bin/python tests/bench/hot_path.py --cache-bytes 10000          # host cache bytes per host
    .venv/bin/python tests/bench/hot_path.py --log-writes 277 --requests 2000 --rounds 2   # log fsyncs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

# Multiprocess mode is chosen when prometheus_client is first imported: set it first.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="fleet-hot-path-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import attrs
import floor_app

from fleet_adapters.logs import DeliveryEvent, on_delivery, report_delivery
from fleet_adapters.memory import in_memory_kit
from fleet_adapters.metrics import PrometheusMetrics, count_log_delivery
from fleet_adapters.serve.asgi import FleetASGI, _forwarded_lifespan
from fleet_adapters.serve.metrics_endpoint import MetricsEndpoint
from fleet_adapters.settings import load_settings
from fleet_core.services.setup import SetupInput
from fleet_osquery.app import create_app

Message = MutableMapping[str, Any]
App = Callable[[Any, Any, Any], Awaitable[None]]
SECRET = "bench-enroll-secret"
PASSWORD = "bench-horse-battery-9!"
LIFESPAN = {"type": "lifespan", "asgi": {"version": "3.0"}}
# Per 100 requests, the steady state's mix in `make bench` (277 log, 200 read, 33 config per second).
MIX = (("/log", 54), ("/distributed/read", 39), ("/config", 7))


async def request(app: App, path: str, body: bytes) -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"fleet.test"), (b"user-agent", b"osquery/5.12.1"),
                         (b"accept", b"application/json"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080)}
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


def log_body(node_key: str) -> bytes:
    """A logger batch as the bench's hosts send it: one snapshot result and its status line."""
    return json.dumps({"node_key": node_key, "log_type": "result", "data": [{
        "name": "pack/Global/bench_uptime", "hostIdentifier": "bench-host",
        "calendarTime": "Sat Dec  5 02:00:00 2026 UTC",
        "unixTime": 1796421600, "epoch": 0, "counter": 0, "numerics": False, "decorations": {"host_uuid": "bench-uuid"},
        "snapshot": [{"days": "0", "hours": "1", "minutes": "2", "seconds": "3", "total_seconds": "3723"}],
        "action": "snapshot"}]}).encode()


@contextlib.asynccontextmanager
async def real_server() -> Any:
    """The osquery app as `fleet serve` serves it, with one enrolled host; yields (app, node key)."""
    kit = in_memory_kit()
    services = kit.services
    metrics = PrometheusMetrics()
    agents = attrs.evolve(services.agents, metrics=metrics)
    agents.logs["result"] = Reporting(services.agents.logs["result"])
    on_delivery(count_log_delivery)
    services = attrs.evolve(services, agents=agents, metrics=metrics)
    osquery = create_app(lambda: contextlib.nullcontext(services))
    setup = await services.setup.setup(SetupInput(
        name="Bench", email="bench@example.com", password=PASSWORD, password_confirmation=PASSWORD,
        org_name="Bench", server_url="https://fleet.test"))
    await services.config.replace_enroll_secrets(await services.auth.authenticate(setup.token), [SECRET])
    # The server's own ASGI entry, with its apps put in place as its lifespan does.
    entry = FleetASGI(load_settings({}))
    entry._osquery = entry._management = osquery
    entry._metrics = MetricsEndpoint(entry.settings)
    async with _forwarded_lifespan(osquery, LIFESPAN):
        status, body = await request(entry, "/api/osquery/enroll", json.dumps({
            "enroll_secret": SECRET, "host_identifier": "bench-host",
            "host_details": {"system_info": {"hostname": "bench-host", "uuid": "bench-uuid"}}}).encode())
        assert status == 200, body
        node_key = json.loads(body)["node_key"]
        # Answer the first detail, label and policy queries, as every host in `make bench` has by
        # its steady state: after this nothing is due for an hour.
        status, body = await request(entry, "/api/osquery/distributed/read",
                                     json.dumps({"node_key": node_key}).encode())
        queries = json.loads(body)["queries"]
        status, body = await request(entry, "/api/osquery/distributed/write", json.dumps({
            "node_key": node_key, "queries": {name: [] for name in queries},
            "statuses": {name: 0 for name in queries}}).encode())
        assert status == 200, body
        status, body = await request(entry, "/api/osquery/distributed/read",
                                     json.dumps({"node_key": node_key}).encode())
        assert json.loads(body)["queries"] == {}, body
        yield entry, node_key


@contextlib.asynccontextmanager
async def floor_server() -> Any:
    app = floor_app.create_app()
    async with _forwarded_lifespan(app, LIFESPAN):
        yield app, floor_app.NODE_KEY


def plan(node_key: str) -> list[tuple[str, bytes]]:
    key_only = json.dumps({"node_key": node_key}).encode()
    bodies = {"/log": log_body(node_key), "/distributed/read": key_only, "/config": key_only}
    calls = [("/api/osquery" + path, bodies[path]) for path, n in MIX for _ in range(n)]
    # Interleaved rather than in blocks, as check-ins arrive.
    return [calls[(i * 37) % len(calls)] for i in range(len(calls))]


async def cpu_per_request(server: Callable[[], Any], requests: int) -> float:
    async with server() as (app, node_key):
        calls = plan(node_key)
        for path, body in calls * 3:  # warm the caches
            status, answer = await request(app, path, body)
            assert status == 200, (path, answer)
        gc.collect()
        started = time.process_time()
        for i in range(requests):
            path, body = calls[i % len(calls)]
            await request(app, path, body)
        return (time.process_time() - started) / requests * 1e6


async def compare(requests: int, rounds: int) -> None:
    real, floor = [], []
    for _ in range(rounds):
        floor.append(await cpu_per_request(floor_server, requests))
        real.append(await cpu_per_request(real_server, requests))
    f, r = statistics.median(floor), statistics.median(real)
    print(f"floor app: {', '.join(f'{x:.1f}' for x in floor)} µs/request (median {f:.1f})")
    print(f"real app:  {', '.join(f'{x:.1f}' for x in real)} µs/request (median {r:.1f})")
    print(f"the hot path adds {r - f:.1f} µs per agent request to the floor ({r / f:.2f}x in-process)")


async def profile(requests: int) -> None:
    from pyinstrument import Profiler

    async with real_server() as (app, node_key):
        calls = plan(node_key)
        for path, body in calls * 3:
            await request(app, path, body)
        profiler = Profiler(interval=0.0001, async_mode="disabled")
        profiler.start()
        for i in range(requests):
            path, body = calls[i % len(calls)]
            await request(app, path, body)
        profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False, flat=True)[:6000])


async def log_writes(batches: int, rate: float, grouped: bool) -> float:
    """CPU per batch of the filesystem destination, batches arriving ``rate`` per second with
    osquery's jitter; ``grouped=False`` writes each batch alone (a thread hop and an fsync each),
    as the destination did before its group commit."""
    import random

    from fleet_adapters.logs import FilesystemLogDestination

    with tempfile.TemporaryDirectory(prefix="fleet-log-bench-") as tmp:
        destination = FilesystemLogDestination(Path(tmp) / "result.log", Path(tmp) / "status.log")
        file = destination._files["result"]
        record = log_body("x" * 40)
        rng = random.Random(1)

        async def one() -> None:
            if grouped:
                await destination.write("result", [record])
            else:
                async with file.async_lock:
                    await asyncio.to_thread(file.append, record + b"\n")

        tasks = []
        started = time.process_time()
        for _ in range(batches):
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(rng.expovariate(rate))
        await asyncio.gather(*tasks)
        cpu = time.process_time() - started
        await destination.aclose()
    return cpu / batches * 1e6


def cache_bytes(hosts: int) -> tuple[float, int]:
    """Bytes per host held by AgentService's host cache, filled with ``hosts`` hosts as a Postgres
    read leaves them (every vital set, each string an object of its own) and the node-key lookup
    keeps them (an `AgentHost` of each), by tracemalloc; and the process's peak RSS (KiB) afterwards."""
    import datetime as dt
    import hashlib
    import resource

    from fleet_core.model.hosts import AgentHost, Host
    from fleet_core.services.agents import HostCache

    now = dt.datetime.now(dt.UTC)

    def fresh(text: str) -> str:
        """A string object of its own, as every row read from Postgres brings."""
        return (text + " ")[:-1]

    def host(i: int) -> Host:
        at = now - dt.timedelta(seconds=i)
        return Host(
            # Each timestamp an object of its own, as each column of a row read is.
            id=i, osquery_host_id=f"{i:08x}-1b2c-4d5e-8f90-{i:012x}", team_id=None,
            created_at=at - dt.timedelta(days=30), updated_at=at - dt.timedelta(seconds=1),
            last_enrolled_at=at - dt.timedelta(days=1), seen_time=at - dt.timedelta(seconds=2),
            detail_updated_at=at - dt.timedelta(seconds=3), label_updated_at=at - dt.timedelta(seconds=4),
            policy_updated_at=at - dt.timedelta(seconds=5),
            hostname=f"host-{i}.corp.example.com", uuid=f"{i:08X}-1B2C-4D5E-8F90-{i:012X}",
            platform=fresh("ubuntu"), platform_like=fresh("debian"), osquery_version=fresh("5.12.1"),
            os_version=fresh("Ubuntu 22.04.4 LTS"), build="", code_name=fresh("jammy"), uptime_seconds=86400 + i,
            last_restarted_at=at - dt.timedelta(days=2), memory=17179869184, cpu_type=fresh("x86_64"),
            cpu_subtype=fresh("6"),
            cpu_brand=fresh("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"), cpu_physical_cores=4,
            cpu_logical_cores=8, hardware_vendor=fresh("Dell Inc."), hardware_model=fresh("Latitude 7440"),
            hardware_version=fresh("1.0"), hardware_serial=f"SN{i:010d}", computer_name=f"host-{i}",
            public_ip=f"203.0.{i // 256 % 256}.{i % 256}",
            primary_ip=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            primary_mac=f"02:42:ac:{i // 65536 % 256:02x}:{i // 256 % 256:02x}:{i % 256:02x}",
            distributed_interval=10, config_tls_refresh=60, logger_tls_period=10,
            gigs_disk_space_available=120.5, percent_disk_space_available=47.0, gigs_total_disk_space=256.0)

    cache = HostCache(dt.timedelta(hours=1))
    keys = [hashlib.sha256(f"node-key-{i}".encode()).hexdigest() for i in range(hosts)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i, key in enumerate(keys):
        cache.put(key, AgentHost.of(host(i + 1)), now)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / hosts, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="pyinstrument's flat table of the real app")
    parser.add_argument("--log-writes", type=float, metavar="RATE",
                        help="the filesystem log destination's CPU per batch at RATE batches/s, grouped or not")
    parser.add_argument("--cache-bytes", type=int, metavar="HOSTS",
                        help="bytes per cached host, the host cache filled with HOSTS hosts (tracemalloc)")
    args = parser.parse_args()
    if args.cache_bytes:
        per_host, peak = cache_bytes(args.cache_bytes)
        print(f"host cache: {per_host:.0f} bytes per cached host over {args.cache_bytes} hosts "
              f"(the node-key hash and its entry included); peak RSS of this process {peak / 1024:.0f} MiB")
    elif args.log_writes:
        for _ in range(args.rounds):
            alone = asyncio.run(log_writes(args.requests, args.log_writes, grouped=False))
            grouped = asyncio.run(log_writes(args.requests, args.log_writes, grouped=True))
            print(f"{args.log_writes:g} batches/s: one fsync per batch {alone:.1f} µs CPU per batch, "
                  f"grouped {grouped:.1f} µs")
    elif args.profile:
        asyncio.run(profile(args.requests))
    else:
        asyncio.run(compare(args.requests, args.rounds))


if __name__ == "__main__":
    main()
