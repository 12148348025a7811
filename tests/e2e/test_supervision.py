"""The embedded Postgres and Redis under `fleet serve`: killed, frozen, and outlived.

Each test does to the real `fleet serve` what an operator's bad day does to it, then polls, with a
deadline, for what must follow: the dead server restarted and reaped, the API healthy again, logins
working throughout, nothing left running once `fleet serve` is gone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import httpx
import psutil
import pytest

if TYPE_CHECKING:
    from fleet_process import FleetCLI, FleetServer

pytestmark = pytest.mark.e2e

T = TypeVar("T")

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct-horse-battery-9"
# The bar: healthy again within 10 s of the restart, and a restart itself is quick.
HEAL_DEADLINE = 20.0
GONE_DEADLINE = 15.0
# SIGTERM must stop the server in under 2 s; asserted generously so a loaded machine cannot flake it.
STOP_BOUND = 5.0


def poll(what: str, probe: Callable[[], T | None], deadline: float) -> T:
    """probe() until it returns something other than None, or fail after ``deadline`` seconds."""
    ends = time.monotonic() + deadline
    last: T | None = None
    while time.monotonic() < ends:
        last = probe()
        if last is not None:
            return last
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {deadline}s")


def healthy(client: httpx.Client) -> bool | None:
    try:
        return True if client.get("/healthz").status_code == 200 else None
    except httpx.TransportError:
        return None


def set_up_admin(client: httpx.Client, server_url: str) -> None:
    response = client.post("/api/v1/setup", json={
        "admin": {"admin": True, "email": ADMIN_EMAIL, "name": "Ada Admin",
                  "password": ADMIN_PASSWORD, "password_confirmation": ADMIN_PASSWORD},
        "org_info": {"org_name": "Example Org"},
        "server_url": server_url,
    })
    assert response.status_code == 200, response.text


def log_in(client: httpx.Client) -> httpx.Response:
    return client.post("/api/v1/fleet/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})


def redis_server(server: FleetServer) -> psutil.Process:
    assert server.process is not None
    found = [child for child in psutil.Process(server.process.pid).children()
             if child.name() == "redis-server"]
    assert len(found) == 1, found
    return found[0]


def postmaster(data_dir: Path) -> psutil.Process:
    return psutil.Process(int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0]))


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    root = postmaster(data_dir)
    return [root, *root.children()]


def gone(process: psutil.Process) -> bool:
    """Ended; a zombie has ended too (reaping an orphan is the init process's business)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def in_flight(server: FleetServer) -> bool | None:
    """True once the server holds an established connection from a client."""
    assert server.process is not None
    connections = psutil.Process(server.process.pid).net_connections(kind="tcp")
    established = [c for c in connections if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == server.port]
    return True if established else None


@contextlib.contextmanager
def frozen(processes: list[psutil.Process]) -> Iterator[None]:
    """SIGSTOP the processes for the block; SIGCONT whichever are still there afterwards."""
    for process in processes:
        process.suspend()
    try:
        yield
    finally:
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.resume()


def serve_set_up(fleet: FleetCLI, data_dir: Path) -> FleetServer:
    started = fleet.serve(data_dir, tls=False)
    with started.client() as client:
        set_up_admin(client, started.base_url)
    return started


@pytest.fixture
def server(fleet: FleetCLI, data_dir: Path) -> FleetServer:
    return serve_set_up(fleet, data_dir)


def test_a_killed_redis_is_reaped_and_restarted_and_the_server_heals(server: FleetServer) -> None:
    logged = server.output().count("embedded Redis died; restarting it")
    killed = redis_server(server)
    killed.kill()

    def restarted() -> psutil.Process | None:
        try:
            replacement = redis_server(server)
        except AssertionError:
            return None
        return replacement if replacement.pid != killed.pid else None

    replacement = poll("a new redis-server", restarted, HEAL_DEADLINE)
    with server.client() as client:
        poll("healthy after the Redis restart", lambda: healthy(client), HEAL_DEADLINE)
        assert log_in(client).status_code == 200
    # Reaped by its parent, not left as a zombie.
    assert not psutil.pid_exists(killed.pid) or killed.pid == replacement.pid
    assert server.output().count("embedded Redis died; restarting it") == logged + 1


def test_logins_work_while_redis_is_frozen_and_everything_recovers_after(server: FleetServer) -> None:
    # A frozen Redis is not dead, so nothing restarts it: the server has to cope with it hanging.
    with server.client() as client, frozen([redis_server(server)]):
        assert client.get("/healthz").status_code == 503
        for _ in range(3):
            response = log_in(client)
            assert response.status_code == 200, response.text
    with server.client() as client:
        poll("healthy once Redis answers again", lambda: healthy(client), HEAL_DEADLINE)
        assert log_in(client).status_code == 200
    assert "rate limiter falls back to this process's memory" in server.output()


def test_a_killed_postgres_is_restarted_and_the_server_heals(server: FleetServer, data_dir: Path) -> None:
    logged = server.output().count("embedded Postgres died; restarting it")
    old = postmaster(data_dir)
    for process in postgres_processes(data_dir):
        process.kill()

    def restarted() -> psutil.Process | None:
        try:
            current = postmaster(data_dir)
        except (OSError, ValueError, psutil.Error):
            return None
        return current if current.pid != old.pid and current.is_running() else None

    poll("a new postmaster", restarted, HEAL_DEADLINE)
    with server.client() as client:
        poll("healthy after the Postgres restart", lambda: healthy(client), HEAL_DEADLINE)
        # A login writes its session: the database serves writes again, not just a ping.
        assert log_in(client).status_code == 200
    assert server.output().count("embedded Postgres died; restarting it") >= logged + 1


def test_kill_9_of_fleet_serve_with_workers_leaves_no_process_behind(fleet: FleetCLI, data_dir: Path) -> None:
    server = fleet.serve(data_dir, tls=False, extra=["--workers", "2"])
    assert server.process is not None
    everything = psutil.Process(server.process.pid).children(recursive=True) + fleet.processes_in(data_dir)
    assert any(p.name() == "redis-server" for p in everything)
    assert any(p.name() == "postgres" for p in everything)

    server.process.kill()
    server.process.wait()

    def all_gone() -> bool | None:
        return True if all(gone(p) for p in everything) and not fleet.processes_in(data_dir) else None

    poll("every process of the killed server gone", all_gone, GONE_DEADLINE)


@pytest.mark.parametrize("fault", ["killed", "frozen"])
def test_sigterm_stops_the_server_promptly_with_postgres_down(
    fleet: FleetCLI, server: FleetServer, data_dir: Path, fault: str
) -> None:
    assert server.process is not None
    victims = postgres_processes(data_dir)
    statuses: list[int] = []

    def hung_request() -> None:
        # A request stuck on the database while the stop comes in.
        with server.client() as client, contextlib.suppress(httpx.TransportError):
            statuses.append(log_in(client).status_code)

    with frozen(victims) if fault == "frozen" else contextlib.nullcontext():
        if fault == "killed":
            for process in victims:
                process.kill()
        request = threading.Thread(target=hung_request)
        request.start()
        # Accepted, so the stop has a request in flight to deal with; it cannot finish, since every
        # login reads the database first.
        poll("the request accepted by the server", lambda: in_flight(server), HEAL_DEADLINE)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(30)
        took = time.monotonic() - started
        request.join(30)
    print(f"SIGTERM with Postgres {fault}: stopped in {took:.2f}s")
    assert code == 0, server.output()
    assert took < STOP_BOUND, server.output()
    assert 200 not in statuses

    def nothing_left() -> bool | None:
        return True if all(gone(p) for p in victims) and not fleet.processes_in(data_dir) else None

    poll("no process left", nothing_left, GONE_DEADLINE)
