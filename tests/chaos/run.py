"""`make chaos`: fault drills under a simulated fleet, written up in docs/reliability.md.

The harness runs what a user runs (the same `fleet serve` launcher and fleet set-up as
tests/bench/run.py: a fresh data dir, embedded Postgres and Redis, `--workers 2`), then the agent
simulator in a process of its own, which records the time, endpoint and outcome of every response
and a fingerprint of every log line it queued. With the hosts checking in, the harness in turn
kills (SIGKILL) and freezes (SIGSTOP, then SIGCONT) the embedded Redis, the embedded Postgres and
one server worker, then stops the whole server with SIGTERM and starts it again on the same data
dir and port. Meanwhile a thread polls /healthz. Afterwards it compares the hosts the simulator
enrolled with the rows of `hosts`, and the log lines the server acknowledged with the lines in
the filesystem log destination.

A killed service that does not come back by itself within --restart-wait seconds is healed the
way an operator would heal it, by restarting `fleet serve`, so the later drills still mean
something; the report says so.

It is a drill, not a test: it reports what it saw against the targets and never fails on them.
The exit code is non-zero only when the drill itself could not be run.

    .venv/bin/python tests/chaos/run.py --hosts 500 --freeze 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
RESULTS_MARKER = "<!-- chaos:results (everything below is written by tests/chaos/run.py) -->"
ENDPOINTS = ("enroll", "config", "distributed_read", "distributed_write", "log")
RECOVERY_TARGET_S = 10.0
SIM_STOP_DEADLINE = 60.0
HEALTH_POLL_S = 0.1


def _load_bench() -> ModuleType:
    """tests/bench/run.py, for its `fleet serve` launcher and fleet set-up (tests/ is no package)."""
    spec = importlib.util.spec_from_file_location("fleet_bench_run", ROOT / "tests" / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def line_fingerprint(line: bytes) -> str:
    # The filesystem destination writes each record stripped, one per line (fleet_adapters.logs).
    return hashlib.blake2b(line.strip(), digest_size=12).hexdigest()


# ---------------------------------------------------------------------------------------------
# The simulator child: `run.py --sim-child CONFIG` (its own process; "stop" on stdin ends it)
# ---------------------------------------------------------------------------------------------


def _sim_child(config_json: str) -> int:
    from fleet_osquery.sim.agent import SimOptions
    from fleet_osquery.sim.simulator import Simulator
    from fleet_osquery.sim.stats import Endpoint, Outcome

    cfg = json.loads(config_json)
    options = SimOptions(
        config_interval=cfg["config_interval"],
        query_interval=cfg["query_interval"],
        logger_tls_period=cfg["logger_tls_period"],
    )
    sim = Simulator(
        cfg["server_url"],
        os.environ["FLEET_SIM_ENROLL_SECRET"],
        hosts=cfg["hosts"],
        os_templates=cfg["os_templates"],
        options=options,
        start_period=cfg["start_period"],
        verify=False,
        max_connections=cfg["max_connections"],
        request_timeout=cfg["request_timeout"],
    )
    # Every response with its wall-clock time (the harness' fault marks are wall-clock too).
    events: list[tuple[float, str, str, int]] = []
    record = sim.stats.record

    def recording(endpoint: Endpoint, outcome: Outcome, status: int | None, latency_ms: float | None) -> None:
        events.append((time.time(), endpoint.value, outcome.value, status or 0))
        record(endpoint, outcome, status, latency_ms)

    sim.stats.record = recording  # type: ignore[method-assign]
    # Every log line a host queued; those no longer in its buffer at the end were acknowledged.
    queued: dict[str, set[str]] = {"result": set(), "status": set()}
    for host in sim.hosts:

        def tracking(buffer: Any, line: bytes, host: Any = host, original: Any = host._buffer) -> None:
            queued["result" if buffer is host.result_buffer else "status"].add(line_fingerprint(line))
            original(buffer, line)

        host._buffer = tracking

    def read_commands(loop: asyncio.AbstractEventLoop, run_task: asyncio.Task[Any]) -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        # stdin closed counts as "stop" too: the harness is gone.
        loop.call_soon_threadsafe(run_task.cancel)

    async def progress() -> None:
        while True:
            print(f"ENROLLED {sum(1 for h in sim.hosts if h.node_key)}", flush=True)
            await asyncio.sleep(1.0)

    async def go() -> None:
        async with sim:
            run_task = asyncio.create_task(sim.run(cfg["max_duration"]))
            progress_task = asyncio.create_task(progress())
            threading.Thread(target=read_commands, args=(asyncio.get_running_loop(), run_task), daemon=True).start()
            with contextlib.suppress(asyncio.CancelledError):
                await run_task
            progress_task.cancel()

    asyncio.run(go())
    remaining = {"result": set(), "status": set()}
    for h in sim.hosts:
        remaining["result"].update(line_fingerprint(bytes(raw)) for raw in h.result_buffer)
        remaining["status"].update(line_fingerprint(bytes(raw)) for raw in h.status_buffer)
    report = sim.report()
    out = {
        "events": events,
        "enrolled": sorted(h.host_identifier for h in sim.hosts if h.node_key),
        "reenrolls": report["totals"]["reenrolls"],
        "host_crashes": report["totals"]["host_crashes"],
        "lines_acknowledged": report["logs"]["lines_sent"],
        "lines_dropped": report["logs"]["lines_dropped"],
        "acknowledged": {kind: sorted(queued[kind] - remaining[kind]) for kind in queued},
        "still_buffered": {kind: len(remaining[kind]) for kind in remaining},
    }
    Path(cfg["result_path"]).write_text(json.dumps(out))
    print("DONE", flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# Watching: the simulator's progress and /healthz
# ---------------------------------------------------------------------------------------------


class SimChild:
    """The simulator process: its ENROLLED progress lines, and stop."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self.enrolled = 0
        self.done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ENROLLED "):
                self.enrolled = int(line.split()[1])
            elif line.startswith("DONE"):
                self.done.set()

    def stop(self) -> int:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        try:
            return self.proc.wait(SIM_STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9


class HealthProbe:
    """/healthz every HEALTH_POLL_S seconds in a thread: (wall time of the answer, status or 0)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=1.0) as client:
            while not self._stop.is_set():
                try:
                    status = client.get(f"{self.url}/healthz").status_code
                except httpx.HTTPError:
                    status = 0
                self.answers.append((time.time(), status))
                self._stop.wait(HEALTH_POLL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


def poll(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> float | None:
    """Wall time at which check() first held, or None if it did not within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return time.time()
        time.sleep(interval)
    return None


# ---------------------------------------------------------------------------------------------
# The processes under attack
# ---------------------------------------------------------------------------------------------


def redis_processes(server: Any) -> list[psutil.Process]:
    return [p for p in server.redis_processes() if p.status() != psutil.STATUS_ZOMBIE]


def redis_answers(server: Any) -> bool:
    client = server.redis_client()
    try:
        return bool(client.ping())
    finally:
        client.close()


def postgres_processes(server: Any) -> list[psutil.Process]:
    """The postmaster first, then its backends and helpers (all of them, for a freeze)."""
    procs: list[psutil.Process] = server.postgres_processes()
    return procs


def postgres_answers(server: Any) -> bool:
    with server.pg_connect() as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def worker_processes(server: Any) -> list[psutil.Process]:
    """uvicorn's worker processes (multiprocessing spawn children), not its resource tracker."""
    parent = psutil.Process(server.process.pid)
    out = []
    for p in parent.children(recursive=False):
        with contextlib.suppress(psutil.Error):
            if "spawn_main" in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


# ---------------------------------------------------------------------------------------------
# The drills
# ---------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    started: float = 0.0  # wall time the fault began
    ended: float = 0.0  # wall time the fault ended (the service back, SIGCONT, or a new server process)
    heal_began: float | None = None  # the service stayed dead: when the drill began restarting the server
    observed_until: float = 0.0
    notes: list[str] = field(default_factory=list)
    healed_by_restart: bool = False


@dataclass
class Drill:
    args: argparse.Namespace
    server: Any
    workdir: Path
    t0: float = 0.0  # wall time the simulator started
    phases: list[Phase] = field(default_factory=list)
    server_lives: list[dict[str, Any]] = field(default_factory=list)

    def restart_server(self) -> dict[str, Any]:
        """SIGTERM, wait, start again on the same data dir and port; keeps the old output files."""
        t0 = time.monotonic()
        stop = self.server.stop()
        stop["stop_s"] = round(time.monotonic() - t0, 2)
        self._keep_output(stop)
        t1 = time.monotonic()
        stop["spawned_at"] = time.time()
        try:
            self.server.start()
        except RuntimeError as exc:
            # A failed start is a finding, not the end of the drill: record it and try once more,
            # as an operator would.
            stop["start_failure"] = str(exc).splitlines()[0][:300]
            self._keep_output(self.server.stop())
            stop["spawned_at"] = time.time()
            self.server.start()
        stop["next_start_s"] = round(time.monotonic() - t1, 2)
        return stop

    def _keep_output(self, stop: dict[str, Any]) -> None:
        """One server life ends: its log problems into the report, its output files renamed."""
        life = len(self.server_lives) + 1
        stop.setdefault("stop_s", None)
        stop["log_problems"] = log_problems(self.server.output())
        for name in ("fleet.out", "fleet.err"):
            with contextlib.suppress(OSError):
                (self.workdir / name).rename(self.workdir / f"{name}.{life}")
        self.server_lives.append(stop)

    @staticmethod
    def start_note(stop: dict[str, Any]) -> str:
        failure = stop.get("start_failure")
        return f" (a first start failed: {failure})" if failure else ""

    def observe(self, phase: Phase) -> None:
        time.sleep(self.args.observe)  # the drill's pacing: agents keep checking in meanwhile
        phase.observed_until = time.time()
        self.phases.append(phase)
        print(f"chaos: {phase.name}: {'; '.join(phase.notes)}", flush=True)

    def heal(self, phase: Phase, what: str) -> None:
        phase.notes.append(
            f"{what} did not come back within {self.args.restart_wait:g} s; the drill restarted fleet serve"
        )
        phase.healed_by_restart = True
        phase.heal_began = time.time()
        stop = self.restart_server()
        # As for a plain restart, the fault ends when the new server process starts: its start-up
        # counts as recovery.
        phase.ended = stop["spawned_at"]
        phase.notes.append(
            f"SIGTERM took {stop['stop_s']} s (exit {stop['exit_code']}), start {stop['next_start_s']} s"
            + self.start_note(stop)
        )

    def kill(
        self, name: str, find: Callable[[], list[psutil.Process]], back: Callable[[], bool], what: str, back_means: str
    ) -> None:
        phase = Phase(name)
        procs = find()
        if not procs:
            phase.notes.append(f"no {what} process found; nothing killed")
            phase.started = phase.ended = time.time()
            self.observe(phase)
            return
        victim = procs[0]
        phase.started = time.time()
        victim.send_signal(signal.SIGKILL)
        phase.notes.append(f"SIGKILL {what} (pid {victim.pid})")

        before = {p.pid for p in procs}

        def replaced() -> bool:
            # A process the kill did not find (the killed one may linger a moment before it is a zombie).
            return bool({p.pid for p in find()} - before) and back()

        came_back = poll(replaced, self.args.restart_wait)
        with contextlib.suppress(psutil.Error):
            if victim.status() == psutil.STATUS_ZOMBIE:
                phase.notes.append("the killed process was still a zombie (its parent had not reaped it)")
        if came_back is None:
            self.heal(phase, what)
        else:
            phase.ended = came_back
            phase.notes.append(f"a new {what} was {back_means} {came_back - phase.started:.1f} s later")
        self.observe(phase)

    def freeze(self, name: str, find: Callable[[], list[psutil.Process]], what: str) -> None:
        phase = Phase(name)
        procs = find()
        if not procs:
            phase.notes.append(f"no {what} process found; nothing frozen")
            phase.started = phase.ended = time.time()
            self.observe(phase)
            return
        phase.started = time.time()
        stopped = []
        try:
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    p.suspend()
                    stopped.append(p)
            phase.notes.append(f"SIGSTOP {what} ({len(stopped)} processes) for {self.args.freeze:g} s")
            time.sleep(self.args.freeze)  # the length of the fault itself
        finally:
            for p in stopped:
                with contextlib.suppress(psutil.Error):
                    p.resume()
        phase.ended = time.time()
        gone = [p.pid for p in stopped if not p.is_running()]
        if gone:
            phase.notes.append(f"{len(gone)} of them had exited by SIGCONT")
        self.observe(phase)

    def full_restart(self) -> None:
        phase = Phase("server SIGTERM + restart")
        phase.started = time.time()
        stop = self.restart_server()
        # The fault ends when the new process is started; its start-up counts as recovery.
        phase.ended = stop["spawned_at"]
        phase.notes.append(
            f"SIGTERM took {stop['stop_s']} s (exit {stop['exit_code']}, leftovers killed: "
            f"{stop['killed_leftovers'] or 'none'}); the new server was healthy "
            f"{stop['next_start_s']} s after its start{self.start_note(stop)}"
        )
        self.observe(phase)

    def full_kill(self) -> None:
        """SIGKILL of `fleet serve` itself: what it leaves running, then a start on the same data dir."""
        phase = Phase("server SIGKILL + restart")
        assert self.server.process is not None
        phase.started = time.time()
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()
        # Its children should follow it; whatever still runs in the data dir afterwards is an orphan.
        gone = poll(lambda: not bench.processes_in(self.server.data_dir), self.args.restart_wait)
        if gone is None:
            orphans = []
            procs = bench.processes_in(self.server.data_dir)
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    orphans.append(proc.name())
                    proc.terminate()
            # Gone for good before the restart: a start that finds a dying postmaster fails.
            _, alive = psutil.wait_procs(procs, timeout=10.0)
            for proc in alive:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(alive, timeout=5.0)
            phase.notes.append(
                f"SIGKILL fleet serve; {self.args.restart_wait:g} s later still running: "
                + ", ".join(f"{n} x {name}" for name, n in Counter(orphans).items())
                + " (the drill stopped them)"
            )
        else:
            phase.notes.append(f"SIGKILL fleet serve; all its processes were gone {gone - phase.started:.1f} s later")
        stop = self.restart_server()
        phase.ended = stop["spawned_at"]
        phase.notes.append(
            f"the new server was healthy {stop['next_start_s']} s after its start{self.start_note(stop)}"
        )
        self.observe(phase)

    def run_all(self) -> None:
        s = self.server
        only = set(self.args.only.split(",")) if self.args.only else None

        def wanted(key: str) -> bool:
            return only is None or key in only

        if wanted("redis"):
            self.kill(
                "Redis SIGKILL", lambda: redis_processes(s), lambda: redis_answers(s), "redis-server", "answering PING"
            )
            self.freeze("Redis SIGSTOP", lambda: redis_processes(s), "redis-server")
        if wanted("postgres"):
            self.kill(
                "Postgres SIGKILL",
                lambda: postgres_processes(s)[:1],
                lambda: postgres_answers(s),
                "postmaster",
                "answering SELECT 1",
            )
            self.freeze("Postgres SIGSTOP", lambda: postgres_processes(s), "postmaster and backends")
        if wanted("worker"):
            self.kill(
                "worker SIGKILL",
                lambda: worker_processes(s),
                lambda: len(worker_processes(s)) >= s.workers,
                "server worker",
                "started by uvicorn (serving or not)",
            )
            self.freeze("worker SIGSTOP", lambda: worker_processes(s)[:1], "one server worker")
        if wanted("restart"):
            self.full_restart()
        if wanted("kill"):
            self.full_kill()


# ---------------------------------------------------------------------------------------------
# One drill, end to end
# ---------------------------------------------------------------------------------------------


def count_hosts(server: Any) -> dict[str, int]:
    with server.pg_connect() as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT osquery_host_id) FROM hosts").fetchone()
    assert row is not None
    return {"rows": int(row[0]), "distinct_osquery_host_ids": int(row[1])}


def file_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    with path.open("rb") as f:
        return [line_fingerprint(line) for line in f if line.strip()]


def run_drill(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="fleet-chaos-"))
    server = bench.Server(workdir, args.workers)
    drill = Drill(args, server, workdir)
    sim: SimChild | None = None
    health: HealthProbe | None = None
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": bench.machine(),
        "args": {k: v for k, v in vars(args).items() if k != "output"},
    }
    try:
        server.start()
        bench.set_up_fleet(server.url, args.schedule_interval)
        health = HealthProbe(server.url)
        result_path = workdir / "sim.json"
        cfg = {
            "server_url": server.url,
            "hosts": args.hosts,
            "os_templates": args.os_templates,
            "start_period": args.start_period,
            "config_interval": args.config_interval,
            "query_interval": args.query_interval,
            "logger_tls_period": args.logger_tls_period,
            "max_connections": args.max_connections,
            "request_timeout": args.request_timeout,
            "max_duration": args.max_duration,
            "result_path": str(result_path),
        }
        env = {**os.environ, "FLEET_SIM_ENROLL_SECRET": bench.ENROLL_SECRET}
        proc = subprocess.Popen(
            [sys.executable, __file__, "--sim-child", json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(workdir / "sim.err").open("wb"),
            text=True,
            env=env,
            cwd=ROOT,
        )
        sim = SimChild(proc)
        t0 = drill.t0 = time.time()
        enrolled_at = poll(
            lambda: sim is not None and sim.enrolled >= args.hosts, args.start_period + args.enroll_wait, interval=0.5
        )
        result["all_enrolled_after_s"] = round(enrolled_at - t0, 1) if enrolled_at else None
        print(f"chaos: {sim.enrolled}/{args.hosts} hosts enrolled; baseline", flush=True)
        baseline = Phase("baseline (no fault)")
        baseline.started = baseline.ended = time.time()
        drill.observe(baseline)
        drill.run_all()
        code = sim.stop()
        if code != 0:
            raise RuntimeError(f"simulator exited with {code}:\n{(workdir / 'sim.err').read_text()[-4000:]}")
        sim_out = json.loads(result_path.read_text())
        # Counted while the server still runs: every acknowledged batch was written before its 200.
        hosts = count_hosts(server)
        logs = {kind: file_lines(server.data_dir / f"osquery_{kind}") for kind in ("result", "status")}
        result.update(summarise(drill, sim_out, health.answers, hosts, logs))
    finally:
        if sim is not None and sim.proc.poll() is None:
            sim.proc.kill()
            sim.proc.wait()
        if health is not None:
            health.stop()
        t1 = time.monotonic()
        stop = server.stop()
        stop["stop_s"] = round(time.monotonic() - t1, 2)
        stop["log_problems"] = log_problems(server.output())
        drill.server_lives.append(stop)
        result["server_lives"] = drill.server_lives
        if args.keep:
            result["workdir"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def outcome_label(outcome: str, status: int) -> str:
    if outcome == "transport":
        return "no response"
    if outcome == "node_invalid":
        return f"{status} node_invalid"
    return f"{status} {outcome}" if status else outcome


def summarise(
    drill: Drill,
    sim: dict[str, Any],
    health: list[tuple[float, int]],
    hosts: dict[str, int],
    logs: dict[str, list[str]],
) -> dict[str, Any]:
    events = sim["events"]
    phases = []
    for ph in drill.phases:
        during: dict[str, Counter[str]] = {e: Counter() for e in ENDPOINTS}
        healing: dict[str, Counter[str]] = {e: Counter() for e in ENDPOINTS}
        after: dict[str, Counter[str]] = {e: Counter() for e in ENDPOINTS}
        first_ok: dict[str, float | None] = dict.fromkeys(ENDPOINTS)
        last_error: dict[str, float | None] = dict.fromkeys(ENDPOINTS)
        requests = Counter[str]()
        for at, ep, outcome, status in events:
            if not ph.started <= at <= ph.observed_until:
                continue
            requests[ep] += 1
            ok = outcome == "ok"
            if not ok:
                if ph.heal_began is not None and ph.heal_began <= at <= ph.ended:
                    part = healing
                else:
                    part = during if at <= ph.ended else after
                part[ep][outcome_label(outcome, status)] += 1
            if at >= ph.ended and ok and first_ok[ep] is None:
                first_ok[ep] = round(at - ph.ended, 2)
            if not ok:
                last_error[ep] = round(at - ph.ended, 2)
        healthz = [(at, st) for at, st in health if ph.started <= at <= ph.observed_until]
        healthy_at = next((at for at, st in healthz if at >= ph.ended and st == 200), None)
        # Healthy for good: after the last non-200 answer of the phase.
        last_bad = max((at for at, st in healthz if st != 200), default=None)
        phases.append(
            {
                "name": ph.name,
                "notes": ph.notes,
                "healed_by_restart": ph.healed_by_restart,
                "started_s": round(ph.started - drill.t0, 1),
                "fault_s": round(ph.ended - ph.started, 1),
                "dead_before_heal_s": round(ph.heal_began - ph.started, 1) if ph.heal_began else None,
                "observed_s": round(ph.observed_until - ph.ended, 1),
                "requests": dict(requests),
                "errors_during": {e: dict(c) for e, c in during.items() if c},
                "errors_healing": {e: dict(c) for e, c in healing.items() if c},
                "errors_after": {e: dict(c) for e, c in after.items() if c},
                # Enrolled hosts' requests while the fault lasted, the server up: the hot path that
                # should ride out a Redis or Postgres outage on its caches.
                "cached_host_errors": sum(sum(c.values()) for e, c in during.items() if e != "enroll"),
                "first_ok_after_s": first_ok,
                "last_error_after_s": last_error,
                "healthz_non_200": sum(1 for _, st in healthz if st != 200),
                "healthz_200_after_s": round(healthy_at - ph.ended, 2) if healthy_at is not None else None,
                "healthz_last_non_200_after_s": round(last_bad - ph.ended, 2) if last_bad is not None else None,
            }
        )
    log_figures = {}
    for kind, lines in logs.items():
        in_file = Counter(lines)
        acked = set(sim["acknowledged"][kind])
        log_figures[kind] = {
            "acknowledged": sim["lines_acknowledged"].get(kind, 0),
            "acknowledged_distinct": len(acked),
            "in_file": len(lines),
            "in_file_distinct": len(in_file),
            "lost": len(acked - in_file.keys()),
            "written_twice": sum(1 for n in in_file.values() if n > 1),
            "in_file_not_acknowledged": len(in_file.keys() - acked),
            "still_buffered_at_stop": sim["still_buffered"][kind],
        }
    enrolled = sim["enrolled"]
    return {
        "phases": phases,
        "hosts": {
            "simulated": drill.args.hosts,
            "enrolled": len(enrolled),
            "enrolled_distinct": len(set(enrolled)),
            **hosts,
            "duplicates": hosts["rows"] - len(set(enrolled)),
            "reenrolls": sim["reenrolls"],
            "host_crashes": sim["host_crashes"],
        },
        "logs": log_figures,
        "requests_total": len(events),
    }


def _s(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def _errors(by_ep: dict[str, dict[str, int]]) -> str:
    if not by_ep:
        return "none"
    return "; ".join(
        f"{ep}: " + ", ".join(f"{n} x {label}" for label, n in sorted(c.items(), key=lambda kv: -kv[1]))
        for ep, c in by_ep.items()
    )


def render(r: dict[str, Any]) -> str:
    a = r["args"]
    out = [RESULTS_MARKER, "", f"## Run of {r['date']}", ""]
    if "phases" not in r:
        out += ["The drill failed before it had figures:", "", "```", str(r.get("error", ""))[:3000], "```", ""]
        return "\n".join(out)
    m = r["machine"]
    out += [
        f"{m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB, Python {m['python']}, kernel {m['kernel']}; "
        f"other work shared the machine. `fleet serve --workers {a['workers']}`; {a['hosts']} simulated hosts "
        f"({a['os_templates']}) started over {a['start_period']:g} s, config every {a['config_interval']:g} s, "
        f"distributed every {a['query_interval']:g} s, logs every {a['logger_tls_period']:g} s, a snapshot query "
        f"every {a['schedule_interval']:g} s, request timeout {a['request_timeout']:g} s. Freezes last "
        f"{a['freeze']:g} s; a killed service gets {a['restart_wait']:g} s to come back by itself; each fault "
        f"is followed by {a['observe']:g} s of observation. All hosts enrolled "
        f"{_s(r.get('all_enrolled_after_s'))} s after the simulator started; {r['requests_total']:,} agent "
        "requests in all.",
        "",
        "### Recovery after each fault",
        "",
        "Seconds from the end of the fault (the service answering again, SIGCONT, or the restarted "
        "server's process starting) to the first 200 from /healthz and to the first successful request of "
        "each kind; then the last /healthz other than 200 and the last failed agent request in the phase, "
        "from the same moment (negative: it came while the fault lasted). — means none in the phase (hosts "
        "send `distributed_write` only when the server has queries for them, not in the steady state). "
        "Errors while it lasted: failed requests of enrolled hosts while the fault lasted, before any "
        "restart by the drill (for Redis and Postgres, what the cached hot path did not ride out; for the "
        "server faults, whatever reached no server).",
        "",
        "| fault | began (s) | fault lasted (s) | /healthz 200 | last /healthz ≠ 200 | "
        + " | ".join(f"{e} ok" for e in ENDPOINTS)
        + " | last error | errors while it lasted (enrolled hosts) |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(ENDPOINTS) + "---:|---:|",
    ]
    for p in r["phases"]:
        last_errors = [v for v in p["last_error_after_s"].values() if v is not None]
        out.append(
            f"| {p['name']} | {p['started_s']:.0f} | {p['fault_s']:.1f} | {_s(p['healthz_200_after_s'])} | "
            f"{_s(p['healthz_last_non_200_after_s'])} | "
            + " | ".join(_s(p["first_ok_after_s"][e]) for e in ENDPOINTS)
            + f" | {_s(max(last_errors) if last_errors else None)} | {p['cached_host_errors']} |"
        )
    out += [
        "",
        "### What the agents saw",
        "",
        "Failed agent requests by endpoint and answer: while the fault lasted, while the drill restarted "
        "the server for a service that stayed dead, and in the observation time after the fault. A request "
        'counts when its answer (or failure) came. "no response": connection refused or reset, or the '
        "simulator's request timeout.",
        "",
    ]
    for p in r["phases"]:
        out += [
            f"- **{p['name']}** — {'; '.join(p['notes']) or 'no fault'}.",
            f"  During: {_errors(p['errors_during'])}.",
            *(
                [f"  While the drill restarted the server: {_errors(p['errors_healing'])}."]
                if p["healed_by_restart"]
                else []
            ),
            f"  After: {_errors(p['errors_after'])}.",
            f"  Requests in the phase: {', '.join(f'{k} {v}' for k, v in p['requests'].items()) or 'none'}; "
            f"/healthz answered non-200 {p['healthz_non_200']} times.",
        ]
    h = r["hosts"]
    out += [
        "",
        "### Hosts",
        "",
        f"{h['simulated']} simulated hosts, {h['enrolled']} enrolled at the end ({h['enrolled_distinct']} "
        f"distinct); `hosts` holds {h['rows']} rows ({h['distinct_osquery_host_ids']} distinct osquery host "
        f"ids): **{h['duplicates']} duplicate hosts**. Re-enrollments: {h['reenrolls']}; simulator host "
        f"crashes: {h['host_crashes']}.",
        "",
        "### Log lines",
        "",
        "A line is acknowledged when the batch carrying it was answered 200 without an `error`; it is "
        "identified by a hash of its bytes, which the filesystem destination writes unchanged, one per line.",
        "",
        "| log | acknowledged | in the file | acknowledged but not in the file (lost) | written twice | "
        "in the file, not acknowledged | still buffered at stop |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, lf in r["logs"].items():
        out.append(
            f"| {kind} | {lf['acknowledged']:,} | {lf['in_file']:,} | **{lf['lost']}** | "
            f"{lf['written_twice']} | {lf['in_file_not_acknowledged']} | {lf['still_buffered_at_stop']} |"
        )
    out += ["", "### Against the targets", ""]
    lost = sum(lf["lost"] for lf in r["logs"].values())
    slow = [p["name"] for p in r["phases"] if p["name"] != "baseline (no fault)" and not recovered(p)]
    cached = sum(p["cached_host_errors"] for p in r["phases"] if p["name"].startswith(("Redis", "Postgres")))
    healed = [p["name"] for p in r["phases"] if p["healed_by_restart"]]
    out += [
        f"- Acknowledged log lines lost: {lost} (target 0).",
        f"- Duplicate hosts: {h['duplicates']} (target 0).",
        f"- Recovery within {RECOVERY_TARGET_S:g} s of the fault ending (/healthz 200 for good and no agent "
        f"error after it): {'all faults' if not slow else 'missed for ' + ', '.join(slow)}.",
        f"- Errors for enrolled (cached) hosts while Redis or Postgres was down or frozen: {cached} (target 0).",
        f"- Services that did not come back by themselves (healed by restarting fleet serve): "
        f"{', '.join(healed) if healed else 'none'}.",
        "",
        "### Server processes",
        "",
    ]
    for i, life in enumerate(r["server_lives"], 1):
        out.append(
            f"- Life {i}: stopped in {_s(life['stop_s'])} s with exit {life['exit_code']}, leftovers killed: "
            f"{life['killed_leftovers'] or 'none'}; logged problems: {life['log_problems'] or 'none'}."
        )
    out.append("")
    return "\n".join(out)


_LOG_PREFIX = re.compile(r"^\S+Z \[(\w+)\s*\] ")


def log_problems(text: str) -> dict[str, int]:
    """The server's warnings and errors, counted by event (structlog's console lines, less time and fields)."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        m = _LOG_PREFIX.match(line)
        if m is not None and m[1] in ("warning", "error", "critical"):
            event = line[m.end() :].split(" error=")[0]
            event = re.split(r" \w+=", event)[0]
            found[f"{m[1]}: {event.strip()[:80]}"] += 1
        elif line.startswith("Traceback"):
            found["Traceback"] += 1
    return dict(found.most_common(12))


def recovered(p: dict[str, Any]) -> bool:
    bad = p["healthz_last_non_200_after_s"]
    errors = [v for v in p["last_error_after_s"].values() if v is not None]
    return (bad is None or bad <= RECOVERY_TARGET_S) and (not errors or max(errors) <= RECOVERY_TARGET_S)


DEFAULT_INTRO = "# Reliability under faults\n\n`make chaos` writes the figures below.\n"


def write_doc(path: Path, body: str) -> None:
    intro = DEFAULT_INTRO
    if path.exists():
        text = path.read_text()
        intro = text.split(RESULTS_MARKER, 1)[0] if RESULTS_MARKER in text else text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(intro.rstrip() + "\n\n" + body)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hosts", type=int, default=500)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--start-period", type=float, default=20.0)
    p.add_argument(
        "--enroll-wait",
        type=float,
        default=60.0,
        help="seconds after the start period to wait for every host to enroll",
    )
    p.add_argument("--os-templates", default="macos_14,ubuntu_22.04,windows_11,rhel_9")
    p.add_argument("--config-interval", type=float, default=20.0)
    p.add_argument("--query-interval", type=float, default=5.0)
    p.add_argument("--logger-tls-period", type=float, default=5.0)
    p.add_argument("--schedule-interval", type=float, default=10.0)
    p.add_argument("--max-connections", type=int, default=200)
    p.add_argument("--request-timeout", type=float, default=16.0)
    p.add_argument("--freeze", type=float, default=10.0, help="seconds each SIGSTOP lasts")
    p.add_argument(
        "--restart-wait", type=float, default=20.0, help="seconds a killed service gets to come back by itself"
    )
    p.add_argument("--observe", type=float, default=15.0, help="seconds watched after each fault")
    p.add_argument("--max-duration", type=float, default=1200.0, help="the simulator stops by itself after this")
    p.add_argument("--only", default="", help="comma list of redis,postgres,worker,restart,kill (default: all)")
    p.add_argument("--output", type=Path, default=DOC)
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and logs")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--sim-child"]:
        return _sim_child(argv[1])
    args = build_parser().parse_args(argv)

    # A stopped drill still stops its server and simulator (run_drill's finally).
    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    print(f"chaos: {args.hosts} hosts, --workers {args.workers} ...", flush=True)
    try:
        r = run_drill(args)
    except Exception as exc:  # reported in the doc: a failed drill is a finding too
        r = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "args": vars(args),
            "error": f"{exc!r}"[:4000],
        }
    write_doc(args.output, render(r))
    print(f"chaos: wrote {args.output}", flush=True)
    return 0 if "phases" in r else 1


if __name__ == "__main__":
    raise SystemExit(main())
