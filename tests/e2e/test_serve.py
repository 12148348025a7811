"""`fleet serve`, `fleet prepare db` and `fleet version`, run as a user runs them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from fleet_core.version import VERSION

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = pytest.mark.e2e

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct-horse-battery-9"


def set_up(client: httpx.Client, server_url: str) -> httpx.Response:
    return client.post("/api/v1/setup", json={
        "admin": {
            "admin": True,
            "email": ADMIN_EMAIL,
            "name": "Ada Admin",
            "password": ADMIN_PASSWORD,
            "password_confirmation": ADMIN_PASSWORD,
        },
        "org_info": {"org_name": "Example Org"},
        "server_url": server_url,
    })


def log_in(client: httpx.Client) -> str:
    response = client.post("/api/v1/fleet/login",
                           json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == ADMIN_EMAIL
    token: str = body["token"]
    assert token
    return token


def me(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/api/v1/fleet/me", headers={"Authorization": f"Bearer {token}"})


def test_https_server_sets_up_an_admin_stops_on_sigterm_and_keeps_it_across_a_restart(
    fleet: FleetCLI, data_dir: Path
) -> None:
    server = fleet.serve(data_dir)
    with server.client() as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        setup = set_up(client, server.base_url)
        assert setup.status_code == 200, setup.text
        assert setup.json()["admin"]["email"] == ADMIN_EMAIL
        assert setup.json()["admin"]["global_role"] == "admin"
        token = log_in(client)
        profile = me(client, token)
        assert profile.status_code == 200, profile.text
        assert profile.json()["user"]["email"] == ADMIN_EMAIL
    assert "no users yet: POST /api/v1/setup" in server.output()
    certificate = (data_dir / "tls" / "server.crt").read_bytes()

    assert server.terminate() == 0, server.output()
    assert fleet.processes_in(data_dir) == []

    again = fleet.serve(data_dir)
    with again.client() as client:
        token = log_in(client)
        assert me(client, token).json()["user"]["email"] == ADMIN_EMAIL
        assert set_up(client, again.base_url).status_code != 200
    assert "no users yet" not in again.output()
    assert (data_dir / "tls" / "server.crt").read_bytes() == certificate
    assert again.terminate() == 0, again.output()
    assert fleet.processes_in(data_dir) == []


def test_plain_http_with_two_workers_serves_both_apis_and_stops_cleanly(
    fleet: FleetCLI, data_dir: Path
) -> None:
    server = fleet.serve(data_dir, tls=False, extra=["--workers", "2"])
    assert server.base_url.startswith("http://")
    with server.client() as client:
        for _ in range(10):
            assert client.get("/healthz").status_code == 200
        # One port, two apps: each answers an unknown path in its own error shape (the
        # management API always with {"message", "errors"}, the osquery API never).
        management = client.get("/api/v1/fleet/no-such-endpoint")
        osquery = client.get("/api/osquery/no-such-endpoint")
        assert management.status_code == osquery.status_code == 404
        assert "errors" in management.json()
        assert "errors" not in osquery.json()
    assert not (data_dir / "tls").exists()
    assert server.terminate() == 0, server.output()
    assert fleet.processes_in(data_dir) == []


@pytest.mark.parametrize("args", [
    ["--no-such-option"],
    ["--workers", "zero"],
    ["--session-duration", "forever"],
    ["--server-address", "nowhere"],
    ["--server-cert", "/nonexistent/cert.pem", "--server-key", "/nonexistent/key.pem"],
])
def test_a_bad_option_exits_non_zero_with_one_line_on_stderr(
    fleet: FleetCLI, args: list[str], data_dir: Path
) -> None:
    result = fleet.run("serve", "--data-dir", str(data_dir), *args)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert args[0] in result.stderr
    assert not data_dir.exists()


def test_an_unreachable_database_exits_non_zero_with_one_line_and_leaves_nothing_running(
    fleet: FleetCLI, data_dir: Path,
) -> None:
    closed = fleet.free_port()
    result = fleet.run(
        "serve", "--data-dir", str(data_dir), "--no-server-tls",
        "--server-address", f"127.0.0.1:{fleet.free_port()}",
        "--database-url", f"postgresql://fleet:secret-pw@127.0.0.1:{closed}/fleet",
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "database" in lines[0]
    assert "secret-pw" not in result.stderr
    assert fleet.processes_in(data_dir) == []


def test_prepare_db_migrates_the_embedded_database_once_and_stops_it(
    fleet: FleetCLI, data_dir: Path
) -> None:
    first = fleet.run("prepare", "db", "--data-dir", str(data_dir))
    assert first.returncode == 0, first.stderr
    assert "applied 0001_" in first.stdout
    second = fleet.run("prepare", "db", "--data-dir", str(data_dir))
    assert second.returncode == 0, second.stderr
    assert "applied 0001_" not in second.stdout
    assert "up to date" in second.stdout
    assert fleet.processes_in(data_dir) == []


def test_version_prints_the_version(fleet: FleetCLI) -> None:
    result = fleet.run("version")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == f"fleet version {VERSION}"
