"""POST /trigger across two `fleet serve` processes on one Postgres: while a run of a schedule is in
progress on one process, a trigger on either process is refused with 409, and the schedule can be
triggered again once the run is over. The run is held by the test: it locks a table the run's
campaign cleanup writes, so the run waits on Postgres until the test lets go."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest
from test_serve import log_in, set_up

from fleet_adapters.postgres.schedule_lock import TRY_LOCK, UNLOCK

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

DEADLINE_SECONDS = 30.0
CLEANUPS = {"name": "cleanups_then_aggregation"}


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def conflict(response: httpx.Response) -> bool:
    if response.status_code != 409:
        return False
    body = response.json()
    assert body["message"] == "Conflict", body
    assert "in progress" in body["errors"][0]["reason"], body
    return True


def test_a_run_on_one_process_refuses_triggers_on_both(
    fleet: FleetCLI, tmp_path: Path, pg_dsn: str, redis_url: str,
) -> None:
    shared = ["--database-url", pg_dsn, "--redis-url", redis_url]
    first = fleet.serve(tmp_path / "a", tls=False, extra=shared)
    second = fleet.serve(tmp_path / "b", tls=False, extra=shared)
    with first.client() as a, second.client() as b, psycopg.connect(pg_dsn, autocommit=True) as db:
        assert set_up(a, first.base_url).status_code == 200
        auth = {"Authorization": f"Bearer {log_in(a)}"}

        def trigger(client: httpx.Client, prefix: str = "/api/latest") -> httpx.Response:
            return client.post(f"{prefix}/fleet/trigger", params=CLEANUPS, headers=auth)

        def waiting_on_a_lock() -> bool:
            row = db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                             " AND wait_event_type = 'Lock'").fetchone()
            return row is not None and row[0] > 0

        # A run on A that cannot finish: its campaign cleanup waits for the table the test holds.
        with psycopg.connect(pg_dsn) as holder:
            holder.execute("LOCK TABLE distributed_query_campaigns IN ACCESS EXCLUSIVE MODE")
            response = trigger(a)
            assert response.status_code == 200, response.text
            assert response.json() == {}
            until(waiting_on_a_lock, "the triggered run never reached the campaign cleanup")
            # Refused on the other process, and on the one running it, on both API versions.
            assert conflict(trigger(b))
            assert conflict(trigger(b, "/api/v1"))
            assert conflict(trigger(a))
            # Another schedule is not held by this one.
            assert b.post("/api/latest/fleet/trigger", params={"name": "automations"},
                          headers=auth).status_code == 200
            holder.rollback()
        # The run finishes; then B may start one of its own.
        until(lambda: trigger(b).status_code == 200, "the schedule never became free again")

        # A run held by any session of the database (here the test's own) refuses both processes.
        until(lambda: bool(db.execute(TRY_LOCK, CLEANUPS).fetchone() == (True,)),
              "B's run never released the schedule")
        assert conflict(trigger(a))
        assert conflict(trigger(b))
        db.execute(UNLOCK, CLEANUPS)
        until(lambda: trigger(a).status_code == 200, "the schedule never became free again")
    assert first.terminate() == 0
    assert second.terminate() == 0
