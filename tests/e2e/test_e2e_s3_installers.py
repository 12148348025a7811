"""Installers in the S3-compatible store on the real `fleet serve`: `fleet installers put` with the
--s3-* flags uploads a file bigger than a part (a multipart upload) to moto's S3 server, and POST
/download_installer streams back exactly its bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from test_serve import log_in, set_up

from fleet_adapters.installers import installer_name
from fleet_adapters.s3 import S3Options, s3_client
from fleet_adapters.s3_installers import PART_SIZE
from fleet_core.model.installers import InstallerKey
from tests.e2e.fleet_process import run_fleet
from tests.s3_server import ACCESS_KEY_ID, REGION

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

SECRET = "e2e-s3-installer-secret"


def test_an_installer_put_to_s3_downloads_byte_for_byte(
        fleet: FleetCLI, tmp_path: Path, pg_dsn: str, redis_url: str, s3_endpoint: str) -> None:
    # moto takes any credentials: a distinctive secret key shows whether anything prints it.
    secret_key = "e2e-installers-secret-key-5d1e"
    options = S3Options(bucket="fleet-installers", prefix="fleet/", region=REGION, endpoint_url=s3_endpoint,
                        access_key_id=ACCESS_KEY_ID, secret_access_key=secret_key, force_path_style=True)
    s3_flags = ["--s3-bucket", options.bucket, "--s3-prefix", options.prefix, "--s3-region", REGION,
                "--s3-endpoint-url", s3_endpoint, "--s3-access-key-id", ACCESS_KEY_ID,
                "--s3-secret-access-key", secret_key, "--s3-force-s3-path-style"]

    async def make_bucket() -> None:
        async with s3_client(options) as s3:
            await s3.create_bucket(Bucket=options.bucket)

    anyio.run(make_bucket)
    data_dir = tmp_path / "data"
    installer = tmp_path / "fleet-osquery-desktop.pkg"
    installer.write_bytes(os.urandom(2 * PART_SIZE + 4321))
    expected_sha256 = hashlib.sha256(installer.read_bytes()).hexdigest()

    placed = run_fleet("installers", "put", "--data-dir", str(data_dir), "--enroll-secret", SECRET,
                       "--kind", "pkg", "--desktop", *s3_flags, str(installer))
    assert placed.returncode == 0, placed.stderr
    assert placed.stdout.strip() == (f"stored fleet-osquery-desktop.pkg ({installer.stat().st_size} bytes) "
                                     "in s3://fleet-installers/fleet/installers/")
    assert secret_key not in placed.stdout + placed.stderr
    assert not (data_dir / "installers").exists()

    async def objects() -> tuple[dict[str, int], list[object]]:
        async with s3_client(options) as s3:
            listed = await s3.list_objects_v2(Bucket=options.bucket)
            uploads = await s3.list_multipart_uploads(Bucket=options.bucket)
        return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}, uploads.get("Uploads", [])

    key = InstallerKey(enroll_secret=SECRET, kind="pkg", desktop=True)
    assert anyio.run(objects) == ({f"fleet/installers/{installer_name(key)}": installer.stat().st_size}, [])

    server = fleet.serve(data_dir, tls=False, extra=["--database-url", pg_dsn, "--redis-url", redis_url, *s3_flags])
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        token = log_in(client)
        head = client.head("/api/latest/fleet/download_installer/pkg",
                           params={"enroll_secret": SECRET, "desktop": "true"},
                           headers={"Authorization": f"Bearer {token}"})
        assert head.status_code == 200
        digest, received = hashlib.sha256(), 0
        with client.stream("POST", "/api/v1/fleet/download_installer/pkg",
                           data={"token": token, "enroll_secret": SECRET, "desktop": "true"}) as download:
            assert download.status_code == 200
            assert download.headers["content-length"] == str(installer.stat().st_size)
            assert download.headers["content-disposition"] == 'attachment; filename="fleet-osquery-desktop.pkg"'
            for chunk in download.iter_bytes():
                digest.update(chunk)
                received += len(chunk)
        assert (received, digest.hexdigest()) == (installer.stat().st_size, expected_sha256)
        absent = client.post("/api/v1/fleet/download_installer/pkg", data={"token": token, "enroll_secret": SECRET})
        assert absent.status_code == 400
    assert server.terminate() == 0
    assert secret_key not in server.output()


def test_installers_put_to_a_missing_bucket_fails_saying_why(tmp_path: Path, s3_endpoint: str) -> None:
    installer = tmp_path / "fleet-osquery.rpm"
    installer.write_bytes(b"rpm")
    failed = run_fleet("installers", "put", "--data-dir", str(tmp_path / "data"), "--enroll-secret", SECRET,
                       "--kind", "rpm", "--s3-bucket", "no-such-bucket", "--s3-region", REGION,
                       "--s3-endpoint-url", s3_endpoint, "--s3-access-key-id", ACCESS_KEY_ID,
                       "--s3-secret-access-key", "unused", "--s3-force-s3-path-style", str(installer))
    assert failed.returncode == 1
    assert "fleet: error: installer store unavailable (NoSuchBucket)" in failed.stderr
    assert not (tmp_path / "data" / "installers").exists()
