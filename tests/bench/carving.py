"""`make bench-carve`: file carving throughput on each carve store, written up in docs/performance.md.

For each store (Postgres, the default; S3, moto's server in its own process) the harness starts
`fleet serve --no-server-tls` with a fresh data dir (embedded Postgres and Redis), makes an admin
and an enroll secret through the API, then runs an agent child process (its CPU is not the
server's) with the simulator's hosts:

1. one host uploads a SINGLE_MIB carve (default 1 GiB) through carve/begin and carve/block;
2. MANY hosts (default 100) upload a MANY_MIB carve each (default 10 MiB), all at once;

while CHECKERS other hosts keep checking in (distributed/read) every second. The harness samples
the server's RSS (`fleet serve` and its workers) every 50 ms and its CPU, Postgres' CPU and the
S3 server's CPU around each phase. Carves are started directly by the hosts (SimulatedHost.
upload_carve) rather than through a live query, so the figures are the upload's alone; the live
query path is tests/e2e/test_e2e_carving.py.

It is a benchmark, not a test: it never fails on a target. It rewrites only the "File carving"
section of docs/performance.md (between its two markers).

    .venv/bin/python tests/bench/carving.py --single-mib 1024 --many 100 --many-mib 10
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from run import ENROLL_SECRET, Server, set_up_fleet

from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, moto_s3_server

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "performance.md"
BEGIN_MARKER = "<!-- bench-carve:begin (this section is written by tests/bench/carving.py) -->"
END_MARKER = "<!-- bench-carve:end -->"
MIB = 1024 * 1024
BUCKET = "fleet-bench-carves"

# ---------------------------------------------------------------------------------------------
# The agent child: `carving.py --agents CONFIG`; prints READY, waits for a line per phase
# ---------------------------------------------------------------------------------------------


def _agents_child(config_json: str) -> int:
    """Carvers upload on each "go" line and print the phase's figures; checkers check in every
    second all along, and on "mark" / "report" lines forget / print their latencies. Two processes,
    so the carvers' base64 work never delays a check-in's measurement."""
    from fleet_osquery.sim.agent import SimOptions, SimulatedHost
    from fleet_osquery.sim.carver import CarveJob
    from fleet_osquery.sim.stats import Endpoint, Stats
    from fleet_osquery.sim.templates import get_template
    from fleet_osquery.sim.wire import Wire, make_client

    cfg = json.loads(config_json)

    async def main() -> None:
        stats = Stats()
        client = make_client(max_connections=cfg["hosts"] + 8, timeout_s=120.0)
        wire = Wire(client, cfg["server_url"], "/api/v1/osquery", stats)
        template = get_template("ubuntu_22.04")
        first = 0 if cfg["role"] == "carvers" else 100_000
        hosts = [SimulatedHost(first + i, template, wire, ENROLL_SECRET, SimOptions(seed=7))
                 for i in range(cfg["hosts"])]
        for host in hosts:
            assert await host.enroll(), "enroll failed"
            await host.fetch_config()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        print("READY", flush=True)
        if cfg["role"] == "carvers":
            await carve(hosts, stats, reader)
        else:
            await check_in(hosts, stats, reader)
        await wire.aclose()

    async def carve(hosts: list[SimulatedHost], stats: Stats, reader: asyncio.StreamReader) -> None:
        phases = (("single", 1, cfg["single_mib"] * MIB), ("many", len(hosts), cfg["many_mib"] * MIB))
        blocks = stats.endpoints[Endpoint.CARVE_BLOCK]
        for phase, count, size in phases:
            await reader.readline()  # the harness has taken its "before" samples
            requests_before, errors_before = blocks.requests, blocks.errors
            started = time.perf_counter()
            results = await asyncio.gather(*(h.upload_carve(CarveJob(
                request_id=f"fleet_distributed_query_{phase}_{h.index}", carve_guid=f"{phase}-{h.index}",
                path=f"/bench/{phase}-{h.index}", size=size)) for h in hosts[:count]))
            print(json.dumps({
                "phase": phase, "carves": count, "completed": sum(results), "bytes": count * size,
                "elapsed_s": time.perf_counter() - started, "block_size": hosts[0].carver_block_size,
                "block_requests": blocks.requests - requests_before,
                # Refused or failed block requests, each retried by the host (see SimOptions).
                "block_errors": blocks.errors - errors_before,
            }), flush=True)

    async def check_in(hosts: list[SimulatedHost], stats: Stats, reader: asyncio.StreamReader) -> None:
        reads = stats.endpoints[Endpoint.DISTRIBUTED_READ]

        async def every_second(host: SimulatedHost) -> None:
            while True:
                await host.check_in()
                await asyncio.sleep(1.0)

        tasks = [asyncio.create_task(every_second(h)) for h in hosts]
        errors_before = 0
        while line := (await reader.readline()).strip():
            if line == b"mark":
                reads.latencies_ms = type(reads.latencies_ms)("d")
                errors_before = reads.errors
            elif line == b"report":
                latencies = sorted(reads.latencies_ms)
                print(json.dumps({
                    "check_ins": len(latencies),
                    "check_in_p50_ms": latencies[len(latencies) // 2] if latencies else None,
                    "check_in_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                    if latencies else None,
                    "check_in_errors": reads.errors - errors_before,
                }), flush=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    return 0


# ---------------------------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------------------------


@dataclass
class BenchServer(Server):
    extra: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        return [*super().command(), *self.extra]


class RssSampler:
    """The server processes' summed RSS every 50 ms; peak since the last reset."""

    def __init__(self, processes: list[psutil.Process]) -> None:
        self.processes = processes
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = 0
        for proc in self.processes:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.rss())

    def start(self) -> None:
        self._thread.start()

    def reset(self) -> int:
        now = self.rss()
        self.peak = now
        return now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + getattr(times, "children_user", 0.0) + getattr(
            times, "children_system", 0.0)
    return total


def run_store(store: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    extra = ["--osquery-carver-block-size", str(args.block_mib[store] * MIB)]
    moto: Any = None
    moto_context = None
    if store == "s3":
        moto_context = moto_s3_server()
        endpoint = moto_context.__enter__()
        moto = next(p for p in psutil.Process().children(recursive=True) if "moto" in " ".join(p.cmdline()))
        import anyio

        from fleet_adapters.s3 import S3Options, s3_client

        options = S3Options(bucket=BUCKET, region=REGION, endpoint_url=endpoint, access_key_id=ACCESS_KEY_ID,
                            secret_access_key=SECRET_ACCESS_KEY, force_path_style=True)

        async def make_bucket() -> None:
            async with s3_client(options) as client:
                await client.create_bucket(Bucket=BUCKET)

        anyio.run(make_bucket)
        extra += ["--s3-bucket", BUCKET, "--s3-region", REGION, "--s3-endpoint-url", endpoint,
                  "--s3-access-key-id", ACCESS_KEY_ID, "--s3-secret-access-key", SECRET_ACCESS_KEY,
                  "--s3-force-s3-path-style"]
    server = BenchServer(workdir / store, workers=1, extra=extra)
    server.data_dir.mkdir(parents=True)
    server.start()
    phases: list[dict[str, Any]] = []
    try:
        set_up_fleet(server.url, 0)
        fleet_procs = server.server_processes()
        pg_procs = server.postgres_processes()
        sampler = RssSampler(fleet_procs)
        sampler.start()
        children = {}
        for role, hosts in (("checkers", args.checkers), ("carvers", args.many)):
            config = {"server_url": server.url, "role": role, "hosts": hosts, "single_mib": args.single_mib,
                      "many_mib": args.many_mib}
            child = subprocess.Popen([sys.executable, __file__, "--agents", json.dumps(config)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert child.stdin is not None and child.stdout is not None
            if child.stdout.readline().strip() != "READY":
                raise RuntimeError(f"the {role} child did not get ready")
            children[role] = child

        def tell(role: str, line: str) -> None:
            stdin = children[role].stdin
            assert stdin is not None
            stdin.write(line + "\n")
            stdin.flush()

        def hear(role: str) -> dict[str, Any]:
            stdout = children[role].stdout
            assert stdout is not None
            line = stdout.readline()
            if not line:
                raise RuntimeError(f"the {role} child died")
            heard: dict[str, Any] = json.loads(line)
            return heard

        for _ in range(2):
            time.sleep(1.0)  # let the enrollment's after-effects settle before sampling
            rss_before = sampler.reset()
            cpu_before = (cpu_seconds(fleet_procs), cpu_seconds(pg_procs), cpu_seconds([moto]) if moto else 0.0)
            tell("checkers", "mark")
            tell("carvers", "go")
            phase = hear("carvers")
            cpu_after = (cpu_seconds(fleet_procs), cpu_seconds(pg_procs), cpu_seconds([moto]) if moto else 0.0)
            tell("checkers", "report")
            phase.update(hear("checkers"))
            mib = phase["bytes"] / MIB
            phase.update({
                "load_average_1m": os.getloadavg()[0],
                "throughput_mib_s": mib / phase["elapsed_s"],
                "server_cpu_ms_per_mib": (cpu_after[0] - cpu_before[0]) * 1000 / mib,
                "postgres_cpu_ms_per_mib": (cpu_after[1] - cpu_before[1]) * 1000 / mib,
                "s3_cpu_ms_per_mib": (cpu_after[2] - cpu_before[2]) * 1000 / mib if moto else None,
                "rss_before_mib": rss_before / MIB,
                "rss_growth_mib": (sampler.peak - rss_before) / MIB,
            })
            phases.append(phase)
            print(f"[{store}] {json.dumps(phase)}", flush=True)
        for child in children.values():
            assert child.stdin is not None
            child.stdin.close()
            child.wait(60)
        sampler.stop()
        warnings = [line for line in server.output().splitlines() if '"warning"' in line or '"error"' in line
                    or "[warning" in line or "[error" in line]
    finally:
        stop = server.stop()
        if moto_context is not None:
            moto_context.__exit__(None, None, None)
    return {"store": store, "phases": phases, "exit_code": stop["exit_code"], "warnings": warnings[:5],
            "block_mib": args.block_mib[store]}


def render(results: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    cores = psutil.cpu_count()
    ram = psutil.virtual_memory().total / 1024**3
    lines = [
        BEGIN_MARKER,
        "",
        "## File carving",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {cores} cores, {ram:.1f} GiB RAM, Python "
        f"{platform.python_version()}; the agent process and (for S3) moto's server share these cores with "
        "`fleet serve --workers 1` and its embedded Postgres.",
        "",
        f"Command: `{command}`. Phase 1: one host uploads a {args.single_mib} MiB carve. Phase 2: {args.many} hosts "
        f"upload a {args.many_mib} MiB carve each, all at once. During both, {args.checkers} other hosts check in "
        "(distributed/read) every second from a process of their own (so the carving agents' base64 work never "
        "delays a check-in's measurement). Carves are started by the simulated hosts directly "
        "(SimulatedHost.upload_carve), not through a live query. Server CPU is `fleet serve` and its worker; "
        "Postgres and S3 (moto) CPU are shown apart; RSS is `fleet serve` + worker, sampled every 50 ms, peak minus "
        "the value just before the phase. Machine load is the 1-minute load average at the phase's end: other "
        "engineers' test runs share this machine, so figures vary from run to run.",
        "",
        "Targets: single carve >= 50 MiB/s on each store, server RSS growth < 64 MiB during it, check-in p99 < 50 ms.",
        "",
        "| store | phase | block size | carves done | MiB/s | server CPU ms/MiB | Postgres CPU ms/MiB | "
        "S3 server CPU ms/MiB | peak RSS growth | check-in p99 (p50) | failed block requests (retried) | "
        "machine load (1 min) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for p in result["phases"]:
            s3 = "-" if p["s3_cpu_ms_per_mib"] is None else f"{p['s3_cpu_ms_per_mib']:.1f}"
            label = (f"1 x {args.single_mib} MiB" if p["phase"] == "single" else f"{args.many} x {args.many_mib} MiB")
            p50, p99 = p["check_in_p50_ms"], p["check_in_p99_ms"]
            check_ins = "no check-ins" if p50 is None else f"{p99:.1f} ms ({p50:.1f} ms)"
            lines.append(
                f"| {result['store']} | {label} | {result['block_mib']} MiB | {p['completed']}/{p['carves']} | "
                f"**{p['throughput_mib_s']:.1f}** | {p['server_cpu_ms_per_mib']:.1f} | "
                f"{p['postgres_cpu_ms_per_mib']:.1f} | {s3} | {p['rss_growth_mib']:+.1f} MiB | {check_ins} | "
                f"{p['block_errors']} | {p['load_average_1m']:.1f} |")
    for result in results:
        lines.append("")
        lines.append(f"{result['store']}: server exit code {result['exit_code']}; "
                     + ("no warnings or errors logged." if not result["warnings"]
                        else f"logged, e.g.: `{result['warnings'][0][:200]}`"))
    lines += ["", END_MARKER]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text()
    if BEGIN_MARKER in text and END_MARKER in text:
        head, rest = text.split(BEGIN_MARKER, 1)
        tail = rest.split(END_MARKER, 1)[1]
        DOC.write_text(head + section + tail)
        return
    # First run: above the agent-path bench's results marker, which `make bench` rewrites below.
    marker = "<!-- bench:results"
    if marker in text:
        head, tail = text.split(marker, 1)
        DOC.write_text(head + section + "\n\n" + marker + tail)
    else:
        DOC.write_text(text.rstrip("\n") + "\n\n" + section + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", help=argparse.SUPPRESS)
    parser.add_argument("--single-mib", type=int, default=1024)
    parser.add_argument("--many", type=int, default=100)
    parser.add_argument("--many-mib", type=int, default=10)
    parser.add_argument("--checkers", type=int, default=50, help="hosts checking in every second meanwhile")
    parser.add_argument("--pg-block-mib", type=int, default=2, help="carver_block_size on Postgres")
    parser.add_argument("--s3-block-mib", type=int, default=5, help="carver_block_size on S3 (5: multipart)")
    parser.add_argument("--stores", default="postgres,s3")
    parser.add_argument("--no-doc", action="store_true", help="print, do not rewrite docs/performance.md")
    args = parser.parse_args(argv)
    if args.agents:
        return _agents_child(args.agents)
    args.block_mib = {"postgres": args.pg_block_mib, "s3": args.s3_block_mib}
    command = "tests/bench/carving.py " + " ".join(argv if argv is not None else sys.argv[1:])
    import tempfile

    results = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-carve-") as tmp:
        for store in args.stores.split(","):
            results.append(run_store(store, args, Path(tmp)))
    section = render(results, args, command.strip())
    print(section)
    if not args.no_doc:
        write_doc(section)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
