"""GET /metrics on the real `fleet serve --workers 2`: refused without the credentials, and the
counts add up across the worker processes whichever of them answers the scrape."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_serve import log_in, set_up

from fleet_osquery.sim import Simulator

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

DEADLINE_SECONDS = 60.0
USER, PASSWORD = "prometheus", "scrape-horse-battery-7"
SECRET = "metrics-enroll-secret"
VERSION_ROUTE = {"api": "fleet", "method": "GET", "route": "/api/latest/fleet/version", "status": "200"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics", auth=(USER, PASSWORD))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def workers_with_request_files(metrics_dir: Path) -> set[str]:
    # prometheus_client names each process's file histogram_<pid>.db.
    return {p.stem.rsplit("_", 1)[1] for p in metrics_dir.glob("histogram_*.db")}


def test_two_workers_add_up_and_scrapes_need_the_credentials(
    fleet: FleetCLI, tmp_path: Path, pg_dsn: str, redis_url: str,
) -> None:
    data_dir = tmp_path / "fleet-data"
    server = fleet.serve(data_dir, tls=False, extra=[
        "--workers", "2", "--database-url", pg_dsn, "--redis-url", redis_url,
        "--prometheus-basic-auth-username", USER, "--prometheus-basic-auth-password", PASSWORD])
    with server.client() as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", auth=(USER, "not-the-password"))
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
        assert client.get("/metrics", auth=("someone", PASSWORD)).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Basic !!!"}).status_code == 401

        assert set_up(client, server.base_url).status_code == 200
        auth = {"Authorization": f"Bearer {log_in(client)}"}
        before = value(scrape(client), "fleet_http_request_duration_seconds_count", **VERSION_ROUTE)

    # A new connection per request, until both workers have served some: the kernel spreads them.
    sent = 0
    deadline = time.monotonic() + DEADLINE_SECONDS
    while sent < 40 or len(workers_with_request_files(data_dir / "prometheus")) < 2:
        assert time.monotonic() < deadline, "both workers served requests"
        with server.client() as fresh:
            assert fresh.get("/api/latest/fleet/version", headers=auth).status_code == 200
        sent += 1

    # Whichever worker answers a scrape, it reports every worker's requests.
    for _ in range(6):
        with server.client() as fresh:
            counted = value(scrape(fresh), "fleet_http_request_duration_seconds_count", **VERSION_ROUTE)
        assert counted == before + sent

    with server.client() as client:
        assert client.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                           json={"spec": {"secrets": [{"secret": SECRET}]}}).status_code == 200

        async def enroll_and_log() -> str:
            sim = Simulator(server.base_url, SECRET, hosts=3, os_templates="ubuntu_22.04", start_period=0)
            async with sim:
                for host in sim.hosts:
                    assert await host.enroll()
                node_key = sim.hosts[0].node_key
                assert node_key is not None
                return node_key

        node_key = anyio.run(enroll_and_log)
        records = [{"name": "pack/p/q", "hostIdentifier": "h", "unixTime": 1, "columns": {"n": str(i)}}
                   for i in range(5)]
        logged = client.post("/api/osquery/log", json={"node_key": node_key, "log_type": "result",
                                                      "data": records})
        assert logged.status_code == 200, logged.text

        samples = scrape(client)
        assert value(samples, "fleet_hosts_enrolled_total") == 3
        assert value(samples, "fleet_log_batches_total",
                     destination="filesystem", log_type="result", outcome="ok") == 1
        assert value(samples, "fleet_log_records_total",
                     destination="filesystem", log_type="result", outcome="ok") == 5
        enroll_route = {"api": "osquery", "method": "POST", "route": "/api/osquery/enroll", "status": "200"}
        assert value(samples, "fleet_http_request_duration_seconds_count", **enroll_route) == 3
        assert value(samples, "fleet_cache_lookups_total", cache="node_key", result="miss") >= 1
        assert value(samples, "fleet_redis_commands_total") > 0
        # Each worker samples its pool; the pool of each holds at least one connection.
        assert value(samples, "fleet_postgres_pool_connections", state="idle") \
            + value(samples, "fleet_postgres_pool_connections", state="in_use") >= 2
        # The host status sampler ran at start in each worker; then the seen flush writes check-ins.
        assert value(samples, "fleet_job_duration_seconds_count", job="host-status-metrics", outcome="ok") >= 2
        until(lambda: value(scrape(client), "fleet_hosts_seen_total") >= 1, "the seen flush counted the check-ins")
        until(lambda: value(scrape(client), "fleet_job_duration_seconds_count",
                            job="seen-flush", outcome="ok") >= 1, "the seen flush counted as a job run")
    assert server.terminate() == 0


def test_metrics_are_not_served_without_credentials_or_the_disable_flag(fleet: FleetCLI, data_dir: Path) -> None:
    server = fleet.serve(data_dir, tls=False)
    with server.client() as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", auth=(USER, PASSWORD)).status_code == 404
    assert server.terminate() == 0
