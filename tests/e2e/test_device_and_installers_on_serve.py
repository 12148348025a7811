"""Fleet Desktop's token lifecycle and the installer store on the real `fleet serve`: Postgres
holds the tokens, Redis the agent error reports and the rate limits, the data dir the installers
that `fleet installers put` placed there."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import redis
from test_serve import log_in, set_up

from tests.e2e.fleet_process import run_fleet

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = pytest.mark.e2e

SECRET = "e2e-desktop-secret"
EXPIRY_DEADLINE = 30.0


def enroll(client: httpx.Client) -> str:
    response = client.post("/api/v1/osquery/enroll", json={
        "enroll_secret": SECRET, "host_identifier": "desk-1",
        "host_details": {"system_info": {"hostname": "desk.local", "uuid": "D-1"}}})
    assert response.status_code == 200, response.text
    return str(response.json()["node_key"])


def test_tokens_error_reports_and_installers_on_the_real_server(fleet: FleetCLI, data_dir: Path) -> None:
    installer = data_dir.parent / "fleet-osquery.deb"
    installer.write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    placed = run_fleet("installers", "put", "--data-dir", str(data_dir), "--enroll-secret", SECRET,
                       "--kind", "deb", str(installer))
    assert placed.returncode == 0, placed.stderr
    assert "stored fleet-osquery.deb (2097155 bytes)" in placed.stdout
    assert SECRET not in "".join(str(p) for p in (data_dir / "installers").rglob("*"))

    server = fleet.serve(data_dir, tls=False, extra=["--device-token-ttl", "5s"])
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        token = log_in(client)
        auth = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                           json={"spec": {"secrets": [{"secret": SECRET}]}}).status_code == 200
        node_key = enroll(client)

        # The installer that the command placed, whole, to a global admin.
        head = client.head("/api/latest/fleet/download_installer/deb", params={"enroll_secret": SECRET},
                           headers=auth)
        assert head.status_code == 200
        download = client.post("/api/v1/fleet/download_installer/deb",
                               data={"token": token, "enroll_secret": SECRET})
        assert download.status_code == 200
        assert download.content == installer.read_bytes()
        assert download.headers["content-length"] == str(installer.stat().st_size)
        absent = client.post("/api/v1/fleet/download_installer/rpm", data={"token": token, "enroll_secret": SECRET})
        assert absent.status_code == 400

        # The host's token through its node key; refreshing keeps it; it expires after the TTL.
        issued = client.post("/api/v1/osquery/device_token", json={"node_key": node_key}).json()
        device = issued["device_auth_token"]
        assert client.get(f"/api/v1/fleet/device/{device}/desktop").json()["failing_policies_count"] == 0
        refreshed = client.post("/api/v1/osquery/device_token",
                                json={"node_key": node_key, "device_auth_token": device}).json()
        assert refreshed["device_auth_token"] == device

        report = client.post(f"/api/v1/fleet/device/{device}/debug/errors",
                             json={"error_source": "orbit", "error_message": "e2e"})
        assert report.status_code == 500
        with redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock")) as r:
            kept = r.lrange("fleet:error_reports", 0, -1)
        assert len(kept) == 1 and b'"error_message":"e2e"' in kept[0] and device.encode() not in kept[0]

        deadline = time.monotonic() + EXPIRY_DEADLINE
        while client.get(f"/api/v1/fleet/device/{device}/api_features").status_code == 200:
            assert time.monotonic() < deadline, "the device token never expired"
            time.sleep(0.2)
        expired = client.get(f"/api/v1/fleet/device/{device}/policies")
        assert expired.status_code == 401
        assert expired.json()["errors"] == [{"name": "base", "reason": "Authentication required"}]
        # The host, with its node key, revives the expired token it still holds...
        renewed = client.post("/api/v1/osquery/device_token",
                              json={"node_key": node_key, "device_auth_token": device}).json()
        assert renewed["device_auth_token"] == device
        assert client.get(f"/api/v1/fleet/device/{device}/policies").status_code == 200
        # ...or, without it, gets a new one, which retires the old.
        fresh = client.post("/api/v1/osquery/device_token", json={"node_key": node_key}).json()
        assert fresh["device_auth_token"] != device
        assert client.get(f"/api/v1/fleet/device/{fresh['device_auth_token']}/policies").status_code == 200
        assert client.get(f"/api/v1/fleet/device/{device}/policies").status_code == 401
    assert server.terminate() == 0


def test_installers_put_refuses_what_it_cannot_store(data_dir: Path, tmp_path: Path) -> None:
    installer = tmp_path / "fleet-osquery.pkg"
    installer.write_bytes(b"pkg")
    no_secret = run_fleet("installers", "put", "--data-dir", str(data_dir), "--kind", "pkg", str(installer))
    assert no_secret.returncode == 2
    assert "--enroll-secret (or FLEET_INSTALLER_ENROLL_SECRET) is required" in no_secret.stderr
    missing = run_fleet("installers", "put", "--data-dir", str(data_dir), "--enroll-secret", SECRET,
                        "--kind", "pkg", str(tmp_path / "absent.pkg"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    bad_kind = run_fleet("installers", "put", "--data-dir", str(data_dir), "--enroll-secret", SECRET,
                         "--kind", "exe", str(installer))
    assert bad_kind.returncode == 2 and "invalid choice: 'exe'" in bad_kind.stderr
    assert not (data_dir / "installers").exists()
