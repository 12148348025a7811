"""Done-when of file carving, on the real `fleet serve` with each carve store: a simulated host
asked by a live query to carve a file uploads it, the carve is listed with its name, sizes and
host, and its blocks read back through the API reassemble to the file's exact bytes."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from test_serve import log_in, set_up

from fleet_adapters.s3 import S3Options, s3_client
from fleet_osquery.sim import Simulator
from fleet_osquery.sim.carver import file_sha256
from tests.s3_server import ACCESS_KEY_ID, REGION

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

SECRET = "carving-secret"
DEADLINE = 60.0
MIB = 1024 * 1024


def carve_end_to_end(server_url: str, client: httpx.Client, auth: dict[str, str], path: str,
                     block_size: int) -> dict[str, Any]:
    """Run the live carve query against one simulated host, then download and check the carve."""

    async def scenario() -> tuple[str, int, str]:
        sim = Simulator(server_url, SECRET, hosts=1, os_templates="ubuntu_22.04", start_period=0)
        async with sim:
            [host] = sim.hosts
            assert await host.enroll()
            await host.fetch_config()  # carver_block_size comes with the configuration
            assert host.carver_block_size == block_size
            await host.check_in()
            started = client.post("/api/v1/fleet/queries/run", headers=auth, json={
                "query": f"SELECT * FROM carves WHERE carve = 1 AND path = '{path}';",  # noqa: S608 - osquery SQL
                "selected": {"hosts": [], "labels": [1], "teams": []}})
            assert started.status_code == 200, started.text
            deadline = time.monotonic() + DEADLINE
            while not host.pending_carves:
                assert time.monotonic() < deadline, "the host was never asked to carve"
                await host.check_in()
                await anyio.sleep(0.2)
            [job] = list(host.pending_carves)
            assert await host.run_carves() == 1
            return job.request_id, job.size, file_sha256(host.options.seed, host.host_identifier, path, job.size)

    request_id, size, expected = anyio.run(scenario)
    listed = client.get("/api/v1/fleet/carves", headers=auth)
    assert listed.status_code == 200, listed.text
    [carve] = [c for c in listed.json()["carves"] if c["request_id"] == request_id]
    count = -(-size // block_size)
    assert (carve["carve_size"], carve["block_size"], carve["block_count"], carve["max_block"]) == (
        size, block_size, count, count - 1)
    host = client.get(f"/api/v1/fleet/hosts/{carve['host_id']}", headers=auth).json()["host"]
    assert carve["name"].startswith(f"{host['hostname']}-") and carve["name"].endswith(f"-{request_id}")
    digest = hashlib.sha256()
    for block_id in range(count):
        response = client.get(f"/api/v1/fleet/carves/{carve['id']}/block/{block_id}", headers=auth)
        assert response.status_code == 200, response.text
        digest.update(base64.b64decode(response.json()["data"]))
    assert digest.hexdigest() == expected
    activities = client.get("/api/v1/fleet/activities", headers=auth).json()["activities"]
    assert any(a["type"] == "completed_file_carve" and a["details"]["carve_id"] == carve["id"] for a in activities)
    return dict(carve)


def ready(client: httpx.Client, server_url: str) -> dict[str, str]:
    assert set_up(client, server_url).status_code == 200
    auth = {"Authorization": f"Bearer {log_in(client)}"}
    assert client.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                       json={"spec": {"secrets": [{"secret": SECRET}]}}).status_code == 200
    return auth


def test_a_live_carve_lands_in_postgres_and_reads_back_exactly(fleet: FleetCLI, tmp_path: Path, pg_dsn: str,
                                                               redis_url: str) -> None:
    server = fleet.serve(tmp_path / "pg", tls=False, extra=["--database-url", pg_dsn, "--redis-url", redis_url])
    with server.client() as client:
        auth = ready(client, server.base_url)
        # The default 2 MiB blocks: two whole ones and a short last one.
        carve_end_to_end(server.base_url, client, auth, "/var/log/evidence-5MiB", 2 * MIB)
    assert server.terminate() == 0


def test_a_live_carve_lands_in_s3_as_one_object_and_reads_back_exactly(
        fleet: FleetCLI, tmp_path: Path, pg_dsn: str, redis_url: str, s3_endpoint: str) -> None:
    # moto takes any credentials: a distinctive secret shows whether the server ever prints it.
    secret_key = "e2e-carving-secret-key-7f3a9c"
    options = S3Options(bucket="fleet-carves", prefix="carves/", region=REGION, endpoint_url=s3_endpoint,
                        access_key_id=ACCESS_KEY_ID, secret_access_key=secret_key, force_path_style=True)

    async def make_bucket() -> None:
        async with s3_client(options) as s3:
            await s3.create_bucket(Bucket=options.bucket)

    anyio.run(make_bucket)
    server = fleet.serve(tmp_path / "s3", tls=False, extra=[
        "--database-url", pg_dsn, "--redis-url", redis_url, "--s3-bucket", options.bucket,
        "--s3-prefix", options.prefix, "--s3-region", REGION, "--s3-endpoint-url", s3_endpoint,
        "--s3-access-key-id", ACCESS_KEY_ID, "--s3-secret-access-key", secret_key,
        "--s3-force-s3-path-style", "--osquery-carver-block-size", str(5 * MIB)])
    with server.client() as client:
        auth = ready(client, server.base_url)
        carve = carve_end_to_end(server.base_url, client, auth, "/home/user/disk-11MiB", 5 * MIB)

    async def objects() -> dict[str, int]:
        async with s3_client(options) as s3:
            listed = await s3.list_objects_v2(Bucket=options.bucket)
        return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}

    # Parts of one multipart upload, completed into one object of the carve's size.
    assert anyio.run(objects) == {f"carves/{carve['session_id']}": 11 * MIB}
    assert server.terminate() == 0
    assert secret_key not in server.output()
