"""The debug endpoints on a real `fleet serve` over Postgres: the migration ledger and the other
database reports, the command line without the database URL, the task dump with the background
jobs, and a session token required."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_serve import log_in, set_up

from fleet_adapters.postgres.migrate import load_migrations
from fleet_core.ports.diagnostics import DATABASE_REPORTS

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def test_debug_endpoints_on_a_real_server(fleet: FleetCLI, tmp_path: Path, pg_dsn: str, redis_url: str) -> None:
    server = fleet.serve(tmp_path / "a", tls=False, extra=["--database-url", pg_dsn, "--redis-url", redis_url])
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        auth = {"Authorization": f"Bearer {log_in(client)}"}
        assert client.get("/debug/db/locks").status_code == 401

        migrations = client.get("/debug/db/migrations", headers=auth)
        assert migrations.status_code == 200, migrations.text
        assert [(m["version"], m["applied"]) for m in migrations.json()] == [
            (m.version, True) for m in load_migrations()]
        assert client.get("/debug/migrations", headers=auth).json() == migrations.json()
        [pool] = client.get("/debug/dbstats", headers=auth).json()
        assert pool["pool_size"] >= 1
        for key in DATABASE_REPORTS:
            assert client.get(f"/debug/db/{key}", headers=auth).status_code == 200, key

        cmdline = client.get("/debug/pprof/cmdline", headers=auth).text.split("\x00")
        assert "serve" in cmdline
        assert cmdline[cmdline.index("--database-url") + 1] == "[redacted]"
        assert pg_dsn not in "\x00".join(cmdline)

        tasks = client.get("/debug/pprof/goroutine", headers=auth).text
        assert "task 'host-expiry'" in tasks and "task 'seen-flush'" in tasks

        assert client.get("/debug/errors?flush=true", headers=auth).status_code == 200
    assert server.terminate() == 0
