"""Hostile agent bodies against the real `fleet serve` (embedded Postgres and Redis): each is
answered with a 4xx osquery error quickly, a concurrent /healthz keeps answering meanwhile,
nothing reaches Postgres that it would refuse, and a gzip bomb does not grow the process."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from tests.e2e.fleet_process import FleetServer
from tests.e2e.test_serve import log_in, set_up
from tests.osquery.test_osquery_api import MACOS_DETAILS

pytestmark = pytest.mark.e2e

SECRET = "attack-drill-secret"
# Generous bounds: a served request takes milliseconds; the blocked loop this guards against
# took 8 s to answer /healthz during a bomb.
RESPONSIVE = 1.0
QUICK = 5.0
MIB = 1024 * 1024


class Fleet:
    def __init__(self, server: FleetServer, client: httpx.Client, auth: dict[str, str]) -> None:
        self.server = server
        self.client = client
        self.auth = auth

    def enroll(self, identifier: str) -> str:
        response = self.client.post("/api/osquery/enroll", json={
            "enroll_secret": SECRET, "host_identifier": identifier, "host_details": MACOS_DETAILS})
        assert response.status_code == 200, response.text
        return str(response.json()["node_key"])

    def memory(self) -> int:
        """Resident bytes of the server's own processes (not the embedded Postgres and Redis)."""
        root = psutil.Process(self.server.process.pid)  # type: ignore[union-attr]
        processes = [root, *(child for child in root.children(recursive=True)
                             if "python" in child.name() or "fleet" in child.name())]
        return sum(process.memory_info().rss for process in processes)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("attacks")
    server = FleetServer(root / "fleet-data", root / "logs", tls=False)
    try:
        server.start()
        with server.client() as client:
            assert set_up(client, server.base_url).status_code == 200
            auth = {"Authorization": f"Bearer {log_in(client)}"}
            assert client.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                               json={"spec": {"secrets": [{"secret": SECRET}]}}).status_code == 200
            yield Fleet(server, client, auth)
    finally:
        server.kill_if_running()


def gzip_bomb() -> bytes:
    """About 1 MB of gzip inflating to 1 GiB of zeros (16 concatenated 64 MiB members)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    member = b"".join([*(compressor.compress(b"\0" * MIB) for _ in range(64)), compressor.flush()])
    return member * 16


def while_healthz(fleet: Fleet, attack: Any) -> tuple[httpx.Response, float, list[float]]:
    """Send ``attack`` while another connection keeps asking /healthz; returns the attack's
    response, its duration and every /healthz latency measured meanwhile."""
    latencies: list[float] = []
    connected = threading.Event()
    done = threading.Event()

    def poll() -> None:
        with fleet.server.client() as client:
            while not done.is_set():
                started = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                if connected.is_set():
                    latencies.append(time.perf_counter() - started)
                connected.set()

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        # Measure from a connected client, so every latency is the server's, not a handshake's.
        assert connected.wait(QUICK)
        started = time.perf_counter()
        with fleet.server.client() as client:
            response = attack(client)
        took = time.perf_counter() - started
    finally:
        done.set()
        poller.join()
    return response, took, latencies


def refused(response: httpx.Response) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert isinstance(error, str) and error
    return error


@pytest.mark.parametrize("path", ["/api/osquery/log", "/api/osquery/distributed/write"])
def test_a_gzip_bomb_is_refused_quickly_without_stalling_or_growing_the_server(fleet: Fleet, path: str) -> None:
    bomb = gzip_bomb()
    before = fleet.memory()
    response, took, latencies = while_healthz(fleet, lambda client: client.post(
        path, content=bomb, headers={"content-encoding": "gzip", "content-type": "application/json"}))
    assert "too large" in refused(response)
    assert took < QUICK
    assert latencies and max(latencies) < RESPONSIVE
    # The cap is 64 MiB of inflated bytes; without it the process grew by a whole GiB.
    assert fleet.memory() - before < 512 * MIB


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(("path", "content"), [
    ("/api/osquery/enroll", b'{"enroll_secret":"' + SECRET.encode() + b'","host_identifier":"\xff\xfe"}'),
    ("/api/osquery/log", b'{"node_key":"\xc3\x28","log_type":"status","data":[]}'),
    ("/api/osquery/distributed/write", b'{"node_key":"k","queries":{"q":' + DEEP + b"}}"),
    ("/api/osquery/log", b'{"node_key":"k","log_type":"status","data":[' + DEEP + b"]}"),
    ("/api/osquery/enroll", b'{"enroll_secret":"s","host_details":' + DEEP + b"}"),
])
def test_undecodable_bodies_are_refused_with_400(fleet: Fleet, path: str, content: bytes) -> None:
    response, took, latencies = while_healthz(fleet, lambda client: client.post(
        path, content=content, headers={"content-type": "application/json"}))
    assert response.status_code == 400
    assert "json decoder error" in refused(response)
    assert took < QUICK and latencies and max(latencies) < RESPONSIVE


@pytest.mark.parametrize(("identifier", "details"), [
    ("nul\x00host", MACOS_DETAILS),
    ("nul-details", {**MACOS_DETAILS, "system_info": {**MACOS_DETAILS["system_info"], "hostname": "a\x00b"}}),
    ("x" * 600_000, MACOS_DETAILS),
])
def test_enrollment_that_postgres_could_not_store_is_refused_with_400(fleet: Fleet, identifier: str,
                                                                       details: Any) -> None:
    response = fleet.client.post("/api/osquery/enroll", json={
        "enroll_secret": SECRET, "host_identifier": identifier, "host_details": details})
    assert response.status_code == 400
    refused(response)


def test_a_detail_row_with_a_nul_is_refused_and_a_5_mb_one_is_stored_cut(fleet: Fleet) -> None:
    node_key = fleet.enroll("big-row-host")
    row = {**MACOS_DETAILS["system_info"], "hostname": "nul\x00name"}
    response = fleet.client.post("/api/osquery/distributed/write", json={
        "node_key": node_key, "queries": {"fleet_detail_query_system_info": [row]},
        "statuses": {"fleet_detail_query_system_info": 0}})
    assert response.status_code == 400
    assert "NUL" in refused(response)

    # Postgres refused such a value in the hostname index with a 503, which osqueryd retries forever.
    row = {**MACOS_DETAILS["system_info"], "hostname": "h" * (5 * MIB)}
    response, took, latencies = while_healthz(fleet, lambda client: client.post(
        "/api/osquery/distributed/write", json={
            "node_key": node_key, "queries": {"fleet_detail_query_system_info": [row]},
            "statuses": {"fleet_detail_query_system_info": 0}}))
    assert response.status_code == 200, response.text
    assert "error" not in response.json()
    assert took < QUICK and latencies and max(latencies) < RESPONSIVE
    host = fleet.client.get("/api/v1/fleet/hosts/identifier/big-row-host", headers=fleet.auth)
    assert host.status_code == 200, host.text
    assert host.json()["host"]["hostname"] == "h" * 255


def test_carve_ids_postgres_could_not_store_are_refused_with_400(fleet: Fleet) -> None:
    node_key = fleet.enroll("carving-host")
    begin = fleet.client.post("/api/osquery/carve/begin", json={
        "node_key": node_key, "block_count": 1, "block_size": 10, "carve_size": 10,
        "carve_id": "c\x00", "request_id": "fleet_distributed_query_1"})
    assert begin.status_code == 400
    assert "NUL" in refused(begin)
    block = fleet.client.post("/api/osquery/carve/block", json={
        "session_id": "s\x00", "request_id": "r", "block_id": 0, "data": ""})
    assert block.status_code == 400
    refused(block)


@pytest.mark.parametrize("sizes", [
    {"block_count": 2**62, "block_size": 2**62, "carve_size": 2**63 - 1},
    {"block_count": -1, "block_size": -5, "carve_size": -10},
    {"block_count": 10**30, "block_size": 1, "carve_size": 1},
])
def test_carve_sizes_out_of_any_range_are_refused_not_a_500(fleet: Fleet, sizes: dict[str, int]) -> None:
    node_key = fleet.enroll("carving-host")
    begin = fleet.client.post("/api/osquery/carve/begin", json={
        "node_key": node_key, "carve_id": "c", "request_id": "fleet_distributed_query_1", **sizes})
    assert begin.status_code == 400, begin.text
    refused(begin)
