"""Running the real `fleet` command as a subprocess, and watching what it leaves behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psutil
import pytest

FLEET = Path(sys.executable).with_name("fleet")
START_DEADLINE = 60.0
STOP_DEADLINE = 30.0


def fleet_command(*args: str) -> list[str]:
    if FLEET.exists():
        return [str(FLEET), *args]
    return [sys.executable, "-m", "fleet_adapters.serve.cli", *args]


def clean_env() -> dict[str, str]:
    """The test runner's environment without any FLEET_* setting that could leak into the server."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}


def run_fleet(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        fleet_command(*args), capture_output=True, text=True, timeout=timeout, env=clean_env(),
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_in(data_dir: Path) -> list[psutil.Process]:
    """Live (non-zombie) processes working in data_dir or naming it on their command line.

    Postgres and redis-server both chdir into their directory, so cwd catches every backend,
    forked children included.
    """
    root = str(data_dir.resolve())
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["pid"] == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cwd = info["cwd"] or ""
        cmdline = " ".join(info["cmdline"] or ())
        if cwd == root or cwd.startswith(root + os.sep) or root in cmdline:
            found.append(proc)
    return found


class FleetServer:
    """One `fleet serve` subprocess with its own data dir and port."""

    def __init__(self, data_dir: Path, log_dir: Path, *, tls: bool = True,
                 extra: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.tls = tls
        self.args = [
            "serve", "--data-dir", str(data_dir), "--server-address", f"127.0.0.1:{self.port}",
            "--server-tls" if tls else "--no-server-tls", *extra,
        ]
        log_dir.mkdir(parents=True, exist_ok=True)
        self._stdout_path = log_dir / f"fleet-{self.port}.out"
        self._stderr_path = log_dir / f"fleet-{self.port}.err"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://localhost:{self.port}"

    def verify(self) -> ssl.SSLContext | bool:
        # The client trusts exactly the certificate the server generated, nothing else.
        if not self.tls:
            return True
        return ssl.create_default_context(cafile=self.data_dir / "tls" / "server.crt")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=self.verify(), timeout=10.0)

    def output(self) -> str:
        return self._stdout_path.read_text() + self._stderr_path.read_text()

    def start(self) -> FleetServer:
        with self._stdout_path.open("wb") as out, self._stderr_path.open("wb") as err:
            self.process = subprocess.Popen(fleet_command(*self.args), stdout=out, stderr=err,
                                            env=clean_env())
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_DEADLINE
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"fleet serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                with self.client() as client:
                    if client.get("/healthz").status_code == 200:
                        return
            except (httpx.TransportError, FileNotFoundError) as exc:
                # Not listening yet, or the certificate is not written yet.
                last_error = exc
            time.sleep(0.05)
        pytest.fail(f"fleet serve not healthy in {START_DEADLINE}s ({last_error!r}):\n{self.output()}")

    def terminate(self) -> int:
        """SIGTERM, then the exit code (the test fails if it does not stop in time)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"fleet serve ignored SIGTERM for {STOP_DEADLINE}s:\n{self.output()}")

    def kill_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for proc in processes_in(self.data_dir):
            # The server's watchdog may be stopping the same processes at this very moment.
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()


class FleetCLI:
    """The `fleet` command for one test; servers it started are killed when the test ends."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._started: list[FleetServer] = []

    run = staticmethod(run_fleet)
    free_port = staticmethod(free_port)
    processes_in = staticmethod(processes_in)

    def serve(self, data_dir: Path, *, tls: bool = True, extra: Sequence[str] = ()) -> FleetServer:
        """`fleet serve`, once it answers GET /healthz."""
        server = FleetServer(data_dir, self._log_dir, tls=tls, extra=extra)
        self._started.append(server)
        return server.start()

    def kill_leftovers(self) -> None:
        for server in self._started:
            server.kill_if_running()
