"""`make bench-management`: the management API over a fleet of 100,000 hosts.

It starts a real `fleet serve --no-server-tls` (fresh data dir: embedded Postgres and Redis), makes
the admin with `POST /api/v1/setup` (which also migrates the database), creates 20 teams, 50
labels and 50 policies through the API, then loads the fleet straight into that server's Postgres:
hosts with realistic vitals (macOS, Windows, Ubuntu, RHEL and more; online, offline, missing and
new) with COPY, their seen times, MDM and Munki rows, 300 software rows per host drawn from 20,000
distinct ones, label memberships (the builtin labels by platform and the 50 labels) and policy
results (every global policy on every host, each team policy on its team's hosts). The policy
counts are kept by the real triggers of migration 0006 as the results are inserted; the software
host counts by the server's own job (`POST /api/v1/fleet/trigger?name=cleanups_then_aggregation`).

Then it times, through HTTP (httpx, one client, sequential requests, each endpoint --repeats
times after one warm-up request): the hosts list (per_page 100, first and a deep page, every
documented filter and every order key, `query` search), /hosts/count with each filter,
/host_summary, /labels/{id}/hosts, /hosts/{id}, /software and /software/count, the policy lists
and counts, and POST /targets. The CSV report is fetched for one team and for the whole fleet,
reading the server's peak RSS (VmHWM) before and after each: a streamed report leaves it flat.

With --explain it also runs EXPLAIN (ANALYZE, BUFFERS) on the statements the Postgres adapter
builds for the host list and count cases (built by the adapter's own functions, so they are the
statements the server sends) and writes them to --explain-out.

It is a benchmark, not a test: it never fails on a target. It rewrites the "Latest run" part of the
"Management API at 100,000 hosts" section of docs/performance.md (between its markers, nothing
else) unless --no-doc.

    .venv/bin/python tests/bench/management.py                  # 100,000 hosts
    .venv/bin/python tests/bench/management.py --hosts 10000    # a quicker run
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DOC = ROOT / "docs" / "performance.md"
BEGIN = "<!-- bench-management:begin (this section is written by tests/bench/management.py) -->"
END = "<!-- bench-management:end -->"
SEED = 16
TEAMS = 20
LABELS = 50
GLOBAL_POLICIES = 30
SOFTWARE = 20_000
SOFTWARE_PER_HOST = 300
# The first 100 packages of every host come from the 500 most common titles (the OS's own
# packages, browsers, ...), the other 200 from the long tail.
COMMON_SOFTWARE = 500
COMMON_PER_HOST = 100
TARGET_MS = 150.0
ADMIN_EMAIL = "admin@bench.example"
ADMIN_PASSWORD = "bench-Passw0rd!"
START_DEADLINE = 120.0

# (platform, os name, versions, hardware, builtin label id, share of the fleet)
PLATFORMS: tuple[tuple[str, str, tuple[str, ...], tuple[str, str], int | None, float], ...] = (
    ("darwin", "macOS", ("13.6.1", "14.2.1", "14.4"), ("Apple Inc.", "MacBookPro18,3"), 2, 0.35),
    ("windows", "Microsoft Windows 11 Enterprise", ("10.0.22631", "10.0.22621"), ("Dell Inc.", "Latitude 7440"),
     5, 0.35),
    ("ubuntu", "Ubuntu", ("22.04.3 LTS", "20.04.6 LTS"), ("LENOVO", "ThinkPad T14"), 3, 0.18),
    ("rhel", "Red Hat Enterprise Linux", ("9.3.0", "8.9.0"), ("HP", "ProLiant DL360"), 6, 0.08),
    ("centos", "CentOS Linux", ("7.9.2009",), ("Supermicro", "SYS-1029P"), 4, 0.03),
    ("chrome", "chromeos", ("119.0.6045",), ("Google", "Chromebook"), 8, 0.01),
)
LINUX_PLATFORMS = {"ubuntu", "rhel", "centos"}


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One `fleet serve` subprocess in a temporary data dir."""

    workdir: Path
    workers: int
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        fleet = Path(sys.executable).with_name("fleet")
        args = ["serve", "--no-server-tls", "--data-dir", str(self.data_dir),
                "--server-address", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
        command = [str(fleet), *args] if fleet.exists() else [sys.executable, "-m", "fleet_adapters.serve.cli", *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
        with (self.workdir / "fleet.out").open("wb") as out, (self.workdir / "fleet.err").open("wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fleet serve exited with {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"fleet serve not healthy within {START_DEADLINE}s:\n{self.output()}")

    def output(self) -> str:
        return "".join((self.workdir / n).read_text(errors="replace") for n in ("fleet.out", "fleet.err")
                       if (self.workdir / n).exists())

    def api_processes(self) -> list[psutil.Process]:
        """`fleet serve` and its workers (not redis-server, its child)."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        return [parent, *(p for p in parent.children(recursive=True) if "redis" not in p.name())]

    def pg_connect(self, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        lines = (self.data_dir / "postgres" / "postmaster.pid").read_text().splitlines()
        return psycopg.connect(host=lines[4].strip(), port=lines[3].strip(), user="postgres", dbname="postgres",
                               application_name="fleet-bench-management", autocommit=autocommit)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def vm_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def api_setup(url: str) -> str:
    with httpx.Client(base_url=url, timeout=60.0) as client:
        r = client.post("/api/v1/setup", json={
            "admin": {"admin": True, "email": ADMIN_EMAIL, "name": "Bench Admin", "password": ADMIN_PASSWORD,
                      "password_confirmation": ADMIN_PASSWORD},
            "org_info": {"org_name": "Bench"}, "server_url": url,
        })
        if r.status_code != 200:
            raise RuntimeError(f"POST /api/v1/setup answered {r.status_code}: {r.text}")
        return str(r.json()["token"])


def checked(r: httpx.Response) -> dict[str, Any]:
    if r.status_code != 200:
        raise RuntimeError(f"{r.request.method} {r.request.url} answered {r.status_code}: {r.text[:500]}")
    return r.json()  # type: ignore[no-any-return]


def create_catalogue(api: httpx.Client) -> dict[str, list[int]]:
    """Teams, labels and policies through the API, as an admin makes them."""
    teams = [checked(api.post("/api/v1/fleet/teams", json={"name": f"Team {n:02d}"}))["team"]["id"]
             for n in range(TEAMS)]
    labels = [checked(api.post("/api/v1/fleet/labels", json={
        "name": f"Label {n:02d}", "query": f"SELECT 1 FROM osquery_info WHERE {n} = {n};"}))["label"]["id"]  # noqa: S608
        for n in range(LABELS)]
    policies = [checked(api.post("/api/v1/fleet/global/policies", json={
        "name": f"Global policy {n:02d}", "query": f"SELECT 1 FROM osquery_info WHERE {n} = {n};"}))["policy"]["id"]  # noqa: S608
        for n in range(GLOBAL_POLICIES)]
    team_policies = [checked(api.post(f"/api/v1/fleet/teams/{team}/policies", json={
        "name": f"Team policy {n:02d}", "query": "SELECT 1;"}))["policy"]["id"]
        for n, team in enumerate(teams)]
    return {"teams": teams, "labels": labels, "policies": policies, "team_policies": team_policies}


def copy_text(cur: psycopg.Cursor[Any], statement: str, rows: Iterator[tuple[Any, ...]]) -> None:
    """COPY ... FROM STDIN in text format, written in chunks of preformatted lines."""
    def field_text(v: Any) -> str:
        if v is None:
            return "\\N"
        if isinstance(v, bool):
            return "t" if v else "f"
        return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    with cur.copy(statement) as copy:
        buf = io.StringIO()
        for n, row in enumerate(rows, 1):
            buf.write("\t".join(field_text(v) for v in row))
            buf.write("\n")
            if n % 20_000 == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def host_rows(n_hosts: int, teams: list[int], now: dt.datetime, os_ids: dict[tuple[str, str], int],
              rng: random.Random) -> Iterator[tuple[Any, ...]]:
    shares = [p[5] for p in PLATFORMS]
    for n in range(1, n_hosts + 1):
        plat, os_name, versions, (vendor, model), _label, _share = rng.choices(PLATFORMS, shares)[0]
        version = rng.choice(versions)
        # 10 % in no team, the rest spread over the teams with uneven sizes.
        team = None if rng.random() < 0.1 else teams[min(len(teams) - 1, int(rng.expovariate(1 / 5)))]
        # 3 % enrolled this week (new), the rest over the last two years.
        created = now - (dt.timedelta(days=rng.uniform(0, 6)) if rng.random() < 0.03
                         else dt.timedelta(days=rng.uniform(8, 730)))
        hostname = f"{('mac' if plat == 'darwin' else plat[:3])}-{n:06d}.corp.example"
        serial = f"SN{rng.getrandbits(40):010X}"
        memory = rng.choice((8, 16, 32, 64)) << 30
        disk_total = rng.choice((256.0, 512.0, 1024.0))
        disk_free = round(rng.uniform(0.02, 0.9) * disk_total, 2)
        yield (
            n, f"uuid-{n:08d}", f"nk-{n:08d}", team, created, now, created, created,
            now - dt.timedelta(minutes=rng.uniform(0, 55)), now - dt.timedelta(minutes=rng.uniform(0, 55)),
            now - dt.timedelta(minutes=rng.uniform(0, 55)),
            hostname, f"{n:08X}-0000-4000-8000-{n:012X}", plat, "linux" if plat in LINUX_PLATFORMS else plat,
            rng.choice(("5.10.2", "5.11.0", "5.12.1")), f"{os_name} {version}", f"{rng.randint(100, 999)}",
            rng.randint(60, 90 * 86400), memory, "x86_64" if plat != "darwin" else "arm64e",
            "Intel(R) Core(TM) i7" if plat != "darwin" else "Apple M2 Pro", rng.choice((4, 8, 10)),
            rng.choice((8, 12, 16)), vendor, model, serial, f"Computer {n:06d}", f"203.0.113.{n % 250}",
            f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", f"02:00:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:"
            f"{n & 255:02x}:01", 10, 60, 10, disk_free, round(100 * disk_free / disk_total, 2), disk_total,
            os_ids[(os_name, version)],
        )


HOST_COLUMNS = (
    "id, osquery_host_id, node_key_hash, team_id, created_at, updated_at, last_enrolled_at, seen_time,"
    " detail_updated_at, label_updated_at, policy_updated_at, hostname, uuid, platform, platform_like,"
    " osquery_version, os_version, build, uptime_seconds, memory, cpu_type, cpu_brand, cpu_physical_cores,"
    " cpu_logical_cores, hardware_vendor, hardware_model, hardware_serial, computer_name, public_ip, primary_ip,"
    " primary_mac, distributed_interval, config_tls_refresh, logger_tls_period, gigs_disk_space_available,"
    " percent_disk_space_available, gigs_total_disk_space, os_id"
)

# Big tables are loaded without their indexes and foreign keys, which are then rebuilt from their
# own definitions (what the migrations made): far quicker than maintaining them row by row.
BULK_TABLES = ("host_software", "label_membership", "policy_membership")


@contextlib.contextmanager
def without_indexes(cur: psycopg.Cursor[Any], tables: tuple[str, ...]) -> Iterator[None]:
    cur.execute("""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                    WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('p', 'f', 'u')""", [list(tables)])
    constraints = cur.fetchall()
    cur.execute("""SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
                    WHERE indrelid::regclass::text = ANY(%s)
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = indexrelid)""",
                [list(tables)])
    indexes = cur.fetchall()
    for table, name, _ in constraints:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    yield
    for table, name, definition in sorted(constraints, key=lambda c: "FOREIGN" in c[2]):
        cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        cur.execute(definition)


def load_fleet(server: Server, n_hosts: int, catalogue: dict[str, list[int]]) -> dict[str, Any]:
    rng = random.Random(SEED)
    now = dt.datetime.now(dt.UTC)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with server.pg_connect(autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET synchronous_commit = off")
        os_ids: dict[tuple[str, str], int] = {}
        for plat, os_name, versions, *_ in PLATFORMS:
            for version in versions:
                cur.execute("INSERT INTO operating_systems (name, version, platform) VALUES (%s, %s, %s)"
                            " RETURNING id", (os_name, version, plat))
                os_ids[(os_name, version)] = cur.fetchone()[0]  # type: ignore[index]
        copy_text(cur, f"COPY hosts ({HOST_COLUMNS}) FROM STDIN",
                  host_rows(n_hosts, catalogue["teams"], now, os_ids, rng))
        cur.execute("SELECT setval('hosts_id_seq', %s)", [n_hosts])
        # Check-ins: 80 % online, 12 % offline (hours ago), 8 % missing (more than 30 days ago).
        # The online ones are stamped up to an hour ahead, so that they stay online through the
        # run as if they kept checking in (the status filters compare with the server's clock).
        # Migration 0020's trigger gave every host its host_seen_times row (its hosts.seen_time);
        # the check-ins are merged in as the agents' flush does, keeping the later time.
        cur.execute("CREATE TEMP TABLE seen_load (host_id bigint, seen_time timestamptz) ON COMMIT DROP")
        copy_text(cur, "COPY seen_load (host_id, seen_time) FROM STDIN", (
            (n, now + dt.timedelta(minutes=60) - dt.timedelta(seconds=rng.uniform(0, 10)) if r < 0.8 else
             now - dt.timedelta(hours=rng.uniform(1, 200)) if r < 0.92 else
             now - dt.timedelta(days=rng.uniform(31, 90)))
            for n in range(1, n_hosts + 1) for r in (rng.random(),)))
        cur.execute("""INSERT INTO host_seen_times AS s (host_id, seen_time) SELECT host_id, seen_time FROM seen_load
                       ON CONFLICT (host_id) DO UPDATE SET seen_time = EXCLUDED.seen_time
                        WHERE s.seen_time < EXCLUDED.seen_time""")
        timings["hosts"] = time.perf_counter() - started

        # MDM on macOS and Windows hosts, Munki on macOS, device mapping on a tenth of the fleet.
        cur.execute("INSERT INTO mdm_solutions (name, server_url) VALUES ('Fleet', 'https://fleet.example/mdm'),"
                    " ('Jamf', 'https://jamf.example/mdm') RETURNING id")
        mdm_ids = [r[0] for r in cur.fetchall()]
        cur.execute("""INSERT INTO host_mdm (host_id, enrolled, server_url, installed_from_dep, name, mdm_id)
                       SELECT id, id %% 10 <> 0, 'https://fleet.example/mdm', id %% 3 = 0, 'Fleet',
                              (%s::bigint[])[1 + id %% 2]
                         FROM hosts WHERE platform IN ('darwin', 'windows')""", [mdm_ids])
        cur.execute("INSERT INTO host_munki_info (host_id, version) SELECT id, '6.' || (id % 4) FROM hosts"
                    " WHERE platform = 'darwin'")
        cur.execute("INSERT INTO munki_issues (name, issue_type) SELECT 'issue ' || n, "
                    "CASE WHEN n % 2 = 0 THEN 'error' ELSE 'warning' END FROM generate_series(1, 20) n")
        cur.execute("""INSERT INTO host_munki_issues (host_id, munki_issue_id)
                       SELECT h.id, m.id FROM hosts h JOIN munki_issues m ON m.id = 1 + h.id % 40
                        WHERE h.platform = 'darwin'""")
        cur.execute("INSERT INTO host_emails (host_id, email, source) SELECT id, 'user' || id || '@corp.example',"
                    " 'google_chrome_profiles' FROM hosts WHERE id % 10 = 0")

        # 20,000 software titles, over the sources osquery reports.
        sources = ("programs", "deb_packages", "rpm_packages", "apps", "chrome_extensions", "python_packages",
                   "homebrew_packages", "npm_packages")
        copy_text(cur, "COPY software (id, name, version, source, vendor) FROM STDIN", (
            (n, f"package-{(n - 1) // 4:05d}", f"{1 + n % 7}.{n % 13}.{n % 5}", sources[n % len(sources)],
             f"Vendor {n % 97}") for n in range(1, SOFTWARE + 1)))
        cur.execute("SELECT setval('software_id_seq', %s)", [SOFTWARE])
        timings["small tables"] = time.perf_counter() - started
        conn.commit()

        with without_indexes(cur, BULK_TABLES):
            # 300 distinct titles per host: 100 of the common 500 and 200 of the other 19,500
            # (k * 7 mod 500 and k * 17 mod 19,500 are distinct for these k: 7 and 17 are coprime
            # with the moduli).
            cur.execute("""
                INSERT INTO host_software (host_id, software_id, created_at)
                SELECT h.id, CASE WHEN k < %(common_per_host)s THEN 1 + (h.id * 31 + k * 7) %% %(common)s
                                  ELSE %(common)s + 1 + (h.id * 7919 + k * 17) %% (%(software)s - %(common)s)
                             END, h.created_at
                  FROM hosts h CROSS JOIN generate_series(0, %(per_host)s - 1) AS k""",
                        {"common_per_host": COMMON_PER_HOST, "common": COMMON_SOFTWARE, "software": SOFTWARE,
                         "per_host": SOFTWARE_PER_HOST})
            timings["host_software"] = time.perf_counter() - started
            # Builtin labels by platform; label n holds every host whose id is divisible by n + 2
            # (from half the fleet down to 2 %).
            cur.execute("INSERT INTO label_membership (label_id, host_id, updated_at) SELECT 1, id, %s FROM hosts",
                        [now])
            for plat, _name, _versions, _hw, label_id, _share in PLATFORMS:
                cur.execute("INSERT INTO label_membership (label_id, host_id, updated_at)"
                            " SELECT %s, id, %s FROM hosts WHERE platform = %s", [label_id, now, plat])
            cur.execute("INSERT INTO label_membership (label_id, host_id, updated_at)"
                        " SELECT 7, id, %s FROM hosts WHERE platform = ANY(%s)", [now, sorted(LINUX_PLATFORMS)])
            cur.execute("""INSERT INTO label_membership (label_id, host_id, updated_at)
                           SELECT l.id, h.id, %s FROM unnest(%s::bigint[]) WITH ORDINALITY AS l(id, n)
                             JOIN hosts h ON h.id %% (l.n + 1) = 0""", [now, catalogue["labels"]])
            timings["label_membership"] = time.perf_counter() - started
            # Policy results: every global policy on every host (policy n fails on about n %
            # of them; one host in 500 errored), each team's policy on its hosts. The triggers
            # of policy_membership keep policy_stats as the rows go in.
            cur.execute("""INSERT INTO policy_membership (policy_id, host_id, passes, updated_at)
                           SELECT p.id, h.id, CASE WHEN (h.id * 13 + p.n) %% 500 = 0 THEN NULL
                                                   ELSE (h.id * 7 + p.n * 11) %% 100 >= p.n END, %s
                             FROM unnest(%s::bigint[]) WITH ORDINALITY AS p(id, n) CROSS JOIN hosts h""",
                        [now, catalogue["policies"]])
            cur.execute("""INSERT INTO policy_membership (policy_id, host_id, passes, updated_at)
                           SELECT p.id, h.id, h.id %% 4 <> 0, %s FROM policies p JOIN hosts h ON h.team_id = p.team_id
                            WHERE p.team_id IS NOT NULL""", [now])
            timings["policy_membership"] = time.perf_counter() - started
        timings["indexes rebuilt"] = time.perf_counter() - started
        conn.commit()
    with server.pg_connect() as conn:
        conn.execute("VACUUM ANALYZE")
    timings["vacuum analyze"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in timings.items()}


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


@dataclass
class Case:
    group: str
    name: str
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass
class Timing:
    case: Case
    ms: list[float]
    status: int
    size: int
    detail: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def cases(catalogue: dict[str, list[int]], n_hosts: int, ids: dict[str, Any]) -> list[Case]:
    from fleet_core.rules.ordering import HOST_ORDER_KEYS

    team = catalogue["teams"][0]
    label = catalogue["labels"][0]
    policy = catalogue["policies"][10]
    per = {"per_page": 100}
    filters: list[tuple[str, dict[str, Any]]] = [
        ("team_id", {"team_id": team}),
        ("status=online", {"status": "online"}),
        ("status=offline", {"status": "offline"}),
        ("status=missing", {"status": "missing"}),
        ("status=new", {"status": "new"}),
        ("label_id", {"label_id": label}),
        ("policy_id+passing", {"policy_id": policy, "policy_response": "passing"}),
        ("policy_id+failing", {"policy_id": policy, "policy_response": "failing"}),
        ("software_id (common)", {"software_id": 1}),
        ("software_id (rare)", {"software_id": SOFTWARE}),
        ("os_id", {"os_id": ids["os_id"]}),
        ("os_name+os_version", {"os_name": "macOS", "os_version": "14.4"}),
        ("mdm_id", {"mdm_id": ids["mdm_id"]}),
        ("mdm_enrollment_status", {"mdm_enrollment_status": "manual"}),
        ("munki_issue_id", {"munki_issue_id": ids["munki_issue_id"]}),
        ("query=hostname", {"query": "mac-0012"}),
        ("query=serial", {"query": ids["serial"][2:9]}),
        ("query=email", {"query": "user1230@corp.example"}),
        ("query=miss", {"query": "no-such-host"}),
        ("team_id+status+label", {"team_id": team, "status": "online", "label_id": label}),
    ]
    deep_page = max(0, n_hosts // 100 // 2)
    out = [
        Case("hosts", "first page", "GET", "/api/v1/fleet/hosts", {**per, "page": 0}),
        Case("hosts", f"deep page ({deep_page})", "GET", "/api/v1/fleet/hosts", {**per, "page": deep_page}),
        Case("hosts", "last page", "GET", "/api/v1/fleet/hosts", {**per, "page": (n_hosts - 1) // 100}),
        Case("hosts", "device_mapping", "GET", "/api/v1/fleet/hosts", {**per, "device_mapping": "true"}),
    ]
    out += [Case("hosts", f"filter {name}", "GET", "/api/v1/fleet/hosts", {**per, **p}) for name, p in filters]
    for key in sorted(HOST_ORDER_KEYS):
        out.append(Case("hosts", f"order {key} desc", "GET", "/api/v1/fleet/hosts",
                        {**per, "order_key": key, "order_direction": "desc"}))
    out.append(Case("hosts", f"order hostname, deep page ({deep_page})", "GET", "/api/v1/fleet/hosts",
                    {**per, "order_key": "hostname", "page": deep_page}))
    out.append(Case("hosts", "order seen_time, deep page", "GET", "/api/v1/fleet/hosts",
                    {**per, "order_key": "seen_time", "page": deep_page}))
    out.append(Case("count", "all", "GET", "/api/v1/fleet/hosts/count"))
    out += [Case("count", name, "GET", "/api/v1/fleet/hosts/count", p) for name, p in filters]
    out += [
        Case("summary", "fleet", "GET", "/api/v1/fleet/host_summary"),
        Case("summary", "team", "GET", "/api/v1/fleet/host_summary", {"team_id": team}),
        Case("summary", "platform=linux", "GET", "/api/v1/fleet/host_summary", {"platform": "linux"}),
        Case("labels", "builtin All Hosts", "GET", "/api/v1/fleet/labels/1/hosts", per),
        Case("labels", "label", "GET", f"/api/v1/fleet/labels/{label}/hosts", per),
        Case("labels", "label, deep page", "GET", f"/api/v1/fleet/labels/{label}/hosts",
             {**per, "page": max(0, n_hosts // 2 // 100 // 2)}),
        Case("labels", "list (with counts)", "GET", "/api/v1/fleet/labels"),
        Case("labels", "summary", "GET", "/api/v1/fleet/labels/summary"),
        Case("host", "by id", "GET", f"/api/v1/fleet/hosts/{n_hosts // 2}"),
        Case("software", "first page", "GET", "/api/v1/fleet/software", per),
        Case("software", "by hosts_count", "GET", "/api/v1/fleet/software",
             {**per, "order_key": "hosts_count", "order_direction": "desc"}),
        Case("software", "team", "GET", "/api/v1/fleet/software", {**per, "team_id": team}),
        Case("software", "query", "GET", "/api/v1/fleet/software", {**per, "query": "package-012"}),
        Case("software", "deep page", "GET", "/api/v1/fleet/software", {**per, "page": SOFTWARE // 100 // 2}),
        Case("software", "count", "GET", "/api/v1/fleet/software/count"),
        Case("software", "count, team", "GET", "/api/v1/fleet/software/count", {"team_id": team}),
        Case("policies", "global list", "GET", "/api/v1/fleet/global/policies"),
        Case("policies", "team list", "GET", f"/api/v1/fleet/teams/{team}/policies"),
        Case("policies", "global count", "GET", "/api/v1/fleet/policies/count"),
        Case("policies", "team count", "GET", f"/api/v1/fleet/teams/{team}/policies/count"),
        Case("targets", "search 'mac-0001'", "POST", "/api/v1/fleet/targets", body={"query": "mac-0001"}),
        Case("targets", "search '' (none selected)", "POST", "/api/v1/fleet/targets", body={"query": ""}),
        Case("targets", "search with selection", "POST", "/api/v1/fleet/targets",
             body={"query": "win", "selected": {"hosts": [1, 2, 3], "labels": [label], "teams": [team]}}),
        Case("targets", "count", "POST", "/api/v1/fleet/targets/count",
             body={"selected": {"hosts": [], "labels": [1, label], "teams": [team]}}),
    ]
    return out


def time_case(api: httpx.Client, case: Case, repeats: int) -> Timing:
    def once() -> tuple[float, httpx.Response]:
        started = time.perf_counter()
        r = api.request(case.method, case.path, params=case.params, json=case.body)
        return (time.perf_counter() - started) * 1000, r

    _, r = once()  # warm-up: the server's plan caches, Postgres' buffers
    ms = []
    for _ in range(repeats):
        elapsed, r = once()
        ms.append(elapsed)
    detail = ""
    with contextlib.suppress(ValueError):
        body = r.json()
        if "count" in body and isinstance(body["count"], int):
            detail = f"count {body['count']:,}"
        elif isinstance(body.get("hosts"), list):
            detail = f"{len(body['hosts'])} hosts"
        elif isinstance(body.get("software"), list):
            detail = f"{len(body['software'])} software"
        elif isinstance(body.get("policies"), list):
            detail = f"{len(body['policies'])} policies"
        elif "totals_hosts_count" in body:
            detail = f"{body['totals_hosts_count']:,} hosts"
    return Timing(case, ms, r.status_code, len(r.content), detail)


def time_report(server: Server, api: httpx.Client, params: dict[str, Any]) -> dict[str, Any]:
    """One CSV report, streamed to nowhere, with the API processes' RSS sampled meanwhile."""
    procs = server.api_processes()
    before = {p.pid: vm_kib(p.pid, "VmRSS") for p in procs}
    peak = dict(before)
    started = time.perf_counter()
    first_byte = None
    size = rows = 0
    with api.stream("GET", "/api/v1/fleet/hosts/report", params={"format": "csv", **params}) as r:
        status = r.status_code
        for chunk in r.iter_bytes():
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            rows += chunk.count(b"\n")
            for p in procs:
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    peak[p.pid] = max(peak[p.pid], vm_kib(p.pid, "VmRSS"))
    elapsed = time.perf_counter() - started
    growth = max(peak[pid] - before[pid] for pid in before)
    return {"params": params, "status": status, "seconds": round(elapsed, 2),
            "first_byte_ms": round(1000 * (first_byte or elapsed), 1), "bytes": size, "rows": max(0, rows - 1),
            "rss_growth_mib": round(growth / 1024, 1)}


# ---------------------------------------------------------------------------------------------
# EXPLAIN of the adapter's own statements
# ---------------------------------------------------------------------------------------------


def explain_host_statements(server: Server, catalogue: dict[str, list[int]], ids: dict[str, Any],
                            out: Path) -> list[dict[str, Any]]:
    from fleet_adapters.postgres.hosts.filters import host_filter_where, status_bounds
    from fleet_adapters.postgres.hosts.inventory import (
        COUNT_TARGETS_BY_STATUS,
        SEARCH_HOSTS_BY_TEXT,
        SEARCH_RECENT_HOSTS,
        PgHostInventoryRepository,
        count_hosts,
        count_online_hosts,
        count_statuses,
        summarize_hosts,
        target_params,
    )
    from fleet_core.model.hosts import HostFilter, HostStatus
    from fleet_core.rules.paging import Direction, ListOptions
    from fleet_core.rules.targets import TargetSelection

    now = dt.datetime.now(dt.UTC)
    team, label, policy = catalogue["teams"][0], catalogue["labels"][0], catalogue["policies"][10]
    variants: list[tuple[str, HostFilter]] = [
        ("none", HostFilter()),
        ("team_id", HostFilter(team_id=team)),
        ("status=online", HostFilter(status=HostStatus.ONLINE)),
        ("status=missing", HostFilter(status=HostStatus.MISSING)),
        ("label_id", HostFilter(label_id=label)),
        ("policy failing", HostFilter(policy_id=policy, policy_response="failing")),
        ("software_id (rare)", HostFilter(software_id=SOFTWARE)),
        ("software_id (common)", HostFilter(software_id=1)),
        ("os_id", HostFilter(os_id=ids["os_id"])),
        ("status=offline", HostFilter(status=HostStatus.OFFLINE)),
        ("query", HostFilter(query="mac-0012")),
    ]
    bounds = status_bounds(now)
    search = {"excluded_ids": [], "limit": 10, "all_teams": True, "visible_team_ids": []}
    others: list[tuple[str, str, Any]] = [
        ("count status=online (total - offline)", count_online_hosts("TRUE"), bounds),
        ("summary", summarize_hosts("TRUE"), bounds),
        ("summary", count_statuses("TRUE"), bounds),
        ("targets", SEARCH_RECENT_HOSTS, search),
        ("targets", SEARCH_HOSTS_BY_TEXT, {**search, "pattern": "%mac-0001%"}),
        ("targets", COUNT_TARGETS_BY_STATUS,
         {**target_params(TargetSelection(label_ids=frozenset({1, label}), team_ids=frozenset({team})), None),
          **bounds}),
    ]
    results = []
    lines: list[str] = []
    pages = PgHostInventoryRepository(None)  # type: ignore[arg-type]  # list_statement only builds SQL
    with server.pg_connect() as conn:
        for name, f in variants:
            where, params = host_filter_where(f, now, f.query)
            for kind, sql, p in (
                ("count", count_hosts(where), params),
                # The statements the adapter itself runs for the page (list_statement).
                ("page", *pages.list_statement(f, ListOptions(per_page=100), now=now)),
                *((f"page by {key} desc", *pages.list_statement(
                    f, ListOptions(per_page=100, order_key=key, order_direction=Direction.DESC), now=now))
                  for key in ("hostname", "seen_time")),
            ):
                plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, p).fetchall())
                exec_ms = float(m.group(1)) if (m := re.search(r"Execution Time: ([\d.]+)", plan)) else 0.0
                seq = sorted(set(re.findall(r"Seq Scan on (\w+)", plan)))
                results.append({"filter": name, "statement": kind, "execution_ms": exec_ms, "seq_scans": seq})
                lines.append(f"### {name}: {kind} ({exec_ms:.1f} ms)\n\n```\n{plan}\n```\n")
        for name, sql, p in others:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, p).fetchall())
            exec_ms = float(m.group(1)) if (m := re.search(r"Execution Time: ([\d.]+)", plan)) else 0.0
            kind = " ".join(sql.split())[:60]
            lines.append(f"### {name}: {kind} ({exec_ms:.1f} ms)\n\n```\n{plan}\n```\n")
    out.write_text("\n".join(lines))
    return results


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    timings: list[Timing] = results["timings"]
    over = [t for t in timings if t.p99 >= TARGET_MS or t.status != 200]
    load = results["load"]
    lines = [
        BEGIN,
        "### Latest run",
        "",
        f"Run of {results['date']} on this machine ({results['machine']}), load average "
        f"{results['loadavg']} when the timing began (the machine is shared: figures are pessimistic). "
        f"`make bench-management MGMT_ARGS=\"{results['args']}\"` (tests/bench/management.py): "
        f"{results['hosts']:,} hosts loaded into the Postgres of a real `fleet serve --workers "
        f"{results['workers']}` ({results['host_software']:,} host_software rows, "
        f"{results['label_membership']:,} label memberships, {results['policy_membership']:,} policy results); "
        f"load {load.get('vacuum analyze', 0):.0f} s ({', '.join(f'{k} at {v:.0f} s' for k, v in load.items())}), "
        f"the software counts job {results['software_counts_s']:.1f} s. Each row: {results['repeats']} "
        f"sequential requests after one warm-up, latency as the client sees it over loopback.",
        "",
        f"Target p99 < {TARGET_MS:.0f} ms: {len(timings) - len(over)} of {len(timings)} cases meet it"
        + (f"; over it: {', '.join(f'{t.case.group} {t.case.name} ({t.p99:.0f} ms)' for t in over)}." if over
           else "."),
        "",
        "| group | case | p50 ms | p99 ms | status | answer |",
        "|---|---|---|---|---|---|",
    ]
    for t in timings:
        mark = "" if t.p99 < TARGET_MS and t.status == 200 else " **over**"
        lines.append(f"| {t.case.group} | {t.case.name} | {t.p50:.1f} | {t.p99:.1f}{mark} | {t.status} | "
                     f"{t.detail} |")
    lines += ["", "CSV report (`GET /api/v1/fleet/hosts/report?format=csv`), read as a stream; RSS growth is "
              "the largest rise of any API process' resident set while the report was read:", "",
              "| report | rows | MiB | seconds | first byte ms | RSS growth MiB |", "|---|---|---|---|---|---|"]
    for r in results["reports"]:
        lines.append(f"| {json.dumps(r['params'])} | {r['rows']:,} | {r['bytes'] / 2**20:.1f} | {r['seconds']} | "
                     f"{r['first_byte_ms']} | {r['rss_growth_mib']} |")
    if results.get("explain"):
        lines += ["", "EXPLAIN (ANALYZE) of the host statements (execution time in Postgres; sequential scans):", "",
                  "| filter | statement | ms | seq scans |", "|---|---|---|---|"]
        for e in results["explain"]:
            lines.append(f"| {e['filter']} | {e['statement']} | {e['execution_ms']:.1f} | "
                         f"{', '.join(e['seq_scans']) or '-'} |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write_doc(section: str) -> None:
    text = DOC.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section.rstrip("\n") + rest.split(END, 1)[1]
    else:
        marker = "<!-- bench:results"
        head, sep, tail = text.partition(marker)
        text = head + section + "\n" + sep + tail if sep else text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def wait_for_software_counts(server: Server, started: float, timeout: float = 1800.0) -> float:
    """The trigger returns once the run has begun; its end is when the counts' refresh time is set."""
    with server.pg_connect() as conn:
        while time.perf_counter() - started < timeout:
            row = conn.execute("SELECT counts_updated_at FROM software_jobs_state").fetchone()
            if row is not None and row[0] is not None:
                return time.perf_counter() - started
            time.sleep(0.5)
    raise RuntimeError(f"the software counts job did not finish within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20, help="timed requests per case (after one warm-up)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) the host statements")
    parser.add_argument("--explain-out", type=Path, default=Path(tempfile.gettempdir()) / "fleet-mgmt-explain.md")
    parser.add_argument("--no-doc", action="store_true", help="print the section instead of rewriting the doc")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (its path is printed)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-mgmt-"))
    server = Server(workdir, args.workers)
    results: dict[str, Any] = {"hosts": args.hosts, "workers": args.workers, "repeats": args.repeats,
                               "date": dt.date.today().isoformat(),
                               "args": " ".join(a for a in sys.argv[1:] if a != "--no-doc")}
    try:
        server.start()
        token = api_setup(server.url)
        with httpx.Client(base_url=server.url, timeout=600.0, headers={"Authorization": f"Bearer {token}"}) as api:
            catalogue = create_catalogue(api)
            print(f"catalogue: {TEAMS} teams, {LABELS} labels, {GLOBAL_POLICIES + TEAMS} policies", flush=True)
            results["load"] = load_fleet(server, args.hosts, catalogue)
            print(f"loaded {args.hosts:,} hosts: {results['load']}", flush=True)
            started = time.perf_counter()
            checked(api.post("/api/v1/fleet/trigger", params={"name": "cleanups_then_aggregation"}))
            results["software_counts_s"] = wait_for_software_counts(server, started)
            with server.pg_connect() as conn:
                for table in ("host_software", "label_membership", "policy_membership", "software_host_counts"):
                    results[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]  # noqa: S608
                ids = {
                    "os_id": conn.execute("SELECT id FROM operating_systems WHERE name = 'macOS' AND version = '14.4'"
                                          ).fetchone()[0],  # type: ignore[index]
                    "mdm_id": conn.execute("SELECT min(id) FROM mdm_solutions").fetchone()[0],  # type: ignore[index]
                    "munki_issue_id": conn.execute("SELECT min(id) FROM munki_issues").fetchone()[0],  # type: ignore[index]
                    "serial": conn.execute("SELECT hardware_serial FROM hosts WHERE id = 4242 % (SELECT count(*)"
                                           " FROM hosts) + 1").fetchone()[0],  # type: ignore[index]
                }
            if results["software_host_counts"] == 0:
                raise RuntimeError("the software counts job left software_host_counts empty")
            results["loadavg"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
            results["machine"] = f"{os.cpu_count()} cores, {platform.machine()}, " \
                                 f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
            timings = []
            for case in cases(catalogue, args.hosts, ids):
                t = time_case(api, case, args.repeats)
                timings.append(t)
                print(f"{case.group:9} {case.name:40} p50 {t.p50:8.1f}  p99 {t.p99:8.1f} ms  {t.status}  {t.detail}",
                      flush=True)
            results["timings"] = timings
            results["reports"] = [time_report(server, api, {"team_id": catalogue["teams"][5]}),
                                  time_report(server, api, {"team_id": catalogue["teams"][0]}),
                                  time_report(server, api, {})]
            for r in results["reports"]:
                print("report", r, flush=True)
            if args.explain:
                results["explain"] = explain_host_statements(server, catalogue, ids, args.explain_out)
                print(f"EXPLAIN output in {args.explain_out}", flush=True)
    finally:
        server.stop()
        if args.keep:
            print(f"data dir kept: {server.data_dir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    section = render(results)
    if args.no_doc:
        print(section)
    else:
        write_doc(section)
        print(f"rewrote the management section of {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
