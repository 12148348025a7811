"""How fast the console renders a page of 100 hosts at 10,000 hosts (a figure, not a test).

It starts a real `fleet serve` (plain HTTP, embedded Postgres and Redis), sets up the admin,
enrolls --hosts hosts straight into the server's Postgres through the Postgres host repository
(as an enrollment stores them, with vitals), signs in to the console as a browser does, and
times GET /hosts?per_page=100 (first page, a middle page, the status filter, a search) over
loopback. The times include HTTP on loopback, so they bound the server-side render from above.

    .venv/bin/python tests/bench/console_hosts.py            # 10,000 hosts
    .venv/bin/python tests/bench/console_hosts.py --hosts 500 --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.e2e.fleet_process import FleetServer  # noqa: E402

EMAIL = "bench@example.com"
PASSWORD = "bench-passw0rd!"
PLATFORMS = (("ubuntu", "Ubuntu 22.04.4 LTS"), ("darwin", "macOS 14.1.2"), ("windows", "Windows 11 Pro 23H2"))


async def load_hosts(conninfo: str, count: int, concurrency: int = 4) -> float:
    from fleet_adapters.postgres.hosts import PgHostRepository

    at = dt.datetime.now(dt.UTC)

    async def part(numbers: range) -> None:
        async with await psycopg.AsyncConnection.connect(conninfo) as conn:
            repo = PgHostRepository(conn)
            for n in numbers:
                platform, os_version = PLATFORMS[n % len(PLATFORMS)]
                await repo.enroll(osquery_host_id=f"bench-{n}", node_key_hash=f"nk-{n}", team_id=None, at=at, fields={
                    "hostname": f"bench-{n:05d}.example.com", "computer_name": f"bench-{n:05d}",
                    "uuid": f"00000000-0000-0000-0000-{n:012d}", "platform": platform, "os_version": os_version,
                    "osquery_version": "5.12.1", "hardware_serial": f"SN{n:08d}",
                    "primary_ip": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
                    "memory": 17179869184, "cpu_brand": "Bench CPU", "distributed_interval": 10,
                    "config_tls_refresh": 10, "logger_tls_period": 10})
                if n % 200 == 0:
                    await conn.commit()
            await conn.commit()

    started = time.perf_counter()
    step = -(-count // concurrency)
    await asyncio.gather(*(part(range(k, min(count, k + step))) for k in range(0, count, step)))
    return time.perf_counter() - started


def sign_in(client: httpx.Client) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token, page.text
    answer = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 303, answer.text


def timed(client: httpx.Client, path: str, runs: int) -> dict[str, float]:
    client.get(path)  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:500]
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        root = Path(tmp)
        server = FleetServer(root / "data", root / "logs", tls=False).start()
        try:
            with server.client() as client:
                setup = client.post("/api/v1/setup", json={
                    "admin": {"admin": True, "email": EMAIL, "name": "Bench", "password": PASSWORD,
                              "password_confirmation": PASSWORD},
                    "org_info": {"org_name": "Bench"}, "server_url": server.base_url})
                assert setup.status_code == 200, setup.text
                api_token = setup.json()["token"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from pgserver.postgres_server import get_server
            conninfo = get_server(root / "data" / "postgres", cleanup_mode=None).get_uri()
            loaded = asyncio.run(load_hosts(conninfo, args.hosts))
            print(f"loaded {args.hosts} hosts in {loaded:.1f}s")
            with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
                sign_in(client)
                for label, path in (("first page", "/hosts?per_page=100"),
                                    ("middle page", f"/hosts?per_page=100&page={args.hosts // 200}"),
                                    ("status=online", "/hosts?per_page=100&status=online"),
                                    ("search", "/hosts?per_page=100&query=bench-0"),
                                    ("host details", "/hosts/1")):
                    print(f"GET {path} ({label}): {timed(client, path, args.runs)}")
            # The API calls behind the page, for comparison (same server, same data).
            with httpx.Client(base_url=server.base_url, timeout=30.0,
                              headers={"Authorization": f"Bearer {api_token}"}) as api:
                for path in ("/api/v1/fleet/hosts?per_page=100", "/api/v1/fleet/hosts/count",
                             "/api/v1/fleet/os_versions", "/api/v1/fleet/labels", "/api/v1/fleet/global/policies"):
                    print(f"API GET {path}: {timed(api, path, args.runs)}")
        finally:
            server.terminate()
            server.kill_if_running()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
