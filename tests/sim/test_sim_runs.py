"""The simulator as a whole: node-key file, duration bound over a real HTTP server, TLS, the CLI, the report."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trustme

from fleet_osquery.sim import Simulator
from fleet_osquery.sim.agent import SimOptions
from fleet_osquery.sim.cli import build_parser
from fleet_osquery.sim.stats import Endpoint, Outcome, Stats, format_report, percentile
from tests.sim.fakes import FakeOsqueryServer, serve

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[2]


async def test_node_keys_are_saved_privately_and_a_second_run_resumes_without_enrolling(
    fake: FakeOsqueryServer, tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    first = Simulator(
        "https://fleet.test",
        fake.secret,
        hosts=3,
        os_templates="macos_14,ubuntu_22.04",
        node_key_file=path,
        transport=fake.transport(),
        options=SimOptions(seed=5),
    )
    async with first:
        for host in first.hosts:
            assert await host.enroll()
        keys = {h.host_identifier: h.node_key for h in first.hosts}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["keys"] == keys and saved["seed"] == 5

    second = Simulator(
        "https://fleet.test",
        fake.secret,
        hosts=4,
        os_templates="macos_14,ubuntu_22.04",
        node_key_file=path,
        only_already_enrolled=True,
        transport=fake.transport(),
        options=SimOptions(seed=5),
        start_period=0,
    )
    async with second:
        assert {h.host_identifier: h.node_key for h in second.hosts[:3]} == keys
        assert second.hosts[3].node_key is None
        for host in second.hosts[:3]:
            assert (await host.check_in()).read is Outcome.OK
        # Only hosts with a saved key run; the fourth never starts.
        report = await second.run(duration=0.3)
    assert len(fake.of("enroll")) == 3
    assert report["hosts"] == {"configured": 4, "started": 3, "enrolled": 3}


async def test_only_already_enrolled_with_no_saved_keys_starts_nothing(fake: FakeOsqueryServer, tmp_path: Path) -> None:
    sim = Simulator(
        "https://fleet.test",
        fake.secret,
        hosts=2,
        node_key_file=tmp_path / "none.json",
        only_already_enrolled=True,
        transport=fake.transport(),
    )
    async with sim:
        began = time.monotonic()
        report = await sim.run(duration=30)
    assert time.monotonic() - began < 5
    assert report["hosts"] == {"configured": 2, "started": 0, "enrolled": 0}
    assert fake.received == []


async def test_run_drives_all_loops_over_real_http_and_stops_by_itself(fake: FakeOsqueryServer, tmp_path: Path) -> None:
    options = SimOptions(seed=3, config_interval=0.2, query_interval=0.1, logger_tls_period=0.1, gzip_logs=True)
    with serve(fake) as url:
        sim = Simulator(
            url,
            fake.secret,
            hosts=8,
            os_templates="macos_14,ubuntu_22.04,windows_11,rhel_9",
            start_period=0.1,
            options=options,
            api_prefix="/api/v1/osquery",
            node_key_file=tmp_path / "keys.json",
        )
        fake.queue_queries(sim.hosts[0].host_identifier, {"fleet_detail_query_os_version": "SELECT * FROM os_version"})
        began = time.monotonic()
        async with sim:
            report = await sim.run(duration=1.0)
        elapsed = time.monotonic() - began
    assert 1.0 <= elapsed < 5.0
    assert report["hosts"] == {"configured": 8, "started": 8, "enrolled": 8}
    eps = report["endpoints"]
    assert eps["enroll"]["requests"] == eps["enroll"]["ok"] == 8
    assert eps["config"]["ok"] >= 8 and eps["distributed_read"]["ok"] >= 8
    assert eps["distributed_write"]["ok"] >= 1 and eps["log"]["ok"] >= 1
    assert report["totals"]["errors"] == 0 and report["totals"]["host_crashes"] == 0
    assert eps["distributed_read"]["latency_ms"]["max"] > 0
    (write,) = [w for w in fake.of("distributed/write") if w.body["node_key"] == sim.hosts[0].node_key]
    assert write.body["queries"]["fleet_detail_query_os_version"][0]["platform"] == "darwin"
    logs = fake.of("log")
    assert all(r.headers["content-encoding"] == "gzip" for r in logs)
    assert {r.prefix for r in fake.received} == {"/api/v1/osquery"}
    assert len(json.loads((tmp_path / "keys.json").read_text())["keys"]) == 8


async def test_tls_is_verified_against_the_given_ca(fake: FakeOsqueryServer, tmp_path: Path) -> None:
    ca = trustme.CA()
    pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with serve(fake, tls_pem=str(pem)) as url:
        async with Simulator(url, fake.secret, hosts=1, verify=str(ca_file)) as trusted:
            assert await trusted.hosts[0].enroll()
        async with Simulator(url, fake.secret, hosts=1, verify=True) as untrusted:
            assert not await untrusted.hosts[0].enroll()
            assert untrusted.stats.endpoints[Endpoint.ENROLL].outcomes[Outcome.TRANSPORT] == 1
        async with Simulator(url, fake.secret, hosts=1, verify=False) as insecure:
            assert await insecure.hosts[0].enroll()


def test_cli_runs_for_the_duration_and_writes_a_json_report(fake: FakeOsqueryServer, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    with serve(fake) as url:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fleet_osquery.sim",
                "--server-url",
                url,
                "--host-count",
                "3",
                "--os-templates",
                "ubuntu_22.04,windows_11:1",
                "--duration",
                "1s",
                "--start-period",
                "100ms",
                "--query-interval",
                "0.2",
                "--logger-tls-period",
                "0.2",
                "--seed",
                "9",
                "--json-report",
                str(report_path),
                "--node-key-file",
                str(tmp_path / "keys.json"),
            ],
            cwd=REPO,
            env={**os.environ, "FLEET_SIM_ENROLL_SECRET": fake.secret},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert fake.secret not in proc.stdout + proc.stderr
    assert "distributed_read" in proc.stdout
    report = json.loads(report_path.read_text())
    assert report["hosts"]["enrolled"] == 3
    assert report["endpoints"]["enroll"]["ok"] == 3
    assert set(report["endpoints"]["config"]["latency_ms"]) == {"count", "mean", "p50", "p90", "p99", "max"}
    platforms = sorted(r.body["host_details"]["os_version"]["platform"] for r in fake.of("enroll"))
    assert platforms == ["ubuntu", "ubuntu", "windows"]


def test_report_percentiles_use_nearest_rank() -> None:
    stats = Stats()
    for ms in range(100, 0, -1):
        stats.record(Endpoint.DISTRIBUTED_READ, Outcome.OK, 200, float(ms))
    stats.record(Endpoint.DISTRIBUTED_READ, Outcome.TRANSPORT, None, None)
    stats.record(Endpoint.DISTRIBUTED_READ, Outcome.NODE_INVALID, 401, 1.0)
    report = stats.report(elapsed_s=10.0, hosts=1, started_hosts=1, enrolled_hosts=1)
    read = report["endpoints"]["distributed_read"]
    assert read["requests"] == 102 and read["ok"] == 100
    assert read["errors"] == 1 and read["transport_errors"] == 1 and read["node_invalid"] == 1
    assert read["latency_ms"] == {"count": 101, "mean": 50.01, "p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0}
    assert read["rps"] == 10.2
    assert percentile([], 50) == 0.0 and percentile([7.0], 99) == 7.0
    assert "distributed_read" in format_report(report)


async def test_shards_together_run_exactly_the_hosts_of_one_simulator(fake: FakeOsqueryServer) -> None:
    templates = "macos_14,ubuntu_22.04:2,windows_11,rhel_9"
    whole = Simulator("https://fleet.test", fake.secret, hosts=11, os_templates=templates, transport=fake.transport())
    shards = [
        Simulator("https://fleet.test", fake.secret, hosts=11, os_templates=templates, shard=(k, 3),
                  transport=fake.transport())
        for k in range(3)
    ]
    try:
        expected = sorted((h.index, h.host_identifier, h.template.name) for h in whole.hosts)
        got = sorted((h.index, h.host_identifier, h.template.name) for s in shards for h in s.hosts)
        assert got == expected
        assert [len(s.hosts) for s in shards] == [4, 4, 3]
    finally:
        for sim in (whole, *shards):
            await sim.aclose()


def test_a_shard_outside_its_count_is_refused(fake: FakeOsqueryServer) -> None:
    with pytest.raises(ValueError, match="shard 3 of 3"):
        Simulator("https://fleet.test", fake.secret, hosts=5, shard=(3, 3), transport=fake.transport())
    assert build_parser().parse_args(["--shard", "1/4"]).shard == (1, 4)
    for bad in ("4/4", "x/2", "2"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--shard", bad])
