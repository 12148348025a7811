"""`make bench`: the agent hot path under a simulated fleet, written up in docs/performance.md.

The harness runs what a user runs: `fleet serve --no-server-tls` with a fresh data dir (embedded
Postgres and Redis), an admin and an enroll secret made through the API, then `fleet-sim`'s
Simulator in a process of its own so its CPU is never counted as the server's. The simulator
marks a steady-state window (the last WINDOW seconds, once every host has enrolled and sent its
first detail and label answers); inside it the harness samples the server processes' CPU, Postgres'
statement log and transaction counters, and Redis' command counters.

It is a benchmark, not a test: it reports what it saw and never fails on a target. The exit code is
non-zero only when the run itself could not be made (server did not start, simulator crashed).

    .venv/bin/python tests/bench/run.py --hosts 2000 --duration 180 --window 90 --workers 1,2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "performance.md"
RESULTS_MARKER = "<!-- bench:results (everything below is written by tests/bench/run.py) -->"
BENCH_APP = "fleet-bench"  # application_name of the harness' own Postgres connection
START_DEADLINE = 90.0
STOP_DEADLINE = 60.0
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-horse-battery-9"
ENROLL_SECRET = "bench-enroll-secret-0123456789"
# %n: epoch with milliseconds, so statements can be cut to the window by time.
LOG_LINE_PREFIX = "%n [%p] %a|"
_LOG_RECORD = re.compile(r"^(\d+\.\d+) \[(\d+)\] ([^|]*)\|([A-Z]+):  (.*)$")

# ---------------------------------------------------------------------------------------------
# The simulator child: `run.py --sim-child CONFIG` (its own process, its own CPU)
# ---------------------------------------------------------------------------------------------


def _sim_child(config_json: str) -> int:
    from fleet_osquery.sim.agent import SimOptions
    from fleet_osquery.sim.simulator import Simulator
    from fleet_osquery.sim.stats import EndpointStats

    cfg = json.loads(config_json)
    secret = os.environ["FLEET_SIM_ENROLL_SECRET"]
    options = SimOptions(
        config_interval=cfg["config_interval"],
        query_interval=cfg["query_interval"],
        logger_tls_period=cfg["logger_tls_period"],
    )
    sim = Simulator(
        cfg["server_url"], secret, hosts=cfg["hosts"], os_templates=cfg["os_templates"], options=options,
        start_period=cfg["start_period"], verify=cfg.get("verify", False), max_connections=cfg["max_connections"],
        keep_alive=cfg.get("keep_alive", True),
    )
    duration: float = cfg["duration"]
    window_start: float = duration - cfg["window"]
    # The window closes a little before the simulator stops, so no request is cut off inside it.
    window_end: float = duration - 1.0
    # --live: the simulator keeps running after the steady-state window, marks what the harness
    # names on stdin ("mark NAME") and stops when told ("stop"), or after live_max more seconds.
    live: bool = cfg.get("live", False)
    run_for = duration + cfg.get("live_max", 0.0) if live else duration
    full_run_at_end: dict[str, Any] = {}

    def snapshot() -> dict[str, tuple[Counter[Any], Counter[int], int]]:
        return {
            ep.value: (Counter(s.outcomes), Counter(s.status_codes), len(s.latencies_ms))
            for ep, s in sim.stats.endpoints.items()
        }

    marks: dict[str, Any] = {}

    def mark(name: str) -> None:
        marks[name] = {"snapshot": snapshot(), "monotonic": time.monotonic(), "wall": time.time(),
                       "enrolled": sum(1 for h in sim.hosts if h.node_key), "started": sim.started_hosts}
        if name == "end" and live:
            # The whole-run table stays the run up to the steady state's end, as without --live.
            full_run_at_end.update(sim.report())
        print(f"MARK {name} {marks[name]['wall']:.3f}", flush=True)

    def read_commands(loop: asyncio.AbstractEventLoop, run_task: asyncio.Task[Any]) -> None:
        """Harness commands on stdin (a thread of its own; the marks happen on the event loop)."""
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["mark"] and len(words) == 2:
                loop.call_soon_threadsafe(mark, words[1])
            elif words[:1] == ["stop"]:
                loop.call_soon_threadsafe(run_task.cancel)
                return

    async def marker(t0: float) -> None:
        await asyncio.sleep(max(0.0, t0 + window_start - time.monotonic()))
        mark("start")
        await asyncio.sleep(max(0.0, t0 + window_end - time.monotonic()))
        mark("end")

    async def go() -> dict[str, Any]:
        async with sim:
            task = asyncio.create_task(marker(time.monotonic()))
            run_task = asyncio.create_task(sim.run(run_for))
            if live:
                threading.Thread(target=read_commands, args=(asyncio.get_running_loop(), run_task),
                                 daemon=True).start()
            try:
                report: dict[str, Any] = await run_task
            except asyncio.CancelledError:
                report = sim.report()
            await task
            return full_run_at_end or report

    try:
        import uvloop
        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        report = runner.run(go())

    start, end = marks["start"], marks["end"]
    elapsed = end["monotonic"] - start["monotonic"]
    window: dict[str, Any] = {}
    for ep, stats in sim.stats.endpoints.items():
        s_out, s_codes, s_len = start["snapshot"][ep.value]
        e_out, e_codes, e_len = end["snapshot"][ep.value]
        part = EndpointStats()
        part.outcomes = e_out - s_out
        part.status_codes = e_codes - s_codes
        part.latencies_ms = stats.latencies_ms[s_len:e_len]
        window[ep.value] = part.summary(elapsed)
    intervals: dict[str, Any] = {}
    for name, first in marks.items():
        base = name.removesuffix(".start")
        last = marks.get(f"{base}.end")
        if not name.endswith(".start") or last is None:
            continue
        span = last["monotonic"] - first["monotonic"]
        eps: dict[str, Any] = {}
        for ep, stats in sim.stats.endpoints.items():
            s_out, s_codes, s_len = first["snapshot"][ep.value]
            e_out, e_codes, e_len = last["snapshot"][ep.value]
            part = EndpointStats()
            part.outcomes = e_out - s_out
            part.status_codes = e_codes - s_codes
            part.latencies_ms = stats.latencies_ms[s_len:e_len]
            eps[ep.value] = part.summary(span)
        intervals[base] = {"elapsed_s": round(span, 3), "wall_start": first["wall"], "wall_end": last["wall"],
                           "endpoints": eps}
    out = {
        "full_run": report,
        "intervals": intervals,
        "window": {
            "elapsed_s": round(elapsed, 3),
            "wall_start": start["wall"], "wall_end": end["wall"],
            "hosts_enrolled_at_start": start["enrolled"], "hosts_started_at_start": start["started"],
            "endpoints": window,
            "requests": sum(e["requests"] for e in window.values()),
            "errors": sum(e["errors"] for e in window.values()),
        },
    }
    Path(cfg["result_path"]).write_text(json.dumps(out, indent=2))
    print("DONE", flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# Processes and their counters
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set (VmHWM) of a live process, in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(procs: list[psutil.Process], *, with_reaped_children: bool = False) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
            if with_reaped_children:
                total += t.children_user + t.children_system
    return total


def processes_in(data_dir: Path) -> list[psutil.Process]:
    """Live processes working in data_dir or naming it (postgres and redis-server chdir there)."""
    root = str(data_dir.resolve())
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["pid"] == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cwd = info["cwd"] or ""
        if cwd == root or cwd.startswith(root + os.sep) or root in " ".join(info["cmdline"] or ()):
            found.append(proc)
    return found


@dataclass
class Server:
    """One `fleet serve` subprocess in a temporary data dir."""

    workdir: Path
    workers: int
    profile_path: Path | None = None
    # (certificate, key) to serve HTTPS with; None: plain HTTP.
    tls: tuple[Path, Path] | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What a client trusts: the server's own certificate over TLS."""
        return True if self.tls is None else ssl.create_default_context(cafile=str(self.tls[0]))

    def command(self) -> list[str]:
        tls = ["--no-server-tls"] if self.tls is None else ["--server-cert", str(self.tls[0]),
                                                             "--server-key", str(self.tls[1])]
        args = ["serve", *tls, "--data-dir", str(self.data_dir),
                "--server-address", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
        fleet = Path(sys.executable).with_name("fleet")
        return [str(fleet), *args] if fleet.exists() else [sys.executable, "-m", "fleet_adapters.serve.cli", *args]

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
        with (self.workdir / "fleet.out").open("wb") as out, (self.workdir / "fleet.err").open("wb") as err:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fleet serve exited with {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=2.0, verify=self.verify).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"fleet serve not healthy within {START_DEADLINE}s:\n{self.output()}")

    def output(self) -> str:
        return "".join((self.workdir / n).read_text(errors="replace") for n in ("fleet.out", "fleet.err")
                       if (self.workdir / n).exists())

    def server_processes(self) -> list[psutil.Process]:
        """`fleet serve` and its uvicorn workers; not redis-server (its child) nor postgres."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        kids = [p for p in parent.children(recursive=True) if "redis" not in p.name()]
        return [parent, *kids]

    def redis_processes(self) -> list[psutil.Process]:
        return [p for p in processes_in(self.data_dir) if "redis" in p.name()]

    def postmaster(self) -> psutil.Process:
        pid = int((self.data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])
        return psutil.Process(pid)

    def postgres_processes(self) -> list[psutil.Process]:
        pm = self.postmaster()
        return [pm, *pm.children(recursive=True)]

    def pg_connect(self) -> psycopg.Connection[Any]:
        lines = (self.data_dir / "postgres" / "postmaster.pid").read_text().splitlines()
        port, socket_dir = lines[3].strip(), lines[4].strip()
        return psycopg.connect(host=socket_dir, port=port, user="postgres", dbname="postgres",
                               application_name=BENCH_APP, autocommit=True)

    def redis_client(self) -> redis.Redis:
        conf = (self.data_dir / "redis" / "redis.conf").read_text()
        sock = re.search(r'^unixsocket "(.*)"$', conf, re.M)
        assert sock is not None
        return redis.Redis(unix_socket_path=sock.group(1).replace('\\"', '"').replace("\\\\", "\\"))

    def stop(self) -> dict[str, Any]:
        """SIGTERM, wait, then make sure nothing of the data dir is left running."""
        result: dict[str, Any] = {"exit_code": None, "killed_leftovers": []}
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                result["exit_code"] = self.process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                result["exit_code"] = f"killed after ignoring SIGTERM for {STOP_DEADLINE}s"
                self.process.wait()
        elif self.process is not None:
            result["exit_code"] = self.process.returncode
        deadline = time.monotonic() + 20.0
        leftovers = processes_in(self.data_dir)
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.2)
            leftovers = processes_in(self.data_dir)
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                result["killed_leftovers"].append(f"{proc.pid} {proc.name()}")
                proc.kill()
        return result


def bench_certificate(workdir: Path) -> tuple[Path, Path]:
    """A self-signed pair for 127.0.0.1, made as `fleet serve` makes its own; the simulator trusts it."""
    from fleet_adapters.tls import ensure_self_signed

    return ensure_self_signed(workdir / "tls")


@dataclass
class FloorServer(Server):
    """tests/bench/floor_app.py: the same uvicorn options, Litestar and msgspec, constant answers."""

    schedule_interval: float = 10.0
    asgi_server: str = "uvicorn"

    def command(self) -> list[str]:
        args = [sys.executable, str(Path(__file__).with_name("floor_app.py")), "--port", str(self.port),
                "--workers", str(self.workers), "--schedule-interval", str(self.schedule_interval),
                "--asgi-server", self.asgi_server]
        if self.tls is not None:
            args += ["--certfile", str(self.tls[0]), "--keyfile", str(self.tls[1])]
        return args

    def server_processes(self) -> list[psutil.Process]:
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        return [parent, *parent.children(recursive=True)]


@dataclass
class Sample:
    wall: float
    server_cpu_s: float
    postgres_cpu_s: float
    redis_cpu_s: float
    sim_cpu_s: float
    machine_busy_s: float
    xacts: int
    redis_calls: dict[str, int]


def machine_busy_seconds() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))


def sample(server: Server, sim: psutil.Process, pg: psycopg.Connection[Any], rds: redis.Redis) -> Sample:
    row = pg.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'postgres'"
                     ).fetchone()
    pg.execute("SELECT pg_stat_clear_snapshot()")
    stats = rds.info("commandstats")
    return Sample(
        wall=time.time(),
        server_cpu_s=cpu_seconds(server.server_processes()),
        # The postmaster's reaped children count too: backends may come and go in the window.
        postgres_cpu_s=cpu_seconds(server.postgres_processes()[:1], with_reaped_children=True)
        + cpu_seconds(server.postgres_processes()[1:]),
        redis_cpu_s=cpu_seconds(server.redis_processes()),
        sim_cpu_s=cpu_seconds([sim]),
        machine_busy_s=machine_busy_seconds(),
        xacts=int(row[0]) if row else 0,
        redis_calls={k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()},
    )


# ---------------------------------------------------------------------------------------------
# Postgres' statement log
# ---------------------------------------------------------------------------------------------


def set_statement_logging(pg: psycopg.Connection[Any], on: bool) -> None:
    if on:
        pg.execute(f"ALTER SYSTEM SET log_line_prefix = '{LOG_LINE_PREFIX}'")
        pg.execute("ALTER SYSTEM SET log_statement = 'all'")
    else:
        pg.execute("ALTER SYSTEM RESET log_statement")
    pg.execute("SELECT pg_reload_conf()")


def statement_kind(sql: str) -> str:
    """Which part of the server sent a statement, from its text (the agent path's statements)."""
    s = " ".join(sql.split()).lower()
    if s == "":
        return "pool checkout check (empty query)"
    if s in ("begin", "commit", "rollback"):
        return f"transaction control ({s.upper()})"
    # Before the seen-time test: the host lookup selects seen_time too.
    if "node_key" in s:
        return "host lookup by node key (host cache miss)"
    if "host_seen_times" in s and s.startswith("insert"):
        return "seen-time flush"
    if "app_config" in s:
        return "app config refresh"
    if "enroll_secret" in s:
        return "enroll secrets refresh"
    if "label" in s:
        return "labels"
    return "other"


@dataclass
class Statement:
    at: float
    pid: int
    sql: str
    params: str = ""


def read_statements(log_path: Path, start: float, end: float) -> list[Statement]:
    """Every statement the server's connections ran in [start, end), with its logged parameters."""
    out: list[Statement] = []
    last_of: dict[int, Statement] = {}
    current: Statement | None = None
    with log_path.open(errors="replace") as f:
        for line in f:
            m = _LOG_RECORD.match(line.rstrip("\n"))
            if m is None:
                if current is not None:
                    current.sql += "\n" + line.rstrip("\n")
                continue
            current = None
            at, pid, app, level, message = float(m[1]), int(m[2]), m[3], m[4], m[5]
            if app == BENCH_APP or not start <= at < end:
                continue
            if level == "DETAIL" and message.startswith("parameters: ") and pid in last_of:
                last_of[pid].params = message.removeprefix("parameters: ")
                continue
            if level != "LOG":
                continue
            if message.startswith("statement: "):
                current = Statement(at, pid, message.removeprefix("statement: "))
            elif message.startswith("execute "):
                current = Statement(at, pid, message.split(": ", 1)[1] if ": " in message else "")
            if current is not None:
                out.append(current)
                last_of[pid] = current
    return out


def summarise_statements(statements: list[Statement]) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    texts: Counter[str] = Counter()
    lookups: Counter[str] = Counter()
    last_lookup: dict[str, float] = {}
    lookups_within_2s = 0
    for st in statements:
        kind = statement_kind(st.sql)
        kinds[kind] += 1
        texts[" ".join(st.sql.split())[:160]] += 1
        if kind.startswith("host lookup"):
            lookups[st.params] += 1
            if st.at - last_lookup.get(st.params, -1e9) < 2.0:
                lookups_within_2s += 1
            last_lookup[st.params] = st.at
    # Transactions by what they did: the statements of one backend between BEGIN and COMMIT.
    open_tx: dict[int, list[str]] = {}
    tx_kinds: Counter[str] = Counter()
    for st in statements:
        pid, kind = st.pid, statement_kind(st.sql)
        if kind.startswith("transaction control (BEGIN"):
            open_tx[pid] = []
        elif kind.startswith("transaction control"):
            body = open_tx.pop(pid, [])
            tx_kinds[" + ".join(sorted(set(body))) or "(empty)"] += 1
        elif pid in open_tx and not kind.startswith("pool checkout"):
            open_tx[pid].append(kind)
    return {
        "total": len(statements),
        "by_kind": dict(kinds.most_common()),
        "by_text": dict(texts.most_common(25)),
        "transactions_by_content": dict(tx_kinds.most_common()),
        # Several lookups of one node key in the window: concurrent misses of the same host.
        "host_lookups": {"total": sum(lookups.values()), "distinct_node_keys": len(lookups),
                         "keys_looked_up_more_than_once": sum(1 for n in lookups.values() if n > 1),
                         "repeated_within_2s": lookups_within_2s},
    }


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------


def set_up_fleet(url: str, schedule_interval: float, verify: ssl.SSLContext | bool = True) -> str:
    """Admin, enroll secret, and a scheduled query so the hosts have logs to send; returns the
    admin's API token."""
    with httpx.Client(base_url=url, timeout=30.0, verify=verify) as client:
        r = client.post("/api/v1/setup", json={
            "admin": {"admin": True, "email": ADMIN_EMAIL, "name": "Bench Admin", "password": ADMIN_PASSWORD,
                      "password_confirmation": ADMIN_PASSWORD},
            "org_info": {"org_name": "Bench"},
            "server_url": url,
        })
        if r.status_code != 200:
            raise RuntimeError(f"POST /api/v1/setup answered {r.status_code}: {r.text}")
        token = r.json()["token"]
        r = client.post("/api/v1/fleet/spec/enroll_secret", headers={"Authorization": f"Bearer {token}"},
                        json={"spec": {"secrets": [{"secret": ENROLL_SECRET}]}})
        if r.status_code != 200:
            raise RuntimeError(f"POST /api/v1/fleet/spec/enroll_secret answered {r.status_code}: {r.text}")
        if schedule_interval <= 0:
            return str(token)
        r = client.get("/api/v1/fleet/config", headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 200:
            raise RuntimeError(f"GET /api/v1/fleet/config answered {r.status_code}: {r.text}")
        agent_options = r.json().get("agent_options") or {}
        config = agent_options.setdefault("config", {})
        # Without a schedule osquery has no result or status lines, and /log would see no traffic.
        config["schedule"] = {"bench_uptime": {"query": "SELECT * FROM uptime;", "interval": int(schedule_interval),
                                               "snapshot": True}}
        r = client.patch("/api/v1/fleet/config", headers={"Authorization": f"Bearer {token}"},
                         json={"agent_options": agent_options})
        if r.status_code != 200:
            raise RuntimeError(f"PATCH /api/v1/fleet/config answered {r.status_code}: {r.text}")
    return str(token)


# ---------------------------------------------------------------------------------------------
# --live: one campaign on every host over the results WebSocket, then Redis' cost per check-in
# while 0, 1, 10 and 100 campaigns nobody listens to are running
# ---------------------------------------------------------------------------------------------

LIVE_SQL = "SELECT 1 AS one;"
ACTIVE_CAMPAIGNS_KEY = "livequery:active"  # fleet_adapters.redis.live_queries.ACTIVE_KEY


class SimControl:
    """The --live simulator child's stdin and stdout: marks on request, and stop."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self.stdin, self.stdout = proc.stdin, proc.stdout

    def mark(self, name: str) -> None:
        self.stdin.write(f"mark {name}\n")
        self.stdin.flush()
        for line in self.stdout:
            if line.startswith(f"MARK {name} "):
                return
        raise RuntimeError(f"the simulator ended before marking {name}")

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stdin.write("stop\n")
            self.stdin.flush()
            self.stdin.close()


@dataclass
class LiveContext:
    server: Server
    token: str
    api: httpx.Client
    ctl: SimControl
    take: Any  # () -> Sample
    rds: redis.Redis
    label_id: int = 0


@contextlib.contextmanager
def ws_connect(ctx: LiveContext, close_timeout: float = 10.0) -> Iterator[Any]:
    """The results WebSocket, authenticated (websockets' sync client: the harness is not async)."""
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{ctx.server.port}/api/v1/fleet/results/websocket", open_timeout=30,
                 close_timeout=close_timeout, max_size=None) as ws:
        ws.send(json.dumps({"type": "auth", "data": {"token": ctx.token}}))
        yield ws


def all_hosts_label(api: httpx.Client) -> int:
    r = api.get("/api/v1/fleet/labels")
    if r.status_code != 200:
        raise RuntimeError(f"GET /api/v1/fleet/labels answered {r.status_code}: {r.text}")
    for label in r.json()["labels"]:
        if label["name"] == "All Hosts":
            return int(label["id"])
    raise RuntimeError("no All Hosts label")


def start_campaign(ctx: LiveContext) -> dict[str, Any]:
    r = ctx.api.post("/api/v1/fleet/queries/run", json={"query": LIVE_SQL, "selected": {"labels": [ctx.label_id]}})
    if r.status_code != 200:
        raise RuntimeError(f"POST /api/v1/fleet/queries/run answered {r.status_code}: {r.text}")
    return dict(r.json()["campaign"])


def sample_delta(s: Sample, e: Sample) -> dict[str, Any]:
    redis_delta = {k: v - s.redis_calls.get(k, 0) for k, v in e.redis_calls.items()}
    redis_delta["info"] = redis_delta.get("info", 0) - 1  # the harness' own INFO at the start
    return {
        "wall_s": round(e.wall - s.wall, 3),
        "server_cpu_s": round(e.server_cpu_s - s.server_cpu_s, 3),
        "postgres_cpu_s": round(e.postgres_cpu_s - s.postgres_cpu_s, 3),
        "redis_cpu_s": round(e.redis_cpu_s - s.redis_cpu_s, 3),
        "simulator_cpu_s": round(e.sim_cpu_s - s.sim_cpu_s, 3),
        "postgres_transactions": e.xacts - s.xacts - 1,  # less the harness' pg_stat_clear_snapshot()
        "redis_by_command": {k: v for k, v in sorted(redis_delta.items(), key=lambda kv: -kv[1]) if v > 0},
    }


def wait_no_active_campaigns(ctx: LiveContext, timeout: float = 60.0) -> int:
    """Polls Redis until no campaign is active (or the timeout); returns how many still are."""
    deadline = time.monotonic() + timeout
    left = int(ctx.rds.scard(ACTIVE_CAMPAIGNS_KEY))
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = int(ctx.rds.scard(ACTIVE_CAMPAIGNS_KEY))
    return left


def finish_campaigns(ctx: LiveContext, ids: list[int]) -> None:
    """Complete campaigns through the API: select each on the results socket, then leave (20 at a
    time, and without waiting long for the server's closing handshake: it is slow to answer it)."""
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda cid: finish_campaign(ctx, cid), ids))


def finish_campaign(ctx: LiveContext, cid: int) -> None:
    with ws_connect(ctx, close_timeout=1.0) as ws:
        ws.send(json.dumps({"type": "select_campaign", "data": {"campaign_id": cid}}))
        msg = json.loads(ws.recv(timeout=60))
        # A campaign past its first minute ends with the first result nobody hears: done too.
        if msg.get("type") == "error" and "already completed" not in str(msg.get("data")):
            raise RuntimeError(f"campaign {cid}: {msg.get('data')}")


def live_delivery(ctx: LiveContext, timeout: float,
                  on_result: Callable[[dict[str, Any], float], None] | None = None) -> dict[str, Any]:
    """One campaign on All Hosts; the client listens from the start and waits for every online host.
    ``on_result(data, wall)`` is told each result and the wall time the client read it."""
    with ws_connect(ctx) as ws:
        ctx.ctl.mark("delivery.start")
        s0 = ctx.take()
        t0 = time.monotonic()
        t0_wall = time.time()
        campaign = start_campaign(ctx)
        post_s = time.monotonic() - t0
        ws.send(json.dumps({"type": "select_campaign", "data": {"campaign_id": campaign["id"]}}))
        totals: dict[str, Any] | None = None
        arrivals: dict[int, float] = {}
        duplicates = with_error = without_rows = messages = 0
        errors: list[str] = []
        last_status: dict[str, Any] = {}
        deadline = t0 + timeout
        while totals is None or len(arrivals) < totals["online"]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                raw = ws.recv(timeout=remaining)
            except TimeoutError:
                break
            messages += 1
            msg = json.loads(raw)
            kind, data = msg.get("type"), msg.get("data")
            if kind == "totals":
                totals = data
            elif kind == "status":
                last_status = data
            elif kind == "result":
                if on_result is not None:
                    on_result(data, time.time())
                host_id = int(data["host"]["id"])
                if host_id in arrivals:
                    duplicates += 1
                else:
                    arrivals[host_id] = time.monotonic() - t0
                with_error += bool(data.get("error"))
                without_rows += not data.get("rows")
            elif kind == "error":
                errors.append(str(data))
        done_s = time.monotonic() - t0
        s1 = ctx.take()
        ctx.ctl.mark("delivery.end")
    left = wait_no_active_campaigns(ctx)
    times = sorted(arrivals.values())
    online = int(totals["online"]) if totals else 0

    def at(p: float) -> float:
        return round(times[min(len(times), max(1, int(-(-len(times) * p // 100)))) - 1], 3) if times else 0.0

    return {
        "campaign_id": campaign["id"],
        "targeted": int(totals["count"]) if totals else campaign["Metrics"]["total_hosts"],
        "online": online,
        "answered": len(arrivals),
        "all_online_answered": bool(totals) and len(arrivals) >= online,
        "post_s": round(post_s, 3), "started_wall": t0_wall,
        "first_result_s": round(times[0], 3) if times else None,
        "p50_s": at(50), "p90_s": at(90), "p99_s": at(99),
        "all_s": round(times[-1], 3) if times else None,
        "waited_s": round(done_s, 3),
        "results_per_s": round(len(times) / times[-1], 1) if times else 0.0,
        "duplicates": duplicates, "results_with_error": with_error, "results_without_rows": without_rows,
        "messages": messages, "stream_errors": errors, "last_status": last_status,
        "campaigns_left_active": left,
        "counters": sample_delta(s0, s1),
    }


def live_load(ctx: LiveContext, n: int, window: float, settle: float) -> dict[str, Any]:
    """n unlistened campaigns on All Hosts, then a window of check-ins with them all running."""
    t = time.monotonic()
    ids = [int(start_campaign(ctx)["id"]) for _ in range(n)]
    create_s = time.monotonic() - t
    active = int(ctx.rds.scard(ACTIVE_CAMPAIGNS_KEY))
    # Each server process caches the active campaigns for 0.25 s (RedisLiveQueryStore.cache_seconds).
    time.sleep(settle)
    ctx.ctl.mark(f"campaigns{n}.start")
    s0 = ctx.take()
    time.sleep(window)
    s1 = ctx.take()
    ctx.ctl.mark(f"campaigns{n}.end")
    active_at_end = int(ctx.rds.scard(ACTIVE_CAMPAIGNS_KEY))
    t = time.monotonic()
    finish_campaigns(ctx, ids)
    left = wait_no_active_campaigns(ctx)
    return {"campaigns": n, "create_s": round(create_s, 2), "active_at_start": active,
            "active_at_end": active_at_end, "finish_s": round(time.monotonic() - t, 2),
            "campaigns_left_active": left, "counters": sample_delta(s0, s1)}


def run_live(ctx: LiveContext, args: argparse.Namespace) -> dict[str, Any]:
    ctx.label_id = all_hosts_label(ctx.api)
    out: dict[str, Any] = {"query": LIVE_SQL, "label_id": ctx.label_id}
    out["delivery"] = live_delivery(ctx, args.live_timeout)
    print(f"  live: {out['delivery']['answered']}/{out['delivery']['online']} online hosts answered, "
          f"all in {out['delivery']['all_s']} s", flush=True)
    out["load"] = []
    for n in [int(x) for x in args.live_campaigns.split(",") if x.strip()]:
        try:
            out["load"].append(live_load(ctx, n, args.live_window, args.live_settle))
        except Exception as exc:  # what was measured before still counts
            out["load"].append({"campaigns": n, "error": f"{exc!r}"[:2000]})
            print(f"  live: {n} campaigns failed: {exc!r}"[:500], flush=True)
            break
        print(f"  live: {n} campaigns measured", flush=True)
    return out


def finish_live(live: dict[str, Any], intervals: dict[str, Any]) -> None:
    """Per check-in figures, once the simulator's counts for each interval are known."""
    for name, part in [("delivery", live.get("delivery"))] + [(f"campaigns{x['campaigns']}", x)
                                                               for x in live.get("load", [])]:
        if not part or name not in intervals or "counters" not in part:
            continue
        eps = intervals[name]["endpoints"]
        reads = eps["distributed_read"]["requests"]
        c = part["counters"]

        def per(v: float, reads: int = reads) -> float:
            return round(v / reads, 3) if reads else 0.0

        part["sim"] = {"elapsed_s": intervals[name]["elapsed_s"],
                       "endpoints": {k: v for k, v in eps.items() if v["requests"]},
                       "errors": sum(e["errors"] for e in eps.values())}
        part["distributed_reads"] = reads
        part["distributed_writes"] = eps["distributed_write"]["requests"]
        part["per_check_in"] = {
            "redis_commands": per(sum(c["redis_by_command"].values())),
            "redis_by_command": {k: per(v) for k, v in c["redis_by_command"].items()},
            "server_cpu_ms": per(c["server_cpu_s"] * 1000),
            "postgres_transactions": per(c["postgres_transactions"]),
        }



def server_log_problems(text: str) -> dict[str, int]:
    """Warnings and errors the server logged, counted by event name."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        low = line.lower()
        if any(w in low for w in ("warning", "error", "exception", "traceback")):
            m = re.search(r"(agent_request_\w+|seen_flush_failed|host_invalidation_not_sent|live_quer\w+|"
                          r"Exception in ASGI application|timeout graceful shutdown exceeded|Traceback)", line)
            found[m[1] if m else line.strip()[:120]] += 1
    return dict(found.most_common(20))


def run_once(args: argparse.Namespace, workers: int, *, profile: bool = False, tls: str = "off",
             with_live: bool | None = None) -> dict[str, Any]:
    """One run of the real server. ``tls``: "off" (plain HTTP), "reuse" (HTTPS, connections kept
    alive as osqueryd's --tls_session_reuse does) or "new" (HTTPS, a new connection and a full
    handshake per request)."""
    live_phase: bool = args.live if with_live is None else with_live
    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    profile_path = workdir / "server-profile.txt" if profile else None
    spy: subprocess.Popen[bytes] | None = None
    certificate = bench_certificate(workdir) if tls != "off" else None
    server = Server(workdir, workers, profile_path=profile_path, tls=certificate)
    sim_proc: subprocess.Popen[str] | None = None
    result: dict[str, Any] = {"phase": "fleet", "tls": tls, "workers": workers, "profiled": profile,
                              "hosts": args.hosts, "duration_s": args.duration, "window_s": args.window}
    try:
        t0 = time.monotonic()
        server.start()
        result["server_start_s"] = round(time.monotonic() - t0, 2)
        token = set_up_fleet(server.url, args.schedule_interval, server.verify)
        result["idle_cpu_ms_per_s"] = idle_cpu(server, args.idle)
        pg = server.pg_connect()
        rds = server.redis_client()
        result_path = workdir / "sim.json"
        cfg = {
            "server_url": server.url, "hosts": args.hosts, "os_templates": args.os_templates,
            "start_period": args.start_period, "duration": args.duration, "window": args.window,
            "config_interval": args.config_interval, "query_interval": args.query_interval,
            "logger_tls_period": args.logger_tls_period, "max_connections": args.max_connections,
            "result_path": str(result_path), "live": live_phase, "live_max": 3600.0,
            "verify": str(server.tls[0]) if server.tls else False, "keep_alive": tls != "new",
        }
        env = {**os.environ, "FLEET_SIM_ENROLL_SECRET": ENROLL_SECRET}
        sim_proc = subprocess.Popen(
            [sys.executable, __file__, "--sim-child", json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(workdir / "sim.err").open("wb"), text=True,
            env=env, cwd=ROOT,
        )
        sim_ps = psutil.Process(sim_proc.pid)
        assert sim_proc.stdout is not None
        samples: dict[str, Sample] = {}
        deadline = time.monotonic() + args.duration + 120.0
        for line in sim_proc.stdout:
            if line.startswith("MARK start"):
                set_statement_logging(pg, on=True)
                if profile_path is not None:
                    spy = start_profiler(server, profile_path, args.window - 1.0)
                samples["start"] = sample(server, sim_ps, pg, rds)
            elif line.startswith("MARK end"):
                samples["end"] = sample(server, sim_ps, pg, rds)
                set_statement_logging(pg, on=False)
                if live_phase:
                    break
            elif line.startswith("DONE") or time.monotonic() > deadline:
                break
        live: dict[str, Any] | None = None
        if live_phase and "end" in samples:
            ctl = SimControl(sim_proc)
            try:
                with httpx.Client(base_url=server.url, timeout=120.0, verify=server.verify,
                                  headers={"Authorization": f"Bearer {token}"}) as api:
                    ctx = LiveContext(server, token, api, ctl, lambda: sample(server, sim_ps, pg, rds), rds)
                    live = run_live(ctx, args)
            except Exception as exc:  # the steady-state figures still count
                live = {"error": f"{exc!r}"[:4000]}
            finally:
                ctl.stop()
            deadline = time.monotonic() + 120.0
            for line in sim_proc.stdout:
                if line.startswith("DONE"):
                    break
        code = sim_proc.wait(max(1.0, deadline - time.monotonic()))
        if code != 0 or "end" not in samples:
            raise RuntimeError(f"simulator exited with {code}:\n{(workdir / 'sim.err').read_text()[-4000:]}")
        sim = json.loads(result_path.read_text())
        if live is not None:
            finish_live(live, sim.get("intervals", {}))
            result["live"] = live
        # Peaks are read before the server stops, while every process is still there.
        result["peak_rss_kib"] = {
            "server": {f"{p.pid} {' '.join(p.cmdline()[1:3])[:60]}": vm_hwm_kib(p.pid)
                       for p in server.server_processes()},
            "postgres_postmaster": vm_hwm_kib(server.postmaster().pid),
            "postgres_backends_max": max((vm_hwm_kib(p.pid) for p in server.postgres_processes()[1:]), default=0),
            "postgres_processes": len(server.postgres_processes()),
            "redis": sum(vm_hwm_kib(p.pid) for p in server.redis_processes()),
            "simulator": vm_hwm_kib(sim_proc.pid) if sim_proc.poll() is None else None,
        }
        pg.close()
        rds.close()
        s, e = samples["start"], samples["end"]
        window = sim["window"]
        agent_requests = window["requests"]
        statements = read_statements(server.data_dir / "postgres" / "log", s.wall, e.wall)
        redis_delta = {k: v - s.redis_calls.get(k, 0) for k, v in e.redis_calls.items()}
        redis_delta["info"] = redis_delta.get("info", 0) - 1  # the harness' own INFO at the start
        redis_delta = {k: v for k, v in sorted(redis_delta.items(), key=lambda kv: -kv[1]) if v > 0}
        wall = e.wall - s.wall
        per = (lambda x: round(x / agent_requests, 4)) if agent_requests else (lambda x: 0.0)
        result.update({
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "sim": sim,
            "measured_window_s": round(wall, 2),
            "agent_requests": agent_requests,
            "cpu": {
                "server_s": round(e.server_cpu_s - s.server_cpu_s, 3),
                "server_ms_per_request": per((e.server_cpu_s - s.server_cpu_s) * 1000),
                "postgres_s": round(e.postgres_cpu_s - s.postgres_cpu_s, 3),
                "postgres_ms_per_request": per((e.postgres_cpu_s - s.postgres_cpu_s) * 1000),
                "redis_s": round(e.redis_cpu_s - s.redis_cpu_s, 3),
                "redis_ms_per_request": per((e.redis_cpu_s - s.redis_cpu_s) * 1000),
                "simulator_s": round(e.sim_cpu_s - s.sim_cpu_s, 3),
                "machine_busy_cores": round((e.machine_busy_s - s.machine_busy_s) / wall, 2) if wall else 0.0,
                "server_cores": round((e.server_cpu_s - s.server_cpu_s) / wall, 2) if wall else 0.0,
            },
            "postgres": {
                # Less the harness' own pg_stat_clear_snapshot() between the two readings. Backends
                # report their counters about once a second, so this is right to within a second.
                "transactions": e.xacts - s.xacts - 1,
                "transactions_per_request": per(e.xacts - s.xacts - 1),
                "statements_per_request": per(len(statements)),
                **summarise_statements(statements),
            },
            "redis": {"commands": sum(redis_delta.values()), "per_request": per(sum(redis_delta.values())),
                      "by_command": redis_delta},
        })
    finally:
        if sim_proc is not None and sim_proc.poll() is None:
            sim_proc.kill()
            sim_proc.wait()
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(30.0)
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        result["server_log_problems"] = server_log_problems(server.output())
        result["stop"] = server.stop()
        if profile_path is not None and profile_path.exists():
            result["profile_top"] = profile_summary(profile_path, args.profile_top)
            result["metrics_cpu"] = metrics_share(profile_path)
        if args.keep:
            result["workdir"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def idle_cpu(server: Server, seconds: float) -> float:
    """The server's CPU per second with no agent at all (its background jobs, timers and threads):
    a fixed cost that a small fleet's requests share out among fewer requests."""
    if seconds <= 0:
        return 0.0
    procs = server.server_processes()
    started, cpu = time.monotonic(), cpu_seconds(procs)
    time.sleep(seconds)
    return round((cpu_seconds(procs) - cpu) * 1000 / (time.monotonic() - started), 2)


def run_floor(args: argparse.Namespace, workers: int, *, tls: str = "off", asgi_server: str = "uvicorn"
              ) -> dict[str, Any]:
    """The floor phase: the same simulator, load and window against tests/bench/floor_app.py;
    only the server's CPU is of interest (it has no Postgres or Redis)."""
    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-floor-"))
    server = FloorServer(workdir, workers, tls=bench_certificate(workdir) if tls != "off" else None,
                         schedule_interval=args.schedule_interval, asgi_server=asgi_server)
    sim_proc: subprocess.Popen[str] | None = None
    result: dict[str, Any] = {"phase": "floor" if asgi_server == "uvicorn" else f"floor-{asgi_server}",
                              "tls": tls, "workers": workers, "profiled": False,
                              "hosts": args.hosts, "duration_s": args.duration, "window_s": args.window}
    try:
        server.start()
        result["idle_cpu_ms_per_s"] = idle_cpu(server, args.idle)
        result_path = workdir / "sim.json"
        cfg = {
            "server_url": server.url, "hosts": args.hosts, "os_templates": args.os_templates,
            "start_period": args.start_period, "duration": args.duration, "window": args.window,
            "config_interval": args.config_interval, "query_interval": args.query_interval,
            "logger_tls_period": args.logger_tls_period, "max_connections": args.max_connections,
            "result_path": str(result_path), "live": False,
            "verify": str(server.tls[0]) if server.tls else False, "keep_alive": tls != "new",
        }
        env = {**os.environ, "FLEET_SIM_ENROLL_SECRET": ENROLL_SECRET}
        sim_proc = subprocess.Popen(
            [sys.executable, __file__, "--sim-child", json.dumps(cfg)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=(workdir / "sim.err").open("wb"), text=True,
            env=env, cwd=ROOT,
        )
        assert sim_proc.stdout is not None
        marks: dict[str, tuple[float, float]] = {}
        for line in sim_proc.stdout:
            if line.startswith(("MARK start", "MARK end")):
                marks[line.split()[1]] = (time.monotonic(), cpu_seconds(server.server_processes()))
            elif line.startswith("DONE"):
                break
        code = sim_proc.wait(60.0)
        if code != 0 or "end" not in marks:
            raise RuntimeError(f"simulator exited with {code}:\n{(workdir / 'sim.err').read_text()[-4000:]}")
        sim = json.loads(result_path.read_text())
        result["peak_rss_kib"] = {"server": {f"{p.pid} {' '.join(p.cmdline()[1:3])[:60]}": vm_hwm_kib(p.pid)
                                             for p in server.server_processes()}}
        requests = sim["window"]["requests"]
        cpu_s = marks["end"][1] - marks["start"][1]
        wall = marks["end"][0] - marks["start"][0]
        result.update({
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "sim": sim,
            "measured_window_s": round(wall, 2), "agent_requests": requests,
            "cpu": {"server_s": round(cpu_s, 3),
                    "server_ms_per_request": round(cpu_s * 1000 / requests, 4) if requests else 0.0,
                    "server_cores": round(cpu_s / wall, 2) if wall else 0.0},
        })
    finally:
        if sim_proc is not None and sim_proc.poll() is None:
            sim_proc.kill()
            sim_proc.wait()
        result["stop"] = server.stop()
        if args.keep:
            result["workdir"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def start_profiler(server: Server, path: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy sampling the serving processes from outside for ``seconds`` (the window): a sampling
    profiler that needs no hook in the server (cProfile inflates coroutines) and, non-blocking,
    barely slows it; idle time (the event loop waiting) is not sampled."""
    assert server.process is not None
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(server.process.pid), "--subprocesses", "--nonblocking",
         "--rate", "250", "--duration", str(max(1, int(seconds))), "--format", "raw", "--full-filenames",
         "--output", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_summary(path: Path, top: int) -> str:
    """py-spy's samples as a table: the share of samples in which each function was running
    (own) and on the stack (total), the first ``top`` rows by own share."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [re.sub(r" \((.*/)?([^/]*:\d+)\)$", r" (\2)", f) for f in stack.split(";")]
        frames = [re.sub(r":\d+\)$", ")", f) for f in frames]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return "(no samples)"
    rows = [f"{samples} samples of the serving processes' CPU in the window", f"{'own %':>7} {'total %':>8}  function"]
    for frame, n in own.most_common(top):
        rows.append(f"{100 * n / samples:7.1f} {100 * total[frame] / samples:8.1f}  {frame}")
    return "\n".join(rows)


# Where the metrics' own code lives: the instrument calls and wrappers, the /metrics endpoint and
# request timing middleware, and the Prometheus client library (its multiprocess file writes).
METRICS_CODE = ("fleet_adapters/metrics.py", "fleet_adapters/serve/metrics_endpoint.py", "/prometheus_client/")


def metrics_share(path: Path) -> dict[str, Any]:
    """The share of the serving processes' CPU samples spent in metrics code. A sample is the
    metrics' when the innermost frame outside the standard library is metrics code: the standard
    library frames a metrics call runs (time, os, struct) count as the metrics', while a request
    running inside a metrics wrapper (the timing middleware, the metered Redis client) counts as
    the code it runs, not as the wrapper's."""
    stdlib = sysconfig.get_paths()["stdlib"].rstrip("/") + "/"
    samples = in_metrics = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        for frame in reversed(stack.split(";")):
            filename = frame.rpartition(" (")[2]
            if not filename.endswith(")") or (filename.startswith(stdlib) and "-packages/" not in filename):
                continue  # the process/thread labels py-spy adds, or a standard library frame
            if any(part in filename for part in METRICS_CODE):
                in_metrics += n
            break
    return {"samples": samples, "metrics_samples": in_metrics,
            "share": in_metrics / samples if samples else 0.0}


# ---------------------------------------------------------------------------------------------
# docs/performance.md
# ---------------------------------------------------------------------------------------------

DEFAULT_INTRO = """# Performance of the agent hot path

(Intro kept by tests/bench/run.py; edit above the marker line.)
"""


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _ms(v: float) -> str:
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    m = machine()
    out = [
        RESULTS_MARKER,
        "",
        f"## Results ({results[0].get('date', '?')})",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['ram_gib']} GiB RAM, Python {m['python']}, "
        f"Linux {m['kernel']}; the simulator shares these cores with the server.",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'tests/bench/run.py', *sys.argv[1:]])}` — "
        f"{args.hosts} hosts ({args.os_templates}), start period {args.start_period:g} s, distributed "
        f"{args.query_interval:g} s, config {args.config_interval:g} s, logs {args.logger_tls_period:g} s "
        f"(one scheduled snapshot query every {args.schedule_interval:g} s: a result and a status line per run), "
        f"{args.duration:g} s in all; the steady-state window is the last {args.window:g} s (ending 1 s before "
        "the simulator stops).",
        "",
    ]
    out += render_floor_and_tls(results)
    for r in results:
        if r.get("phase", "fleet") != "fleet" or r.get("tls", "off") != "off":
            continue
        if "sim" not in r:
            out += [f"### workers={r['workers']}: the run failed", "", "```", r.get("error", "?"), "```", ""]
            continue
        w = r["sim"]["window"]
        full = r["sim"]["full_run"]
        title = f"### `--workers {r['workers']}`" + (" (sampled by py-spy)" if r["profiled"] else "")
        out += [
            title,
            "",
            f"Steady-state window: {w['elapsed_s']:.1f} s, {w['hosts_enrolled_at_start']}/{r['hosts']} hosts "
            f"enrolled at its start, {r['agent_requests']} agent requests, **{w['errors']} errors** "
            f"(whole run: {full['totals']['requests']} requests, {full['totals']['errors']} errors, "
            f"{full['totals']['node_invalid']} node_invalid, {full['hosts']['enrolled']} hosts enrolled).",
            "",
            "| endpoint (steady state) | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, ep in w["endpoints"].items():
            lat = ep["latency_ms"]
            out.append(f"| {name} | {ep['requests']} | {ep['rps']:.1f} | {_ms(lat['p50'])} | {_ms(lat['p90'])} | "
                       f"{_ms(lat['p99'])} | {_ms(lat['max'])} | {ep['errors']} |")
        total_rps = w["requests"] / w["elapsed_s"] if w["elapsed_s"] else 0.0
        out += [f"| **all** | {w['requests']} | {total_rps:.1f} | | | | | {w['errors']} |", ""]
        out += [
            "Whole run (enrollment storm and first detail/label answers included):",
            "",
            "| endpoint (whole run) | requests | req/s | p50 ms | p99 ms | max ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, ep in full["endpoints"].items():
            lat = ep["latency_ms"]
            out.append(f"| {name} | {ep['requests']} | {ep['rps']:.1f} | {_ms(lat['p50'])} | {_ms(lat['p99'])} | "
                       f"{_ms(lat['max'])} | {ep['errors']} |")
        c, pgs, rs, rss = r["cpu"], r["postgres"], r["redis"], r["peak_rss_kib"]
        out += [
            "",
            "| steady state, per agent request | value |",
            "|---|---:|",
            f"| server CPU (fleet serve + workers) | **{c['server_ms_per_request']:.3f} ms** "
            f"({c['server_s']:.1f} s CPU in {r['measured_window_s']:.0f} s = {c['server_cores']:.2f} cores) |",
            f"| Postgres CPU (postmaster + backends) | {c['postgres_ms_per_request']:.3f} ms "
            f"({c['postgres_s']:.1f} s) |",
            f"| Redis CPU | {c['redis_ms_per_request']:.3f} ms ({c['redis_s']:.1f} s) |",
            f"| Postgres statements (= round trips, nothing is pipelined) | **{pgs['statements_per_request']:.4f}** "
            f"({pgs['total']} in the window) |",
            f"| Postgres transactions (pg_stat_database) | {pgs['transactions_per_request']:.4f} "
            f"({pgs['transactions']}) |",
            f"| Redis commands | {rs['per_request']:.4f} ({rs['commands']}) |",
            f"| simulator CPU in the window | {c['simulator_s']:.1f} s |",
            f"| whole machine busy | {c['machine_busy_cores']:.2f} of {m['nproc']} cores |",
            *([f"| metrics code's share of the server CPU samples (py-spy; target < 5 %) | "
               f"**{100 * r['metrics_cpu']['share']:.1f} %** ({r['metrics_cpu']['metrics_samples']} of "
               f"{r['metrics_cpu']['samples']}) |"] if r.get("metrics_cpu") else []),
            "",
            "Peak RSS (VmHWM): " + ", ".join(f"server `{k}` {v / 1024:.0f} MiB" for k, v in rss["server"].items())
            + f"; Postgres postmaster {rss['postgres_postmaster'] / 1024:.0f} MiB, largest backend "
            f"{rss['postgres_backends_max'] / 1024:.0f} MiB ({rss['postgres_processes']} processes, shared buffers "
            f"counted in each); Redis {rss['redis'] / 1024:.0f} MiB"
            + (f"; simulator {rss['simulator'] / 1024:.0f} MiB." if rss.get("simulator") else "."),
            "",
            "Postgres statements in the window, by what sent them:",
            "",
            "| kind | statements | per agent request |",
            "|---|---:|---:|",
        ]
        for kind, n in pgs["by_kind"].items():
            out.append(f"| {kind} | {n} | {n / r['agent_requests']:.4f} |")
        hl = pgs["host_lookups"]
        out += ["", f"Host lookups by node key in the window: {hl['total']} for {hl['distinct_node_keys']} distinct "
                f"node keys ({hl['keys_looked_up_more_than_once']} looked up more than once; "
                f"{hl['repeated_within_2s']} lookups repeated one of the same key less than 2 s earlier, i.e. "
                "concurrent misses of one host).", ""]
        out += ["Transactions in the window, by the statements between BEGIN and COMMIT/ROLLBACK:", "",
                "| transaction | count |", "|---|---:|"]
        for kind, n in pgs["transactions_by_content"].items():
            out.append(f"| {kind} | {n} |")
        out += ["", "Most frequent statement texts in the window:", "", "| count | SQL (first 160 chars) |",
                "|---:|---|"]
        for text, n in pgs["by_text"].items():
            out.append(f"| {n} | `{text.replace('|', '/') or '(empty query)'}` |")
        out += ["", "Redis commands in the window: "
                + (", ".join(f"{k} {v}" for k, v in rs["by_command"].items()) or "none") + ".", ""]
        if r["server_log_problems"]:
            out += ["Server log warnings/errors (whole run): "
                    + ", ".join(f"`{k}` x{v}" for k, v in r["server_log_problems"].items()), ""]
        else:
            out += ["The server logged no warning or error during the run.", ""]
        out += [f"Shutdown: exit code {r['stop']['exit_code']}, leftover processes killed: "
                f"{r['stop']['killed_leftovers'] or 'none'}.", ""]
        if r.get("profile_top"):
            out += ["py-spy of the serving processes in the steady-state window (CPU samples only), top "
                    "functions by own samples:", "", "```",
                    r["profile_top"], "```", ""]
    out += render_live(results, args)
    out += ["<details><summary>Raw numbers (JSON)</summary>", "", "```json",
            json.dumps({"machine": m, "runs": [_raw(r) for r in results]}, indent=1), "```", "", "</details>", ""]
    return "\n".join(out)


def render_floor_and_tls(results: list[dict[str, Any]]) -> list[str]:
    """The floor, the plain-HTTP server and the TLS runs side by side (same load, same window)."""
    runs = [r for r in results if not r.get("profiled")]
    if not any(r.get("phase", "").startswith("floor") or r.get("tls", "off") != "off" for r in runs):
        return []
    label = {("floor", "off"): "floor (constant answers, plain HTTP)",
             ("floor-granian", "off"): "floor under granian instead of uvicorn",
             ("fleet", "off"): "fleet serve, plain HTTP",
             ("fleet", "reuse"): "fleet serve, TLS, connections reused",
             ("fleet", "new"): "fleet serve, TLS, new connection per request"}
    out = ["### Against the floor, and over TLS", "",
           "The floor is tests/bench/floor_app.py under the same uvicorn options: the same five routes "
           "answered with constants after one msgspec decode, no services, metrics or logging. Each run "
           "below had the same simulator, load and window; TLS runs use a certificate the simulator trusts.",
           "",
           "| run | workers | requests | errors | server CPU per request | x floor | idle server CPU | "
           "p99 config / distributed read / log (ms) |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        name = label.get((r.get("phase", "fleet"), r.get("tls", "off")), "?")
        if "sim" not in r:
            out.append(f"| {name} | {r['workers']} | failed | | | | | |")
            continue
        w = r["sim"]["window"]
        v = r["cpu"]["server_ms_per_request"]
        floor = _same_load(results, r, "floor", "off")
        ratio = f"{v / floor['cpu']['server_ms_per_request']:.2f}" if floor and floor["cpu"][
            "server_ms_per_request"] else "-"
        p99 = " / ".join(_ms(w["endpoints"][e]["latency_ms"]["p99"]) if w["endpoints"][e]["requests"] else "-"
                         for e in ("config", "distributed_read", "log") if e in w["endpoints"])
        idle = r.get("idle_cpu_ms_per_s")
        out.append(f"| {name} | {r['workers']} | {w['requests']} | {w['errors']} | {v:.3f} ms | {ratio} | "
                   f"{'-' if idle is None else f'{idle:.1f} ms/s'} | {p99} |")
    out += ["", *(line.removeprefix("bench: ") + "." for line in floor_and_tls_lines(results)), "",
            "Idle server CPU: the server's CPU per second with no agent, sampled before the simulator starts "
            "(background jobs, timers, threads); requests share it, so it weighs more per request in a small "
            "fleet than in a large one.", ""]
    return out


def render_live(results: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """The "Live queries" section (--live)."""
    runs = [r for r in results if "live" in r]
    if not runs:
        return []
    target = args.query_interval + 2
    out = [
        "## Live queries",
        "",
        f"After the steady-state window, with the same {args.hosts} hosts still checking in every "
        f"{args.query_interval:g} s: (1) the harness opens the results WebSocket "
        "(`/api/v1/fleet/results/websocket`, `auth`), starts `" + LIVE_SQL + "` on the All Hosts label "
        "(`POST /api/v1/fleet/queries/run`), selects the campaign at once and waits for a result from every "
        "host the campaign's `totals` counts online; times are from just before the POST. (2) For each number "
        f"of campaigns in {args.live_campaigns}, it starts that many campaigns on All Hosts that nobody "
        f"listens to, waits {args.live_settle:g} s (each process caches the active campaigns for 1 s), counts "
        f"Redis commands (`INFO commandstats`) and CPU over {args.live_window:g} s and divides by the "
        "distributed/read requests the simulator sent in that window; then it completes the campaigns by "
        "selecting each on the socket and leaving. An unlistened result leaves the host's bit set for the "
        "campaign's first minute, so every check-in in that window is asked every campaign again and answers "
        "it again: these are the campaigns' worst minute.",
        "",
        f"Targets: every online host's result delivered within one distributed interval + 2 s ({target:g} s); "
        "Redis commands per check-in flat in the number of campaigns.",
        "",
    ]
    for r in runs:
        live = r["live"]
        out += [f"### `--workers {r['workers']}`" + (" (under cProfile)" if r["profiled"] else ""), ""]
        if "error" in live:
            out += ["The live query phase failed:", "", "```", live["error"], "```", ""]
            continue
        d = live["delivery"]
        c = d["counters"]
        steady_cores = r["cpu"]["server_cores"] if "cpu" in r else 0.0
        met = d["all_online_answered"] and d["all_s"] is not None and d["all_s"] <= target
        out += [
            "| one campaign on every host | value |",
            "|---|---:|",
            f"| hosts targeted / online at start / answered | {d['targeted']} / {d['online']} / **{d['answered']}** "
            f"({'all' if d['all_online_answered'] else 'NOT all'} online hosts) |",
            f"| `POST /queries/run` | {d['post_s'] * 1000:.0f} ms |",
            f"| first result at | {d['first_result_s']} s |",
            f"| 50% / 90% / 99% of the hosts' results at | {d['p50_s']} / {d['p90_s']} / {d['p99_s']} s |",
            f"| **every online host's result at** | **{d['all_s']} s** (target {target:g} s: "
            f"{'met' if met else 'NOT met'}) |",
            f"| results per second (answered / time to the last) | {d['results_per_s']} |",
            f"| server CPU in that time | {c['server_cpu_s']:.2f} s in {c['wall_s']:.1f} s "
            f"({c['server_cpu_s'] / c['wall_s'] if c['wall_s'] else 0:.2f} cores; steady state "
            f"{steady_cores:.2f} cores) |",
            f"| Postgres / Redis CPU in that time | {c['postgres_cpu_s']:.2f} s / {c['redis_cpu_s']:.2f} s |",
            f"| duplicate results / results with an error / without rows | {d['duplicates']} / "
            f"{d['results_with_error']} / {d['results_without_rows']} (the simulator answers 20% with no rows) |",
            f"| stream errors | {', '.join(d['stream_errors']) or 'none'} |",
        ]
        if "per_check_in" in d:
            out.append(f"| distributed read / write requests in that time | {d['distributed_reads']} / "
                       f"{d['distributed_writes']} |")
            out.append(f"| Redis commands per check-in in that time | {d['per_check_in']['redis_commands']:.2f} |")
        out += ["", "Redis commands in that time: "
                + ", ".join(f"{k} {v}" for k, v in c["redis_by_command"].items()) + ".", ""]
        if live["load"]:
            out += [
                "| campaigns running | check-ins (distributed/read) | Redis commands per check-in | "
                "of which SMEMBERS (the host's pending set) | PUBLISH | server CPU ms per check-in | "
                "PG transactions per check-in | "
                "read p50 / p99 ms | write p50 / p99 ms | agent errors |",
                "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
            ]
            for x in live["load"]:
                pc = x.get("per_check_in")
                if pc is None:
                    out.append(f"| {x['campaigns']} | failed: {x.get('error', '?')[:300]} | | | | | | | | |")
                    continue
                eps = x["sim"]["endpoints"]
                rd = eps.get("distributed_read", {}).get("latency_ms", {})
                wr = eps.get("distributed_write", {}).get("latency_ms", {})
                by = pc["redis_by_command"]
                out.append(
                    f"| {x['campaigns']} | {x['distributed_reads']} | **{pc['redis_commands']:.2f}** | "
                    f"{by.get('smembers', 0):.2f} | {by.get('publish', 0):.2f} | {pc['server_cpu_ms']:.2f} | "
                    f"{pc['postgres_transactions']:.2f} | {_ms(rd.get('p50', 0))} / {_ms(rd.get('p99', 0))} | "
                    + (f"{_ms(wr['p50'])} / {_ms(wr['p99'])}" if wr else "-") + f" | {x['sim']['errors']} |")
            out += ["", "Redis commands per check-in, by command:", ""]
            for x in live["load"]:
                if "per_check_in" in x:
                    out.append(f"- {x['campaigns']} campaigns (created in {x['create_s']:g} s, "
                               f"{x['active_at_end']} still active at the window's end): "
                               + (", ".join(f"{k} {v:.2f}" for k, v in x["per_check_in"]["redis_by_command"].items())
                                  or "none"))
            out.append("")
    return out


def _raw(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k != "profile_top"}


def write_doc(path: Path, body: str) -> None:
    intro = DEFAULT_INTRO
    if path.exists():
        text = path.read_text()
        if RESULTS_MARKER in text:
            intro = text.split(RESULTS_MARKER, 1)[0]
        elif text.strip():
            intro = text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(intro.rstrip() + "\n\n" + body)


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hosts", type=int, default=2000)
    p.add_argument("--duration", type=float, default=180.0, help="simulator run, seconds")
    p.add_argument("--window", type=float, default=90.0, help="steady-state window: the last N seconds")
    p.add_argument("--start-period", type=float, default=60.0)
    p.add_argument("--workers", default="1", help="comma list: one run per value, e.g. 1,2")
    p.add_argument("--os-templates", default="macos_14,ubuntu_22.04,windows_11,rhel_9")
    p.add_argument("--config-interval", type=float, default=60.0)
    p.add_argument("--query-interval", type=float, default=10.0)
    p.add_argument("--logger-tls-period", type=float, default=10.0)
    p.add_argument("--schedule-interval", type=float, default=10.0,
                   help="interval of the one scheduled query in the agent options (0: none, so no /log traffic)")
    p.add_argument("--max-connections", type=int, default=200)
    p.add_argument("--profile", action="store_true",
                   help="one more run with --workers 1 sampled by py-spy in its window (a table of where CPU goes)")
    p.add_argument("--idle", type=float, default=10.0,
                   help="seconds of each server's CPU sampled with no agent before the simulator starts")
    p.add_argument("--granian-floor", action="store_true",
                   help="one more floor run under granian (HTTP/1, uvloop), to compare it with uvicorn")
    p.add_argument("--no-floor", action="store_true", help="skip the floor phase before each real server run")
    p.add_argument("--tls", default="reuse,new",
                   help="comma list of TLS runs after each plain one: reuse (connections kept alive, as "
                        "osqueryd's --tls_session_reuse), new (a connection and handshake per request); none")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument("--output", type=Path, default=DOC)
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs and logs")
    p.add_argument("--live", action="store_true",
                   help="after the steady-state window: a live query on every host over the results WebSocket, "
                        "then Redis commands per check-in with --live-campaigns campaigns running")
    p.add_argument("--live-timeout", type=float, default=60.0,
                   help="how long the live query client waits for every online host's result")
    p.add_argument("--live-campaigns", default="0,1,10,100",
                   help="comma list: numbers of unlistened campaigns to measure check-ins under")
    p.add_argument("--live-window", type=float, default=20.0, help="seconds measured per number of campaigns")
    p.add_argument("--live-settle", type=float, default=2.0,
                   help="seconds between starting the campaigns and measuring (the store caches them 1 s)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--sim-child"]:
        return _sim_child(argv[1])
    args = build_parser().parse_args(argv)
    if not 0 < args.window < args.duration - 1:
        raise SystemExit("--window must be positive and shorter than --duration minus 1 s")
    # A stopped harness still stops its servers (run_once's finally); a shell's background job
    # may have SIGINT ignored, so SIGTERM is handled too.
    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    tls_modes = [m for m in args.tls.split(",") if m.strip() and m != "none"]
    if any(m not in ("reuse", "new") for m in tls_modes):
        raise SystemExit("--tls takes a comma list of reuse and new, or none")
    # Each real server run is preceded by its floor (same workers, same load), so every run
    # reports the hot path as a ratio to a floor measured minutes before on the same machine.
    plan: list[tuple[str, int, str, bool]] = []
    for w in (int(w) for w in args.workers.split(",") if w.strip()):
        if not args.no_floor:
            plan.append(("floor", w, "off", False))
        if args.granian_floor:
            plan.append(("floor-granian", w, "off", False))
        plan.append(("fleet", w, "off", False))
        for mode in tls_modes:
            plan.append(("fleet", w, mode, False))
    if args.profile:
        plan.append(("fleet", 1, "off", True))
    results = []
    for phase, workers, tls, profiled in plan:
        what = {"floor": "the floor (tests/bench/floor_app.py)",
                "floor-granian": "the floor under granian"}.get(phase, "fleet serve")
        print(f"bench: {what}, {args.hosts} hosts, {args.duration:g} s, --workers {workers}, TLS {tls}"
              f"{', sampled by py-spy' if profiled else ''} ...", flush=True)
        try:
            if phase.startswith("floor"):
                r = run_floor(args, workers, tls=tls, asgi_server=phase.removeprefix("floor").strip("-") or "uvicorn")
            else:
                r = run_once(args, workers, profile=profiled, tls=tls,
                             with_live=args.live and tls == "off" and not profiled)
        except Exception as exc:  # a failed run is reported, and the other runs still happen
            r = {"phase": phase, "tls": tls, "workers": workers, "profiled": profiled, "hosts": args.hosts,
                 "error": f"{exc!r}"[:4000]}
        results.append(r)
        print(summary_line(r), flush=True)
    for line in floor_and_tls_lines(results):
        print(line, flush=True)
    write_doc(args.output, render(results, args))
    print(f"bench: wrote {args.output}")
    return 0 if all("sim" in r for r in results) else 1


def _same_load(results: list[dict[str, Any]], r: dict[str, Any], phase: str, tls: str) -> dict[str, Any] | None:
    return next((o for o in results if o.get("phase") == phase and o.get("tls") == tls and "sim" in o
                 and o["workers"] == r["workers"] and not o.get("profiled")), None)


def floor_and_tls_lines(results: list[dict[str, Any]]) -> list[str]:
    """The headline figures: the hot path as a ratio to its floor, and what TLS adds per request."""
    lines = []
    for r in results:
        if r.get("phase") != "fleet" or r.get("tls") != "off" or r.get("profiled") or "sim" not in r:
            continue
        real = r["cpu"]["server_ms_per_request"]
        floor = _same_load(results, r, "floor", "off")
        if floor is not None and floor["cpu"]["server_ms_per_request"]:
            f = floor["cpu"]["server_ms_per_request"]
            lines.append(f"bench: --workers {r['workers']}: hot path {real:.3f} ms/request, floor {f:.3f} ms/request: "
                         f"**{real / f:.2f}x the floor** (target <= 1.5x)")
        for mode, label in (("reuse", "TLS, connections reused"), ("new", "TLS, a new connection per request")):
            t = _same_load(results, r, "fleet", mode)
            if t is not None:
                v = t["cpu"]["server_ms_per_request"]
                lines.append(f"bench: --workers {r['workers']}: {label}: {v:.3f} ms/request, "
                             f"{v - real:+.3f} ms ({(v / real - 1) * 100 if real else 0:+.0f} %) over plain HTTP")
    return lines


def summary_line(r: dict[str, Any]) -> str:
    if "sim" not in r:
        return f"  workers={r['workers']}: FAILED {r.get('error', '')[:2000]}"
    w = r["sim"]["window"]
    eps = ", ".join(f"{k} {v['rps']:.1f}/s p99 {v['latency_ms']['p99']:.1f} ms" for k, v in w["endpoints"].items()
                    if v["requests"])
    if r.get("phase", "").startswith("floor"):
        return (f"  {r['phase']} workers={r['workers']} TLS {r['tls']}: {w['requests']} requests in "
                f"{w['elapsed_s']:.0f} s, "
                f"{w['errors']} errors; {eps}; server CPU {r['cpu']['server_ms_per_request']:.3f} ms/req; "
                f"idle {r.get('idle_cpu_ms_per_s', 0):.1f} ms/s")
    return (f"  workers={r['workers']}: {w['requests']} requests in {w['elapsed_s']:.0f} s, {w['errors']} errors; "
            f"{eps}; server CPU {r['cpu']['server_ms_per_request']:.3f} ms/req; "
            f"PG {r['postgres']['statements_per_request']:.4f} stmts/req ({r['postgres']['by_kind']}); "
            f"Redis {r['redis']['per_request']:.4f} cmds/req; idle {r.get('idle_cpu_ms_per_s', 0):.1f} ms/s"
            + (f"; metrics {100 * r['metrics_cpu']['share']:.1f} % of server CPU samples"
               if r.get("metrics_cpu") else ""))


if __name__ == "__main__":
    raise SystemExit(main())
