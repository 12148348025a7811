"""GET /debug/errors, /debug/db/{key} and /debug/pprof/{key}: global admins with a session token
only (other roles 403, no or a bad token 401), served by the management app and never by the
osquery app. /debug/errors shows Fleet Desktop's reports and the server's own recent errors
(here a real 500 from the API) and empties both with flush=true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import structlog
from litestar.testing import AsyncTestClient
from structlog.testing import LogCapture

from fleet_core.ports.diagnostics import DATABASE_REPORTS
from fleet_core.services.debug import MAX_PROFILE_SECONDS, SERVER_ERRORS, record_server_errors
from fleet_osquery.app import create_app as create_osquery_app
from tests.http.support import Cast, Fleet, assert_error

pytestmark = pytest.mark.anyio

DEADLINE_SECONDS = 10.0
ENDPOINTS = ["/debug/errors", "/debug/errors?flush=true", "/debug/db/locks", "/debug/db/nonsense",
             "/debug/migrations", "/debug/dbstats",
             "/debug/pprof/goroutine", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1"]


@attrs.define
class DeviceReports:
    """A plain ErrorReportStore standing in for the device engineer's Redis-backed one."""

    reports: list[Mapping[str, Any]] = attrs.field(factory=list)

    async def add(self, report: Mapping[str, Any]) -> None:
        self.reports.append(dict(report))

    async def list(self) -> list[Mapping[str, Any]]:
        return list(self.reports)

    async def flush(self) -> None:
        self.reports.clear()


class BrokenDatabase:
    async def report(self, key: str) -> list[dict[str, Any]]:
        raise RuntimeError(f"diagnostic {key} exploded")


@pytest.fixture
def server_log() -> Iterator[LogCapture]:
    """The logging chain the fleet command installs, as far as the error ring goes."""
    saved = structlog.get_config()
    capture = LogCapture()
    structlog.configure(processors=[structlog.stdlib.add_log_level, record_server_errors(), capture])
    SERVER_ERRORS.flush()
    try:
        yield capture
    finally:
        SERVER_ERRORS.flush()
        structlog.configure(**saved)


async def get(fleet: Fleet, path: str, headers: dict[str, str] | None = None) -> Any:
    return await fleet.client.get(path, headers=fleet.as_admin if headers is None else headers)


async def test_errors_show_device_reports_and_the_servers_own_then_flush(fleet: Fleet, server_log: LogCapture) -> None:
    debug = fleet.kit.services.debug
    debug.device_errors = DeviceReports()
    await debug.device_errors.add({"error_source": "fleet-desktop", "error_message": "tray crashed"})
    debug.database = BrokenDatabase()

    crash = await get(fleet, "/debug/db/locks")
    assert crash.status_code == 500
    assert "exploded" not in crash.text
    request_id = crash.json()["uuid"]

    response = await get(fleet, "/debug/errors")
    assert response.status_code == 200, response.text
    entries = response.json()
    assert entries[0] == {"source": "device",
                          "error": {"error_source": "fleet-desktop", "error_message": "tray crashed"}}
    [server] = [e["error"] for e in entries if e["source"] == "server" and e["error"].get("uuid") == request_id]
    assert server["event"] == "unhandled_error"
    assert server["error"] == "RuntimeError: diagnostic locks exploded"
    assert server["traceback"].startswith("Traceback (most recent call last)")
    assert server["traceback"].rstrip().endswith("RuntimeError: diagnostic locks exploded")
    # Reading does not empty them; flush=true returns them and then does.
    assert (await get(fleet, "/debug/errors")).json() == entries
    assert (await get(fleet, "/debug/errors?flush=true")).json() == entries
    assert (await get(fleet, "/debug/errors")).json() == []


async def test_a_failed_background_job_is_among_the_server_errors(fleet: Fleet, server_log: LogCapture) -> None:
    async def failing() -> None:
        raise ValueError("job went wrong")

    # A triggered run logs a failed job with its exception, as a periodic one does.
    fleet.kit.services.schedules.jobs = {**fleet.kit.services.schedules.jobs, "automations": (failing,)}
    assert (await fleet.client.post("/api/latest/fleet/trigger", params={"name": "automations"},
                                    headers=fleet.as_admin)).status_code == 200
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        entries = (await get(fleet, "/debug/errors")).json()
        failed = [e["error"] for e in entries if e["error"].get("event") == "triggered_job_failed"]
        if failed:
            break
        assert time.monotonic() < deadline, entries
        await asyncio.sleep(0.01)
    assert failed[0]["error"] == "ValueError: job went wrong"
    assert failed[0]["schedule"] == "automations"


async def test_the_server_error_ring_is_bounded(server_log: LogCapture) -> None:
    log = structlog.get_logger("test")
    for i in range(SERVER_ERRORS.capacity + 5):
        log.error("numbered", n=i)
    kept = SERVER_ERRORS.list()
    assert len(kept) == SERVER_ERRORS.capacity
    assert [e["n"] for e in kept[:2]] == [5, 6]
    # Info and warnings about client errors are not server errors.
    log.info("fine")
    log.warning("request_failed", status=404)
    assert len(SERVER_ERRORS.list()) == SERVER_ERRORS.capacity and SERVER_ERRORS.list()[-1]["n"] == kept[-1]["n"]


@pytest.mark.parametrize("key", DATABASE_REPORTS)
async def test_every_database_report_is_a_list_of_rows(fleet: Fleet, key: str) -> None:
    response = await get(fleet, f"/debug/db/{key}")
    assert response.status_code == 200, response.text
    rows = response.json()
    assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
    if key == "table-sizes":
        assert {"table_name": "users", "estimated_rows": 1} in rows


async def test_fleets_migrations_and_dbstats_routes_are_the_database_reports(fleet: Fleet) -> None:
    for route, key in (("/debug/migrations", "migrations"), ("/debug/dbstats", "dbstats")):
        response = await get(fleet, route)
        assert response.status_code == 200, response.text
        assert response.json() == (await get(fleet, f"/debug/db/{key}")).json()


@pytest.mark.parametrize("key", ["nonsense", "LOCKS", "locks.txt"])
async def test_an_unknown_database_report_is_not_found(fleet: Fleet, key: str) -> None:
    body = assert_error(await get(fleet, f"/debug/db/{key}"), 404)
    assert "process-list" in body["errors"][0]["reason"]


async def test_goroutine_dumps_every_task_and_thread(fleet: Fleet) -> None:
    response = await get(fleet, "/debug/pprof/goroutine")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert "asyncio tasks:" in response.text and "thread 'MainThread'" in response.text
    # The background jobs are tasks of the serving loop.
    assert "task 'webhooks'" in response.text


async def test_heap_and_cmdline(fleet: Fleet) -> None:
    heap = await get(fleet, "/debug/pprof/heap")
    assert heap.status_code == 200 and "gc counts per generation" in heap.text and "most numerous types" in heap.text
    cmdline = await get(fleet, "/debug/pprof/cmdline")
    assert cmdline.status_code == 200 and cmdline.text


async def test_profile_samples_the_event_loop(fleet: Fleet) -> None:
    response = await get(fleet, "/debug/pprof/profile?seconds=0.2")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert "Duration:" in response.text and "Samples:" in response.text
    html = await get(fleet, "/debug/pprof/profile?seconds=0.1&format=html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(("query", "field"), [
    ("seconds=0", "seconds"), ("seconds=-1", "seconds"), (f"seconds={MAX_PROFILE_SECONDS + 1}", "seconds"),
    ("seconds=0.1&format=pdf", "format"), ("seconds=nan", "seconds"),
])
async def test_bad_profile_parameters_are_refused(fleet: Fleet, query: str, field: str) -> None:
    response = await get(fleet, f"/debug/pprof/profile?{query}")
    assert response.status_code == 400, response.text


async def test_one_profile_at_a_time(fleet: Fleet) -> None:
    process = fleet.kit.services.debug.process
    assert process is not None

    def first_profile() -> Any:
        return asyncio.run(get(fleet, "/debug/pprof/profile?seconds=2"))

    first = asyncio.get_running_loop().run_in_executor(None, first_profile)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not process._profiling.locked():  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the first profile never started"
        await asyncio.sleep(0.01)
    assert_error(await get(fleet, "/debug/pprof/profile?seconds=0.1"), 409)
    assert (await first).status_code == 200


@pytest.mark.parametrize("key", ["block", "mutex", "trace", "symbol", "nonsense"])
async def test_an_unknown_profile_is_not_found(fleet: Fleet, key: str) -> None:
    body = assert_error(await get(fleet, f"/debug/pprof/{key}"), 404)
    assert "goroutine" in body["errors"][0]["reason"]


async def test_only_global_admins(cast: Cast) -> None:
    for role in ("maintainer", "observer", "team_admin", "team_maintainer", "team_observer"):
        for path in ENDPOINTS:
            assert_error(await get(cast.fleet, path, cast[role].headers), 403)
    for path in ENDPOINTS:
        assert_error(await cast.fleet.client.get(path), 401)
        assert_error(await get(cast.fleet, path, {"Authorization": "Bearer not-a-session"}), 401)


async def test_not_served_by_the_osquery_app(fleet: Fleet) -> None:
    @asynccontextmanager
    async def services() -> Any:
        yield fleet.kit.services

    async with AsyncTestClient(create_osquery_app(services)) as osquery:
        for path in ENDPOINTS:
            response = await osquery.get(path, headers=fleet.as_admin)
            assert response.status_code in (404, 405), (path, response.status_code)
