"""`make bench-scale`: the server at fleet size (10,000 hosts by default), written up in docs/performance.md.

Four phases, each printing its table and rewriting its own marked section of docs/performance.md:

- storm:  a fresh `fleet serve`; HOSTS hosts enroll within STORM_PERIOD seconds (a share of them
          sending two enroll requests at once, as an agent retrying a timed-out request); errors,
          enroll latency, hosts in Postgres afterwards (duplicates), Postgres statements per enrollment;
- steady: another fresh `fleet serve`; HOSTS agents (config, distributed, logger loops at Fleet's
          load-test intervals) started over START_PERIOD seconds; once all are enrolled and their
          first answers are in, a WINDOW-second steady state: errors, p99 per endpoint as the agents
          and as the server's own request histogram (GET /metrics) see it, the simulator's own
          event-loop lag, GC pauses and pool waits, server CPU per request next to `make bench`'s
          plain-HTTP run of the real server at 2,000 hosts (read from this document);
- live:   on the same fleet, one live query on every host followed on the results WebSocket (the
          same client as `make bench --live`): time from the POST to each host's result against
          one distributed interval + 2 s, server CPU and Redis commands per result, and where each
          result's time went (the host's next check-in, its read and write, the stream);
- wave:   on the same fleet, every host's detail, label and policy timestamps are set one interval
          back (Postgres, then the hosts announced on the invalidation bus as the server itself
          does), so they all come due in the next seconds, spread by the configured jitter
          (10 % of 1 h: one-minute buckets by host id); distributed/write p99 and Postgres
          statements per write over WAVE_WINDOW seconds.

The simulator runs in SIM_PROCESSES processes of its own (fleet-sim's `shard`), so its CPU is
measured apart from the server's. Like `make bench` this is a benchmark: it reports and never
fails on a target; the exit code is non-zero only when a phase could not be run at all.

    .venv/bin/python tests/bench/scale.py                        # the full size (about 20 min)
    .venv/bin/python tests/bench/scale.py --hosts 300 --storm-hosts 300 --start-period 20 \\
        --settle 15 --window 20 --wave-window 75 --storm-period 15  # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # the agent-path bench's harness: server, counters, statement log, live client
    ENROLL_SECRET,
    RESULTS_MARKER,
    LiveContext,
    Sample,
    Server,
    _ms,
    all_hosts_label,
    cpu_seconds,
    live_delivery,
    machine,
    read_statements,
    sample,
    sample_delta,
    server_log_problems,
    set_statement_logging,
    set_up_fleet,
    summarise_statements,
    vm_hwm_kib,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "performance.md"
PHASES = ("storm", "steady", "live", "wave")
INVALIDATION_CHANNEL = "fleet:hosts:invalidate"  # fleet_adapters.redis.invalidation.CHANNEL
SHARD_DEADLINE = 120.0  # for a simulator process to answer a command
LABEL_QUERY = "SELECT 1 FROM os_version;"
POLICY_QUERY = "SELECT 1 FROM osquery_info;"


def begin_marker(phase: str) -> str:
    return f"<!-- bench-scale-{phase}:begin (this section is written by tests/bench/scale.py) -->"


def end_marker(phase: str) -> str:
    return f"<!-- bench-scale-{phase}:end -->"


# ---------------------------------------------------------------------------------------------
# The simulator child: `scale.py --sim-child CONFIG`, one shard of the fleet, driven over stdin
# ---------------------------------------------------------------------------------------------


def _sim_child(config_json: str) -> int:
    from fleet_osquery.sim.agent import SimOptions, SimulatedHost
    from fleet_osquery.sim.simulator import Simulator

    cfg = json.loads(config_json)
    options = SimOptions(config_interval=cfg["config_interval"], query_interval=cfg["query_interval"],
                         logger_tls_period=cfg["logger_tls_period"])
    sim = Simulator(cfg["server_url"], os.environ["FLEET_SIM_ENROLL_SECRET"], hosts=cfg["hosts"],
                    os_templates=cfg["os_templates"], shard=(cfg["shard"], cfg["shards"]), options=options,
                    start_period=cfg["start_period"], verify=False, max_connections=cfg["max_connections"])
    marks: dict[str, dict[str, Any]] = {}
    first_mark = asyncio.Event()  # the storm starts with the harness' first mark, not before
    # What the simulator itself adds to the latencies it reports: how late its event loop runs a
    # 10 ms timer (a response that has arrived waits that long to be read), and its garbage
    # collector's pauses (the whole loop stops).
    loop_lags_ms: array[float] = array("d")
    gc_pauses_ms: array[float] = array("d")
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_pauses_ms.append((time.perf_counter() - gc_started[0]) * 1000.0)

    gc.callbacks.append(on_gc)
    if cfg["gc_freeze"]:
        # The hosts' templates, identities and answers live as long as the process: out of the
        # collector's sight, so a full collection scans only what the run allocates since. A
        # larger young generation: most of a request's objects die by reference count before it
        # fills, so fewer of them survive into the older generations that cost a pause to scan.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 20)

    async def tick() -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await asyncio.sleep(0.01)
            loop_lags_ms.append(max(0.0, (loop.time() - began - 0.01) * 1000.0))

    def snapshot() -> dict[str, Any]:
        return {"monotonic": time.monotonic(), "wall": time.time(),
                "eps": {ep.value: (Counter(s.outcomes), Counter(s.status_codes), len(s.latencies_ms))
                        for ep, s in sim.stats.endpoints.items()},
                "lags": len(loop_lags_ms), "gc": len(gc_pauses_ms), "waits": len(sim.stats.slot_waits_ms)}

    async def storm_host(host: SimulatedHost, delay: float, twice: bool) -> None:
        """One agent coming back: enroll (twice at once if told), retrying as osqueryd does."""
        await asyncio.sleep(delay)
        sim.started_hosts += 1
        if twice:
            await asyncio.gather(host.enroll(), host.enroll())
        while host.node_key is None:
            if await host.ensure_node_key() is None:
                await asyncio.sleep(max(0.05, host.retry_enroll_at() - time.monotonic()))

    async def storm(run_for: float) -> dict[str, Any]:
        rng = random.Random(f"storm:{cfg['shard']}")
        await first_mark.wait()
        async with asyncio.timeout(run_for), asyncio.TaskGroup() as tg:
            for host in sim.hosts:
                tg.create_task(storm_host(host, rng.uniform(0, cfg["start_period"]),
                                          rng.random() < cfg["storm_double"]))
            await asyncio.Event().wait()  # enrolled: the harness marks the end, then says stop
        return sim.report()

    def answer(line: str, loop_task: asyncio.Task[Any]) -> None:
        words = line.split()
        if words[:1] == ["mark"] and len(words) == 2:
            marks[words[1]] = snapshot()
            first_mark.set()
            print(f"MARK {words[1]} {marks[words[1]]['wall']:.3f}", flush=True)
        elif words[:1] == ["status"]:
            enrolled = sum(1 for h in sim.hosts if h.node_key)
            answered = sum(1 for h in sim.hosts if h.queries_answered)
            print(f"STATUS {enrolled} {sim.started_hosts} {answered} {len(sim.hosts)}", flush=True)
        elif words[:1] == ["gcfreeze"]:
            # After the ramp: what every host has learnt by now (schedules, buffers) lives on too.
            if cfg["gc_freeze"]:
                gc.collect()
                gc.freeze()
            print("GCFROZEN", flush=True)
        elif words[:1] == ["stop"]:
            loop_task.cancel()

    def read_commands(loop: asyncio.AbstractEventLoop, loop_task: asyncio.Task[Any]) -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(answer, line, loop_task)
            if line.split()[:1] == ["stop"]:
                return
        loop.call_soon_threadsafe(loop_task.cancel)  # the harness went away

    async def go() -> dict[str, Any]:
        async with sim:
            coro = storm(cfg["max_run"]) if cfg["mode"] == "storm" else sim.run(cfg["max_run"])
            task = asyncio.create_task(coro)
            ticker = asyncio.create_task(tick())
            threading.Thread(target=read_commands, args=(asyncio.get_running_loop(), task), daemon=True).start()
            print("READY", flush=True)
            try:
                return await task
            except (asyncio.CancelledError, TimeoutError):
                return sim.report()
            finally:
                ticker.cancel()

    try:
        import uvloop
        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        report = runner.run(go())
    intervals: dict[str, Any] = {}
    for name, first in marks.items():
        base = name.removesuffix(".start")
        last = marks.get(f"{base}.end")
        if not name.endswith(".start") or last is None:
            continue
        eps = {}
        for ep, stats in sim.stats.endpoints.items():
            s_out, s_codes, s_len = first["eps"][ep.value]
            e_out, e_codes, e_len = last["eps"][ep.value]
            eps[ep.value] = {"outcomes": dict(e_out - s_out), "status_codes": dict(e_codes - s_codes),
                             "latencies_ms": list(stats.latencies_ms[s_len:e_len])}
        intervals[base] = {"elapsed_s": last["monotonic"] - first["monotonic"], "endpoints": eps,
                           "loop_lags_ms": list(loop_lags_ms[first["lags"]:last["lags"]]),
                           "gc_pauses_ms": list(gc_pauses_ms[first["gc"]:last["gc"]]),
                           "slot_waits_ms": list(sim.stats.slot_waits_ms[first["waits"]:last["waits"]])}
    Path(cfg["result_path"]).write_text(json.dumps({"report": report, "intervals": intervals,
                                                    "live_answers": sim.stats.live_answers}))
    print("DONE", flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# The shards, seen from the harness
# ---------------------------------------------------------------------------------------------


@dataclass
class Shard:
    proc: subprocess.Popen[str]
    ps: psutil.Process
    result_path: Path

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str) -> str:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line
        raise RuntimeError(f"a simulator process ended before answering {prefix!r} (exit {self.proc.poll()})")


@dataclass
class Fleet:
    """SIM_PROCESSES simulator shards; `mark` and `stop` make it usable as run.py's SimControl."""

    shards: list[Shard]
    workdir: Path
    merged: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, server: Server, args: argparse.Namespace, *, hosts: int, mode: str, start_period: float,
              workdir: Path) -> Fleet:
        shards = []
        count = max(1, min(args.sim_processes, hosts))
        env = {**os.environ, "FLEET_SIM_ENROLL_SECRET": ENROLL_SECRET}
        for k in range(count):
            cfg = {"server_url": server.url, "hosts": hosts, "shard": k, "shards": count,
                   "os_templates": args.os_templates, "start_period": start_period, "mode": mode,
                   "storm_double": args.storm_double, "config_interval": args.config_interval,
                   "query_interval": args.query_interval, "logger_tls_period": args.logger_tls_period,
                   "max_connections": max(8, (args.max_connections or hosts) // count), "max_run": 4 * 3600.0,
                   "gc_freeze": not args.no_gc_freeze,
                   "result_path": str(workdir / f"sim-{mode}-{k}.json")}
            proc = subprocess.Popen([sys.executable, __file__, "--sim-child", json.dumps(cfg)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=(workdir / f"sim-{mode}-{k}.err").open("wb"),
                                    text=True, env=env, cwd=ROOT)
            shards.append(Shard(proc, psutil.Process(proc.pid), Path(cfg["result_path"])))
        fleet = cls(shards, workdir)
        for s in shards:
            s.expect("READY")
        return fleet

    def mark(self, name: str) -> None:
        for s in self.shards:
            s.send(f"mark {name}")
        for s in self.shards:
            s.expect(f"MARK {name} ")

    def gc_freeze(self) -> None:
        for s in self.shards:
            s.send("gcfreeze")
        for s in self.shards:
            s.expect("GCFROZEN")

    def status(self) -> dict[str, int]:
        for s in self.shards:
            s.send("status")
        total: Counter[str] = Counter()
        for s in self.shards:
            _, enrolled, started, answered, hosts = s.expect("STATUS ").split()
            total.update({"enrolled": int(enrolled), "started": int(started), "answered": int(answered),
                          "hosts": int(hosts)})
        return dict(total)

    def cpu_s(self) -> float:
        return cpu_seconds([s.ps for s in self.shards])

    def peak_rss_kib(self) -> int:
        return sum(vm_hwm_kib(s.ps.pid) for s in self.shards)

    def stop(self) -> None:
        """Stop every shard and merge their counters (idempotent)."""
        if self.merged:
            return
        for s in self.shards:
            with contextlib.suppress(OSError, ValueError):
                s.send("stop")
        results = []
        for s in self.shards:
            try:
                s.expect("DONE")
                s.proc.wait(SHARD_DEADLINE)
                results.append(json.loads(s.result_path.read_text()))
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
                err = s.result_path.with_suffix(".err")
                raise RuntimeError(f"simulator shard failed: {exc}\n"
                                   f"{err.read_text()[-3000:] if err.exists() else ''}") from exc
        self.merged = merge_shards(results)

    def kill(self) -> None:
        for s in self.shards:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()


def merge_shards(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One fleet's figures from its shards': counters summed, latencies pooled, then summarised."""
    from fleet_osquery.sim.stats import EndpointStats, Outcome

    intervals: dict[str, Any] = {}
    for name in results[0]["intervals"]:
        parts = [r["intervals"][name] for r in results if name in r["intervals"]]
        elapsed = max(p["elapsed_s"] for p in parts)
        eps = {}
        for ep in parts[0]["endpoints"]:
            merged = EndpointStats()
            for p in parts:
                e = p["endpoints"][ep]
                merged.outcomes.update({Outcome(k): v for k, v in e["outcomes"].items()})
                merged.status_codes.update({int(k): v for k, v in e["status_codes"].items()})
                merged.latencies_ms.extend(e["latencies_ms"])
            eps[ep] = merged.summary(elapsed)
        intervals[name] = {"elapsed_s": round(elapsed, 3), "endpoints": eps,
                           "requests": sum(e["requests"] for e in eps.values()),
                           "errors": sum(e["errors"] for e in eps.values()),
                           "simulator": {key: spread([v for p in parts for v in p.get(key, [])])
                                         for key in ("loop_lags_ms", "gc_pauses_ms", "slot_waits_ms")}}
    totals: Counter[str] = Counter()
    hosts: Counter[str] = Counter()
    for r in results:
        rep = r["report"]
        totals.update({k: v for k, v in rep["totals"].items() if k in ("requests", "errors", "node_invalid",
                                                                          "reenrolls", "host_crashes")})
        hosts.update(rep["hosts"])
    return {"intervals": intervals, "totals": dict(totals), "hosts": dict(hosts),
            "live_answers": [a for r in results for a in r.get("live_answers", [])]}


def spread(values: list[float]) -> dict[str, float]:
    """count, sum, p50, p99, max of some milliseconds."""
    from fleet_osquery.sim.stats import percentile

    v = sorted(values)
    return {"count": len(v), "sum": round(sum(v), 1), "p50": round(percentile(v, 50), 2),
            "p99": round(percentile(v, 99), 2), "max": round(v[-1], 2) if v else 0.0}


# ---------------------------------------------------------------------------------------------
# Helpers shared by the phases
# ---------------------------------------------------------------------------------------------


class MetricsServer(Server):
    """`fleet serve` with GET /metrics open, to read its own request histogram."""

    def command(self) -> list[str]:
        return [*super().command(), "--prometheus-basic-auth-disable"]


ENDPOINT_OF_ROUTE = {"/enroll": "enroll", "/config": "config", "/distributed/read": "distributed_read",
                     "/distributed/write": "distributed_write", "/log": "log"}
HISTOGRAM = "fleet_http_request_duration_seconds_bucket{"


def scrape_requests(server: Server) -> dict[str, dict[float, float]]:
    """The server's own histogram of the agents' requests: endpoint -> {bucket bound (s): count}.
    It times a request from the app receiving it to the response sent, in the serving process."""
    text = httpx.get(f"{server.url}/metrics", timeout=30.0).text
    out: dict[str, dict[float, float]] = {}
    for line in text.splitlines():
        if not line.startswith(HISTOGRAM) or 'api="osquery"' not in line:
            continue
        labels, _, value = line[len(HISTOGRAM):].rpartition("} ")
        fields = dict(part.split("=", 1) for part in labels.split(","))
        route, le = fields["route"].strip('"'), fields["le"].strip('"')
        endpoint = next((e for suffix, e in ENDPOINT_OF_ROUTE.items() if route.endswith(suffix)), None)
        if endpoint is None:
            continue
        bound = float("inf") if le == "+Inf" else float(le)
        buckets = out.setdefault(endpoint, {})
        buckets[bound] = buckets.get(bound, 0.0) + float(value)
    return out


def server_side(h0: dict[str, dict[float, float]], h1: dict[str, dict[float, float]]) -> dict[str, Any]:
    """Per endpoint over a window: requests, the share over 25/50/100 ms, and the bucket holding p99."""
    out: dict[str, Any] = {}
    for endpoint, buckets in h1.items():
        cum = {b: n - h0.get(endpoint, {}).get(b, 0.0) for b, n in sorted(buckets.items())}
        total = cum.get(float("inf"), 0.0)
        if total <= 0:
            continue
        p99 = next((b for b, n in cum.items() if n >= 0.99 * total), float("inf"))
        out[endpoint] = {"requests": int(total), "p99_le_ms": p99 * 1000.0,
                         **{f"over_{ms}ms": (total - cum.get(ms / 1000.0, total)) / total for ms in (25, 50, 100)}}
    return out


@dataclass
class Counters:
    server: Server
    fleet: Fleet
    pg: Any
    rds: Any

    def take(self) -> Sample:
        s = sample(self.server, self.fleet.shards[0].ps, self.pg, self.rds)
        s.sim_cpu_s = self.fleet.cpu_s()
        return s


def delta(s: Sample, e: Sample) -> dict[str, Any]:
    d = sample_delta(s, e)
    d["redis_commands"] = sum(d["redis_by_command"].values())
    d["machine_busy_cores"] = round((e.machine_busy_s - s.machine_busy_s) / d["wall_s"], 2) if d["wall_s"] else 0.0
    return d


def wait_for(what: str, check: Callable[[], bool], timeout: float, poll: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(poll)
    print(f"  {what}: not reached within {timeout:g} s", flush=True)
    return False


def process_label(p: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        words = " ".join(p.cmdline()[1:3]).split()
        return f"{p.pid} {' '.join(words)[:40]}"
    return str(p.pid)


def add_labels_and_policies(url: str, token: str, labels: int, policies: int) -> None:
    """Dynamic labels and global policies, so a detail wave carries their queries too."""
    with httpx.Client(base_url=url, timeout=30.0, headers={"Authorization": f"Bearer {token}"}) as api:
        for i in range(labels):
            r = api.post("/api/v1/fleet/labels", json={"name": f"bench label {i}",
                                                        "query": LABEL_QUERY})
            if r.status_code != 200:
                raise RuntimeError(f"POST /api/v1/fleet/labels answered {r.status_code}: {r.text}")
        for i in range(policies):
            r = api.post("/api/v1/fleet/global/policies", json={"name": f"bench policy {i}", "query": POLICY_QUERY})
            if r.status_code != 200:
                raise RuntimeError(f"POST /api/v1/fleet/global/policies answered {r.status_code}: {r.text}")


def backdate_labels_and_policies(pg: Any, update_interval: float) -> None:
    """Labels and policies older than any host's last answers, before an agent has checked in.

    A label or policy changed since a host's last answers is sent to it at once, whatever the
    jitter; the wave below sets the hosts' times an interval back, so without this every label and
    policy would look new to every host and the wave would not be the jittered one. Done before the
    agents start, so no server process has cached the labels or policies yet.
    """
    back = {"back": dt.timedelta(seconds=2 * update_interval)}
    pg.execute("UPDATE labels SET updated_at = LEAST(updated_at, now() - %(back)s)", back)
    pg.execute("UPDATE policies SET updated_at = LEAST(updated_at, now() - %(back)s), "
               "created_at = LEAST(created_at, now() - %(back)s)", back)


def statements_between(server: Server, s: Sample, e: Sample) -> list[Any]:
    return read_statements(server.data_dir / "postgres" / "log", s.wall, e.wall)


def baseline_cpu_ms(workers: int) -> dict[str, Any] | None:
    """The latest `make bench` figure, from this document's raw numbers: its plain-HTTP run of the
    real server (not the floor, not TLS, not profiled), the same --workers if that run had it, else
    the one with the most workers."""
    text = DOC.read_text() if DOC.exists() else ""
    if RESULTS_MARKER not in text:
        return None
    results = text.split(RESULTS_MARKER, 1)[1]
    date = next((ln.removeprefix("## Results (").rstrip(")") for ln in results.splitlines()
                 if ln.startswith("## Results (")), "?")
    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
        raw = json.loads(results.split("```json", 1)[1].split("```", 1)[0])
        runs = [r for r in raw["runs"] if not r.get("profiled") and "cpu" in r
                and r.get("phase", "fleet") == "fleet" and r.get("tls", "off") == "off"]
        same = [r for r in runs if r.get("workers") == workers]
        run = (same or sorted(runs, key=lambda r: int(r.get("workers", 0))))[-1]
        return {"ms": run["cpu"]["server_ms_per_request"], "hosts": run["hosts"], "date": run.get("date", date),
                "workers": run["workers"], "run": "plain HTTP, kept-alive connections, not profiled"}
    return None


def endpoint_rows(eps: dict[str, Any], server: dict[str, Any] | None = None) -> list[str]:
    """The simulator's view per endpoint and, given the server's histogram over the same window,
    the server-side view: its p99 bucket and the share of its requests over 25 / 50 / 100 ms."""
    out = ["| endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
           + (" server-side p99 | server-side > 25 / 50 / 100 ms |" if server is not None else ""),
           "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if server is not None else "")]
    for name, ep in eps.items():
        if not ep["requests"]:
            continue
        lat = ep["latency_ms"]
        row = (f"| {name} | {ep['requests']} | {ep['rps']:.1f} | {_ms(lat['p50'])} | {_ms(lat['p90'])} | "
               f"{_ms(lat['p99'])} | {_ms(lat['max'])} | {ep['errors']} |")
        if server is not None:
            srv = server.get(name)
            row += (f" ≤ {srv['p99_le_ms']:g} ms | {srv['over_25ms']:.2%} / {srv['over_50ms']:.2%} / "
                    f"{srv['over_100ms']:.2%} |" if srv else " | |")
        out.append(row)
    return out


def simulator_line(interval: dict[str, Any]) -> str:
    """What the simulator's own process adds, in the same window."""
    sim = interval.get("simulator")
    if not sim:
        return ""
    lag, gcp, wait = sim["loop_lags_ms"], sim["gc_pauses_ms"], sim["slot_waits_ms"]
    return (f"The simulator's own share, same window: its event loop ran a 10 ms timer late by p50 {lag['p50']} / "
            f"p99 {lag['p99']} / max {lag['max']} ms (a response waits that long to be read, and it is in the "
            f"latencies above); {gcp['count']} garbage collector pauses, {gcp['sum']} ms in all, the longest "
            f"{gcp['max']} ms; waits for one of its pooled connections p50 {wait['p50']} / p99 {wait['p99']} / "
            f"max {wait['max']} ms (not in the latencies: a real osqueryd has its own connection).")


def top_statements(statements: list[Any], n: int = 12) -> list[str]:
    by_text = summarise_statements(statements)["by_text"]
    out = ["| count | SQL (first 160 chars) |", "|---:|---|"]
    for text, count in list(by_text.items())[:n]:
        out.append(f"| {count} | `{text.replace('|', '/') or '(empty query)'}` |")
    return out


def failed(out: list[str], phase: str, error: str) -> str:
    return "\n".join([*out, "The phase failed:", "", "```", error, "```", "", end_marker(phase)])


def head(args: argparse.Namespace, title: str) -> list[str]:
    m = machine()
    return [
        f"### {title}",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {m['nproc']} cores ({m['cpu_model']}), "
        f"{m['ram_gib']} GiB RAM, Python {m['python']}: `fleet serve --no-server-tls --workers {args.workers}`, "
        f"the simulator in {args.sim_processes} processes of its own on the same cores. Command: "
        f"`{' '.join(['.venv/bin/python', 'tests/bench/scale.py', *sys.argv[1:]])}`.",
        "",
    ]


# ---------------------------------------------------------------------------------------------
# Phase: enrollment storm
# ---------------------------------------------------------------------------------------------


def run_storm(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server = Server(workdir / "storm", args.workers)
    server.workdir.mkdir()
    fleet: Fleet | None = None
    out: dict[str, Any] = {"hosts": args.storm_hosts, "period_s": args.storm_period}
    try:
        server.start()
        set_up_fleet(server.url, args.schedule_interval)
        pg, rds = server.pg_connect(), server.redis_client()
        fleet = Fleet.start(server, args, hosts=args.storm_hosts, mode="storm", start_period=args.storm_period,
                            workdir=server.workdir)
        counters = Counters(server, fleet, pg, rds)
        set_statement_logging(pg, on=True)
        fleet.mark("storm.start")
        s0 = counters.take()
        t0 = time.monotonic()
        done = wait_for("storm: every host enrolled",
                        lambda: fleet is not None and fleet.status()["enrolled"] >= args.storm_hosts,
                        args.storm_period + args.storm_timeout)
        out["all_enrolled_s"] = round(time.monotonic() - t0, 1) if done else None
        s1 = counters.take()
        fleet.mark("storm.end")
        set_statement_logging(pg, on=False)
        fleet.stop()
        statements = statements_between(server, s0, s1)
        row = pg.execute("SELECT count(*), count(DISTINCT osquery_host_id), count(DISTINCT uuid), "
                         "count(DISTINCT hardware_serial) FROM hosts").fetchone()
        assert row is not None
        interval = fleet.merged["intervals"]["storm"]
        enroll = interval["endpoints"]["enroll"]
        out.update({
            "sim": interval, "totals": fleet.merged["totals"], "sim_hosts": fleet.merged["hosts"],
            "counters": delta(s0, s1),
            "postgres_hosts": {"rows": row[0], "distinct_identifiers": row[1], "distinct_uuids": row[2],
                               "distinct_serials": row[3]},
            "statements": len(statements), "statements_top": top_statements(statements),
            "statements_per_enroll": round(len(statements) / enroll["ok"], 2) if enroll["ok"] else None,
            "simulator_peak_rss_kib": fleet.peak_rss_kib(),
        })
        pg.close()
        rds.close()
    finally:
        if fleet is not None:
            fleet.kill()
        out["server_log_problems"] = server_log_problems(server.output())
        out["stop"] = server.stop()
    return out


def render_storm(r: dict[str, Any], args: argparse.Namespace) -> str:
    out = [begin_marker("storm"), "", *head(args, f"Enrollment storm: {r['hosts']:,} hosts within "
                                                   f"{r['period_s']:g} s")]
    if "error" in r or "sim" not in r:
        return failed(out, "storm", r.get("error", "?"))
    enroll = r["sim"]["endpoints"]["enroll"]
    c, pgh = r["counters"], r["postgres_hosts"]
    duplicates = pgh["rows"] - r["hosts"]
    doubled = enroll["requests"] - r["hosts"] - (enroll["requests"] - enroll["ok"])
    out += [
        f"Each simulated host starts at a random moment in the {r['period_s']:g} s and sends osquery's enroll "
        f"request (secret, identifier, host_details); {args.storm_double:.0%} of them send two at once with the "
        "same identity (an agent whose first request timed out while the server was still answering it). "
        "A failed enroll is retried after 1-120 s, as osqueryd does. The hosts do nothing else, so the "
        "figures are the enrollments' own.",
        "",
        "Targets: zero errors, no duplicate hosts, enroll p99 reported, Postgres statements per enrollment.",
        "",
        "| enrollment storm | value |",
        "|---|---:|",
        f"| hosts / enroll requests (of which doubled) | {r['hosts']:,} / {enroll['requests']:,} ({max(doubled, 0)}) |",
        f"| **errors** (transport / HTTP / error body) | **{enroll['errors']}** ({enroll['transport_errors']} / "
        f"{enroll['http_errors']} / {enroll['error_bodies']}) |",
        f"| every host enrolled after | {r['all_enrolled_s']} s |",
        f"| enroll p50 / p90 / **p99** / max | {_ms(enroll['latency_ms']['p50'])} / {_ms(enroll['latency_ms']['p90'])}"
        f" / **{_ms(enroll['latency_ms']['p99'])}** / {_ms(enroll['latency_ms']['max'])} ms |",
        f"| host rows in Postgres (distinct identifiers / UUIDs / serials) | {pgh['rows']:,} "
        f"({pgh['distinct_identifiers']:,} / {pgh['distinct_uuids']:,} / {pgh['distinct_serials']:,}) |",
        f"| **duplicate hosts** | **{max(duplicates, 0)}** |",
        f"| **Postgres statements per enrollment** (per successful enroll request) | **{r['statements_per_enroll']}** "
        f"({r['statements']:,}) |",
        f"| Postgres transactions | {c['postgres_transactions']:,} |",
        f"| server CPU per enrollment | {c['server_cpu_s'] * 1000 / max(1, enroll['ok']):.2f} ms "
        f"({c['server_cpu_s']:.1f} s in {c['wall_s']:.0f} s) |",
        f"| Postgres / Redis CPU | {c['postgres_cpu_s']:.1f} s / {c['redis_cpu_s']:.1f} s |",
        f"| Redis commands per enrollment | {c['redis_commands'] / max(1, enroll['ok']):.2f} |",
        f"| simulator CPU / whole machine busy | {c['simulator_cpu_s']:.1f} s / {c['machine_busy_cores']:.2f} cores |",
        "",
        "Statements in the storm:",
        "",
        *r["statements_top"],
        "",
        "Redis commands: " + (", ".join(f"{k} {v}" for k, v in c["redis_by_command"].items()) or "none") + ".",
        "",
        f"Server log problems: {r['server_log_problems'] or 'none'}; shutdown exit code {r['stop']['exit_code']}.",
        "",
        end_marker("storm"),
    ]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Phases steady, live and wave: one fleet of HOSTS agents on one server
# ---------------------------------------------------------------------------------------------


def run_fleet(args: argparse.Namespace, phases: list[str], workdir: Path) -> dict[str, Any]:
    server = MetricsServer(workdir / "fleet", args.workers)
    server.workdir.mkdir()
    fleet: Fleet | None = None
    out: dict[str, Any] = {"hosts": args.hosts}
    try:
        server.start()
        token = set_up_fleet(server.url, args.schedule_interval)
        add_labels_and_policies(server.url, token, args.labels, args.policies)
        pg, rds = server.pg_connect(), server.redis_client()
        backdate_labels_and_policies(pg, args.update_interval)
        fleet = Fleet.start(server, args, hosts=args.hosts, mode="agents", start_period=args.start_period,
                            workdir=server.workdir)
        counters = Counters(server, fleet, pg, rds)
        t0 = time.monotonic()
        wait_for("fleet: every host enrolled and answered once",
                 lambda: fleet is not None and fleet.status()["answered"] >= args.hosts,
                 args.start_period + args.ramp_timeout, poll=2.0)
        out["ramp"] = {"status": fleet.status(), "after_s": round(time.monotonic() - t0, 1)}
        fleet.gc_freeze()
        time.sleep(max(0.0, args.start_period + args.settle - (time.monotonic() - t0)))
        print(f"  fleet ready: {out['ramp']}", flush=True)
        if "steady" in phases:
            fleet.mark("steady.start")
            set_statement_logging(pg, on=True)
            h0 = scrape_requests(server)
            s0 = counters.take()
            time.sleep(args.window)
            s1 = counters.take()
            h1 = scrape_requests(server)
            set_statement_logging(pg, on=False)
            fleet.mark("steady.end")
            statements = statements_between(server, s0, s1)
            out["steady"] = {"counters": delta(s0, s1), "statements": summarise_statements(statements),
                             "server_side": server_side(h0, h1)}
        if "live" in phases:
            scrapes: list[dict[str, dict[float, float]]] = []
            arrivals: dict[str, float] = {}

            def take_with_histogram() -> Sample:
                scrapes.append(scrape_requests(server))
                return counters.take()

            def arrived(data: dict[str, Any], wall: float) -> None:
                arrivals.setdefault(str(data["host"]["hostname"]), wall)

            try:
                with httpx.Client(base_url=server.url, timeout=120.0,
                                  headers={"Authorization": f"Bearer {token}"}) as api:
                    ctx = LiveContext(server, token, api, fleet, take_with_histogram, rds)  # type: ignore[arg-type]
                    ctx.label_id = all_hosts_label(api)
                    out["live"] = live_delivery(ctx, args.live_timeout, arrived)
                    if len(scrapes) == 2:
                        out["live"]["server_side"] = server_side(*scrapes)
                    out["live"]["arrivals_wall"] = arrivals
            except Exception as exc:  # the other phases still count
                out["live"] = {"error": f"{exc!r}"[:3000]}
            print(f"  live: {out['live'].get('answered')}/{out['live'].get('online')} in "
                  f"{out['live'].get('all_s')} s", flush=True)
        if "wave" in phases:
            out["wave"] = run_wave(args, server, fleet, counters)
        out["peak_rss_kib"] = {
            "server": {process_label(p): vm_hwm_kib(p.pid) for p in server.server_processes()},
            "simulator": fleet.peak_rss_kib(),
        }
        fleet.stop()
        out["merged"] = fleet.merged
        pg.close()
        rds.close()
    finally:
        if fleet is not None:
            fleet.kill()
        out["server_log_problems"] = server_log_problems(server.output())
        out["stop"] = server.stop()
    return out


def run_wave(args: argparse.Namespace, server: Server, fleet: Fleet, counters: Counters) -> dict[str, Any]:
    """Every host's detail, label and policy collection comes due over the next jitter span."""
    lead = dt.timedelta(seconds=args.wave_lead)
    back = dt.timedelta(seconds=args.update_interval) - lead
    pg = counters.pg
    t = time.monotonic()
    pg.execute("UPDATE hosts SET detail_updated_at = now() - %(back)s, label_updated_at = now() - %(back)s, "
               "policy_updated_at = now() - %(back)s", {"back": back})
    ids = [int(r[0]) for r in pg.execute("SELECT id FROM hosts ORDER BY id").fetchall()]
    # The server caches hosts until a change is announced: announce them all, as a write would.
    for i in range(0, len(ids), 1000):
        counters.rds.publish(INVALIDATION_CHANNEL, json.dumps(ids[i:i + 1000]))
    prepare_s = time.monotonic() - t
    # The announcement makes every process miss every host once; the window opens just before the
    # first hosts come due, once those misses are behind (a real wave has no such announcement).
    time.sleep(max(0.0, args.wave_lead - 2.0 - prepare_s))
    fleet.mark("wave.start")
    set_statement_logging(pg, on=True)
    s0 = counters.take()
    time.sleep(args.wave_window)
    s1 = counters.take()
    set_statement_logging(pg, on=False)
    fleet.mark("wave.end")
    statements = statements_between(server, s0, s1)
    per_minute: Counter[int] = Counter()
    for st in statements:
        if "detail_updated_at" in st.sql and st.sql.lstrip().upper().startswith("UPDATE"):
            per_minute[int((st.at - s0.wall) // 60)] += 1
    row = pg.execute("SELECT count(*) FILTER (WHERE detail_updated_at > now() - %(w)s), "
                     "count(*) FILTER (WHERE label_updated_at > now() - %(w)s), "
                     "count(*) FILTER (WHERE policy_updated_at > now() - %(w)s), count(*) FROM hosts",
                     {"w": dt.timedelta(seconds=args.wave_window + 5)}).fetchone()
    return {"prepare_s": round(prepare_s, 2), "hosts_announced": len(ids), "counters": delta(s0, s1),
            "statements": summarise_statements(statements), "statements_total": len(statements),
            "statements_top": top_statements(statements, 15), "detail_updates_per_minute": dict(per_minute),
            "refreshed": {"details": row[0], "labels": row[1], "policies": row[2], "hosts": row[3]} if row else {}}


def render_steady(r: dict[str, Any], args: argparse.Namespace) -> str:
    out = [begin_marker("steady"), "", *head(args, f"Steady state at {r['hosts']:,} hosts")]
    st = r.get("steady")
    interval = r.get("merged", {}).get("intervals", {}).get("steady")
    if st is None or interval is None:
        return failed(out, "steady", r.get("error", "?"))
    c = st["counters"]
    reqs = interval["requests"]
    ms = c["server_cpu_s"] * 1000 / reqs if reqs else 0.0
    base = baseline_cpu_ms(args.workers)
    worst = max((ep["latency_ms"]["p99"] for ep in interval["endpoints"].values() if ep["requests"]), default=0.0)
    if args.baseline_ms:
        base = {"ms": args.baseline_ms, "hosts": 2000, "date": "given with --baseline-ms", "workers": args.workers}
    ratio = (f"**{ms / base['ms']:.2f}x** the {base['hosts']:,}-host `make bench` figure, {base['ms']:.3f} ms "
             f"({base.get('run', 'as given')}, `--workers {base['workers']}`, {base['date']})"
             ) if base else "no `make bench` figure in this document"
    pgs = st["statements"]
    out += [
        f"{r['hosts']:,} agents ({args.os_templates}) at distributed {args.query_interval:g} s, config "
        f"{args.config_interval:g} s, logs {args.logger_tls_period:g} s, started over {args.start_period:g} s; "
        f"every host had enrolled and answered its first detail, label and policy queries after "
        f"{r['ramp']['after_s']} s. The window is {args.window:g} s, {args.settle:g} s after the start period.",
        "",
        "Targets: zero errors, p99 < 50 ms on every agent endpoint, server CPU per request within 10 % of "
        "the 2,000-host figure.",
        "",
        *endpoint_rows(interval["endpoints"], st.get("server_side")),
        f"| **all** | {reqs:,} | {reqs / interval['elapsed_s']:.1f} | | | **{_ms(worst)}** (worst) | | "
        f"**{interval['errors']}** |" + (" | |" if st.get("server_side") is not None else ""),
        "",
        "The server-side columns are the server's own request histogram (`fleet_http_request_duration_seconds` "
        "from GET /metrics at the window's start and end): from its app receiving the request to the response "
        "sent, so without the wait for its event loop before that.",
        "",
        simulator_line(interval),
        "",
        "| steady state, per agent request | value |",
        "|---|---:|",
        f"| **server CPU** | **{ms:.3f} ms** ({c['server_cpu_s']:.1f} s in {c['wall_s']:.0f} s = "
        f"{c['server_cpu_s'] / c['wall_s']:.2f} cores) — {ratio} |",
        f"| Postgres statements | {pgs['total'] / max(1, reqs):.4f} ({pgs['total']}: "
        + ", ".join(f"{k} {v}" for k, v in pgs["by_kind"].items()) + ") |",
        f"| Redis commands | {c['redis_commands'] / max(1, reqs):.4f} ({c['redis_commands']}) |",
        f"| Postgres / Redis CPU | {c['postgres_cpu_s'] * 1000 / max(1, reqs):.3f} / "
        f"{c['redis_cpu_s'] * 1000 / max(1, reqs):.3f} ms |",
        f"| simulator CPU (apart) / whole machine busy | {c['simulator_cpu_s']:.1f} s / "
        f"{c['machine_busy_cores']:.2f} cores |",
        "",
        "Peak RSS: " + ", ".join(f"server `{k}` {v / 1024:.0f} MiB" for k, v in r["peak_rss_kib"]["server"].items())
        + f"; simulator {r['peak_rss_kib']['simulator'] / 1024:.0f} MiB over its processes.",
        "",
        f"Whole run: {r['merged']['totals']}; server log problems: {r['server_log_problems'] or 'none'}; "
        f"shutdown exit code {r['stop']['exit_code']}.",
        "",
        end_marker("steady"),
    ]
    return "\n".join(out)


def render_live(r: dict[str, Any], args: argparse.Namespace) -> str:
    target = args.query_interval + 2
    out = [begin_marker("live"), "", *head(args, f"Live query on {r['hosts']:,} hosts")]
    d = r.get("live")
    if d is None or "error" in d:
        return failed(out, "live", (d or r).get("error", "?"))
    c = d["counters"]
    answered = max(1, d["answered"])
    interval = r.get("merged", {}).get("intervals", {}).get("delivery", {})
    eps = interval.get("endpoints", {})
    met = d["all_online_answered"] and d["all_s"] is not None and d["all_s"] <= target
    redis_cmds = sum(c["redis_by_command"].values())
    above = ""
    if "steady" in r:
        sc = r["steady"]["counters"]
        extra = c["server_cpu_s"] - sc["server_cpu_s"] / sc["wall_s"] * c["wall_s"]
        above = f"; {extra * 1000 / answered:.2f} ms above the steady state's rate"
    out += [
        "After the steady state, with every host checking in: the harness opens the results WebSocket, "
        "starts `SELECT 1 AS one;` on the All Hosts label (`POST /api/v1/fleet/queries/run`), selects the "
        "campaign and waits for a result from every host the campaign's `totals` counts online; times from "
        "just before the POST.",
        "",
        f"Target: every online host's result delivered within one distributed interval + 2 s ({target:g} s).",
        "",
        "| one campaign on every host | value |",
        "|---|---:|",
        f"| hosts targeted / online / answered | {d['targeted']:,} / {d['online']:,} / **{d['answered']:,}** |",
        f"| `POST /queries/run` | {d['post_s'] * 1000:.0f} ms |",
        f"| first / 50% / 90% / 99% of the results at | {d['first_result_s']} / {d['p50_s']} / {d['p90_s']} / "
        f"{d['p99_s']} s |",
        f"| **every online host's result at** | **{d['all_s']} s** (target {target:g} s: "
        f"{'met' if met else 'NOT met'}) |",
        f"| results per second | {d['results_per_s']} |",
        f"| **server CPU per result** | **{c['server_cpu_s'] * 1000 / answered:.2f} ms** "
        f"({c['server_cpu_s']:.1f} s in {c['wall_s']:.1f} s, check-ins included{above}) |",
        f"| **Redis commands per result** | **{redis_cmds / answered:.2f}** ({redis_cmds:,}: "
        + ", ".join(f"{k} {v}" for k, v in list(c["redis_by_command"].items())[:8]) + ") |",
        f"| Postgres / Redis CPU | {c['postgres_cpu_s']:.2f} s / {c['redis_cpu_s']:.2f} s |",
        f"| duplicates / with error / stream errors | {d['duplicates']} / {d['results_with_error']} / "
        f"{', '.join(d['stream_errors']) or 'none'} |",
        "",
    ]
    if eps:
        out += ["Agent requests meanwhile (server-side: its own histogram over the same time):", "",
                *endpoint_rows(eps, d.get("server_side")), "", simulator_line(interval), ""]
    out += live_timeline(d, r.get("merged", {}).get("live_answers", []))
    out.append(end_marker("live"))
    return "\n".join(out)


def live_timeline(d: dict[str, Any], answers: list[Any]) -> list[str]:
    """Where each result's time went, from the hosts' side (the simulator's wall clock, the same
    machine's as the client's): the campaign's start to the check-in that carried the query, that
    distributed/read, answering and the distributed/write until the server acknowledged it (it
    publishes the result before), and from then until the WebSocket client read the result."""
    arrivals: dict[str, float] = d.get("arrivals_wall") or {}
    name = f"fleet_distributed_query_{d.get('campaign_id')}"
    start = d.get("started_wall")
    if not arrivals or start is None:
        return []
    rows = []
    seen: set[str] = set()
    # A host answers once, unless its write was not acknowledged in time and it answered again:
    # its first answer is the one the client got.
    for query, hostname, read_sent, read_done, written in sorted(answers, key=lambda a: a[2]):
        if query == name and hostname in arrivals and hostname not in seen:
            seen.add(hostname)
            rows.append((read_sent - start, read_done - read_sent, written - read_done, arrivals[hostname] - written,
                         arrivals[hostname] - start))
    if not rows:
        return []
    from fleet_osquery.sim.stats import percentile

    def part(i: int) -> str:
        v = sorted(x[i] * 1000.0 for x in rows)
        return f"{percentile(v, 50):.0f} / {percentile(v, 99):.0f} / {v[-1]:.0f}"

    last = max(rows, key=lambda x: x[4])
    post_ms = d["post_s"] * 1000.0
    return [
        f"Where the time went, per result ({len(rows):,} matched by hostname; ms, p50 / p99 / max):",
        "",
        "| from ... to ... | p50 / p99 / max ms | the last result |",
        "|---|---:|---:|",
        f"| POST sent to the host's check-in that carried the query (POST {post_ms:.0f} ms, then the "
        f"host's next check-in) | {part(0)} | {last[0] * 1000:.0f} |",
        f"| distributed/read sent to read (incl. any wait for a pooled connection) | {part(1)} | "
        f"{last[1] * 1000:.0f} |",
        f"| answered, distributed/write sent to acknowledged | {part(2)} | {last[2] * 1000:.0f} |",
        f"| acknowledged to read by the WebSocket client (the server publishes before it acknowledges: "
        f"negative when the stream is faster than the reply) | {part(3)} | {last[3] * 1000:.0f} |",
        f"| **POST sent to read by the client** | {part(4)} | **{last[4] * 1000:.0f}** |",
        "",
    ]


def render_wave(r: dict[str, Any], args: argparse.Namespace) -> str:
    out = [begin_marker("wave"), "", *head(args, f"Detail refresh wave on {r['hosts']:,} hosts")]
    w = r.get("wave")
    interval = r.get("merged", {}).get("intervals", {}).get("wave")
    if w is None or interval is None:
        return failed(out, "wave", r.get("error", "?"))
    writes = interval["endpoints"]["distributed_write"]
    c = w["counters"]
    n = max(1, writes["ok"])
    buckets = (10 * int(args.update_interval // 60)) // 100
    lookups = w["statements"]["host_lookups"]["total"]
    above = ""
    if "steady" in r:
        sc = r["steady"]["counters"]
        extra = c["server_cpu_s"] - sc["server_cpu_s"] / sc["wall_s"] * c["wall_s"]
        above = f"; {extra * 1000 / n:.2f} ms above the steady state's rate"
    out += [
        f"Every host's `detail_updated_at`, `label_updated_at` and `policy_updated_at` were set to "
        f"{args.update_interval:g} s less {args.wave_lead:g} s ago and the hosts announced on the invalidation "
        f"bus ({w['prepare_s']} s; the window opens 2 s before the first are due, after the misses the "
        f"announcement causes), so each comes due {args.wave_lead:g} s later plus its jitter (the default "
        f"10 % of 1 h: {buckets} one-minute buckets by host id), as after a fleet enrolled at once an hour "
        f"earlier. {args.labels} dynamic labels and {args.policies} policies besides the built-in labels. "
        f"Measured over {args.wave_window:g} s.",
        "",
        "Targets: distributed/write p99 reported (< 50 ms like every agent endpoint), Postgres statements per write.",
        "",
        *endpoint_rows(interval["endpoints"]),
        "",
        "| detail refresh wave | value |",
        "|---|---:|",
        f"| hosts refreshed in the window (details / labels / policies) | {w['refreshed'].get('details')} / "
        f"{w['refreshed'].get('labels')} / {w['refreshed'].get('policies')} of {w['refreshed'].get('hosts')} |",
        f"| **distributed/write p99** | **{_ms(writes['latency_ms']['p99'])} ms** (p50 "
        f"{_ms(writes['latency_ms']['p50'])}, max {_ms(writes['latency_ms']['max'])}) |",
        f"| **Postgres statements per write** | **{w['statements_total'] / n:.2f}** ({w['statements_total']:,}"
        " in the window, every statement counted) |",
        f"| server CPU per write | {c['server_cpu_s'] * 1000 / n:.2f} ms ({c['server_cpu_s']:.1f} s in "
        f"{c['wall_s']:.0f} s, check-ins included{above}) |",
        f"| host lookups (cache misses) per write | {lookups / n:.2f} ({lookups}: each write announces its "
        "host, and every process then misses it once) |",
        f"| Postgres CPU per write | {c['postgres_cpu_s'] * 1000 / n:.2f} ms |",
        f"| Redis commands per write | {c['redis_commands'] / n:.2f} |",
        f"| detail updates per minute of the window | {w['detail_updates_per_minute']} |",
        "",
        "Statements by kind: " + ", ".join(f"{k} {v}" for k, v in w["statements"]["by_kind"].items()) + ".",
        "",
        *w["statements_top"],
        "",
        end_marker("wave"),
    ]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# docs/performance.md
# ---------------------------------------------------------------------------------------------


def write_section(phase: str, section: str) -> None:
    text = DOC.read_text()
    begin, end = begin_marker(phase), end_marker(phase)
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        DOC.write_text(before + section + rest.split(end, 1)[1])
        return
    # First run of the phase: above the agent-path bench's results, which `make bench` rewrites.
    marker = "<!-- bench:results"
    if marker in text:
        before, after = text.split(marker, 1)
        DOC.write_text(before + section + "\n\n" + marker + after)
    else:
        DOC.write_text(text.rstrip("\n") + "\n\n" + section + "\n")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phases", default=",".join(PHASES), help="comma list of " + ", ".join(PHASES))
    p.add_argument("--hosts", type=int, default=10_000, help="agents for steady, live and wave")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--sim-processes", type=int, default=max(1, min(4, (os.cpu_count() or 2))),
                   help="simulator processes (shards of the fleet)")
    p.add_argument("--start-period", type=float, default=300.0, help="agent starts spread over this long")
    p.add_argument("--ramp-timeout", type=float, default=600.0,
                   help="beyond the start period, how long to wait for every host's first answers")
    p.add_argument("--settle", type=float, default=60.0,
                   help="seconds after the start period before the steady window opens")
    p.add_argument("--window", type=float, default=120.0, help="steady-state window, seconds")
    p.add_argument("--storm-hosts", type=int, default=10_000)
    p.add_argument("--storm-period", type=float, default=60.0, help="the storm's enrollments start within this long")
    p.add_argument("--storm-timeout", type=float, default=300.0,
                   help="beyond the storm period, how long to wait for every host to be enrolled")
    p.add_argument("--storm-double", type=float, default=0.05,
                   help="share of storm hosts sending two enroll requests at once")
    p.add_argument("--live-timeout", type=float, default=60.0)
    p.add_argument("--wave-window", type=float, default=330.0,
                   help="seconds measured after the wave starts: the lead, the six one-minute jitter buckets "
                        "of the default 10 %% of 1 h (the last due after 5 min), a distributed interval and 15 s")
    p.add_argument("--wave-lead", type=float, default=30.0,
                   help="seconds from the announcement until the first hosts come due; the window opens 2 s "
                        "before, after the cache misses the announcement causes")
    p.add_argument("--update-interval", type=float, default=3600.0,
                   help="the server's detail/label/policy update interval (its default)")
    p.add_argument("--labels", type=int, default=5, help="dynamic labels added")
    p.add_argument("--policies", type=int, default=5, help="global policies added")
    p.add_argument("--os-templates", default="macos_14,ubuntu_22.04,windows_11,rhel_9")
    p.add_argument("--config-interval", type=float, default=60.0)
    p.add_argument("--query-interval", type=float, default=10.0)
    p.add_argument("--logger-tls-period", type=float, default=10.0)
    p.add_argument("--schedule-interval", type=float, default=10.0)
    p.add_argument("--max-connections", type=int, default=0,
                   help="agent connections over all processes (default: one per host, as each osqueryd has its "
                        "own; fewer make requests wait for a pooled connection, a wait the latencies leave out)")
    p.add_argument("--no-gc-freeze", action="store_true",
                   help="leave the simulator's garbage collector as it is (by default each simulator process "
                        "freezes what it holds after start-up and after the ramp)")
    p.add_argument("--baseline-ms", type=float, default=0.0,
                   help="server CPU per request to compare with (default: the latest `make bench` run in "
                        "docs/performance.md, same --workers if it has it)")
    p.add_argument("--no-doc", action="store_true", help="print the sections, do not rewrite docs/performance.md")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs and logs")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--sim-child"]:
        return _sim_child(argv[1])
    args = build_parser().parse_args(argv)
    phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    if unknown := set(phases) - set(PHASES):
        raise SystemExit(f"unknown phases {sorted(unknown)}; known: {', '.join(PHASES)}")

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-scale-"))
    sections: list[tuple[str, str]] = []
    failed = False
    try:
        if "storm" in phases:
            print(f"scale: storm, {args.storm_hosts} hosts within {args.storm_period:g} s ...", flush=True)
            try:
                storm = run_storm(args, workdir)
            except Exception as exc:
                storm, failed = {"hosts": args.storm_hosts, "period_s": args.storm_period,
                                 "error": f"{exc!r}"[:4000]}, True
            sections.append(("storm", render_storm(storm, args)))
            print(sections[-1][1], flush=True)
        fleet_phases = [x for x in phases if x != "storm"]
        if fleet_phases:
            print(f"scale: {args.hosts} agents for {', '.join(fleet_phases)} ...", flush=True)
            try:
                r = run_fleet(args, fleet_phases, workdir)
            except Exception as exc:
                r, failed = {"hosts": args.hosts, "error": f"{exc!r}"[:4000]}, True
            for phase, render in (("steady", render_steady), ("live", render_live), ("wave", render_wave)):
                if phase in fleet_phases:
                    sections.append((phase, render(r, args)))
                    print(sections[-1][1], flush=True)
    finally:
        if args.keep:
            print(f"scale: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not args.no_doc:
        for phase, section in sections:
            write_section(phase, section)
        print(f"scale: wrote {len(sections)} section(s) of {DOC}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
