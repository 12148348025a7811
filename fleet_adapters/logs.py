"""Where osquery result and status logs go (fleet_core.ports.LogDestination): files, stdout or nowhere."""

from __future__ import annotations

import asyncio
import fcntl
import gzip
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import structlog

from fleet_core.errors import Unavailable
from fleet_core.ports import LogDestination

log = structlog.get_logger(__name__)

LOG_TYPES: Final = ("result", "status")
PLUGINS: Final = ("filesystem", "stdout", "none")
FILESYSTEM_OPTIONS: Final = frozenset(
    {"result_path", "status_path", "rotate", "max_size_mb", "max_backups", "compress"}
)

# Query results can hold anything a host has (command lines, user names), so only the owner reads them.
FILE_MODE: Final = 0o600


def _check_log_type(log_type: str) -> None:
    # The osquery endpoint answers an unknown log_type itself (Fleet: 500); reaching here is a bug.
    if log_type not in LOG_TYPES:
        raise ValueError(f"unknown log type {log_type!r}; expected 'result' or 'status'")


def clean_records(records: Sequence[bytes]) -> list[bytes]:
    """Each record on one line, without its surrounding whitespace; empty records are dropped.

    A raw CR or LF inside valid JSON can only be insignificant whitespace (inside strings they
    are escaped), so turning them into spaces keeps each record on its own line without changing
    what it means.
    """
    lines = []
    for record in records:
        line = bytes(record).strip()
        if not line:
            continue
        if b"\n" in line or b"\r" in line:
            line = line.replace(b"\r", b" ").replace(b"\n", b" ")
        lines.append(line)
    return lines


def encode_batch(records: Sequence[bytes]) -> bytes:
    """One line per record (see clean_records), each ending in exactly one newline; b"" if none."""
    lines = clean_records(records)
    if not lines:
        return b""
    return b"\n".join(lines) + b"\n"


@attrs.frozen
class DeliveryEvent:
    """What happened to one batch (or one dropped record) at one destination, for metrics.

    ``outcome`` is "accepted" (the destination took ``records`` records, ``bytes`` bytes),
    "failed" (it did not; the agent keeps the batch and sends it again) or "dropped" (one record
    larger than the destination takes, refused for good; the rest of its batch went on).
    """

    destination: str
    log_type: str
    outcome: Literal["accepted", "failed", "dropped"]
    records: int
    bytes: int
    seconds: float = 0.0


DeliveryListener = Callable[[DeliveryEvent], None]
_listeners: list[DeliveryListener] = []


def on_delivery(listener: DeliveryListener) -> Callable[[], None]:
    """Call ``listener`` for every DeliveryEvent of this process (a metrics counter, say); returns
    the function that removes it. Listeners run on the event loop and must not block or raise."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def report_delivery(event: DeliveryEvent) -> None:
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception:  # a broken listener must never fail a delivery
            log.exception("log_delivery_listener_failed")


def _report_batch(destination: str, log_type: str, outcome: Literal["accepted", "failed"], data: bytes,
                  started: float) -> None:
    report_delivery(DeliveryEvent(destination, log_type, outcome, data.count(b"\n"), len(data),
                                  time.monotonic() - started))


def _write_all(fd: int, data: bytes) -> None:
    # Linux writes a regular file whole under the inode lock, so a single O_APPEND write is never
    # interleaved with another process's; the loop only matters after a short write (signal,
    # nearly full disk), where finishing the batch beats leaving half a line behind.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(path: Path) -> None:
    # A new or renamed directory entry only survives a crash once its directory is synced.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Group commit of the filesystem destination: when the file was last synced less than
# GROUP_BUSY_SECONDS ago, the next group waits GROUP_DELAY_SECONDS for more batches before its
# write and fsync. An agent's batch waits at most that much longer (osquery's logger period is
# seconds); at a few hundred batches a second, groups of several batches share one fsync.
# A 20 ms delay was tried (2026-12-05): in process it cut the CPU per batch at 277 batches/s from
# 425-510 to 275-294 µs, but the whole server at 2,000 hosts did not get cheaper (0.418 -> 0.434 ms
# per request, within the noise) and at 10,000 hosts it put 20 ms on every /log. Kept at 4 ms.
GROUP_BUSY_SECONDS: Final = 0.05
GROUP_DELAY_SECONDS: Final = 0.004


class _LogFile:
    """One append-only JSON lines file, shared with other processes that append to the same path.

    Writers hold a shared flock on ``<path>.lock`` while they check the inode and append; rotation
    holds it exclusively. So no process ever appends to a file that rotation has already renamed
    (and maybe compressed and deleted): it sees the new inode and re-opens first.
    """

    def __init__(self, path: Path, *, rotate: bool, max_bytes: int, max_backups: int, compress: bool) -> None:
        self.path = path
        self.rotate = rotate
        self.max_bytes = max_bytes
        self.max_backups = max_backups
        self.compress = compress
        self.async_lock = asyncio.Lock()
        # The asyncio lock keeps one batch at a time per file; this one also covers a worker thread
        # that is still writing after the task awaiting it was cancelled.
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._lock_fd: int | None = None
        # Group commit: the batches waiting for the next write and fsync, and the task writing them.
        self._forming: tuple[list[bytes], asyncio.Future[None]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._last_synced = float("-inf")

    # --- on the event loop

    async def append_synced(self, data: bytes) -> None:
        """Append ``data`` and return once it is on disk (OSError if it may not be).

        Batches that arrive while a group is being written and synced form the next group: one
        thread hop, one write and one fsync for all of them. A thread hop and an fsync cost about
        120 µs of CPU (and the fsync a millisecond or more of waiting), once per group rather than
        once per batch, so the cost per batch falls as the load rises; each batch is still
        acknowledged only once it is synced, and a failed group fails every batch in it.
        """
        if self._forming is None:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            # Read the outcome even if every request waiting on it was cancelled (no warning).
            done.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._forming = ([], done)
        chunks, done = self._forming
        chunks.append(data)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_groups(), name=f"log-writer {self.path.name}")
        # Shielded: a request that goes away leaves its group (and the other batches in it) alone.
        await asyncio.shield(done)

    async def _write_groups(self) -> None:
        loop = asyncio.get_running_loop()
        while self._forming is not None:
            if loop.time() - self._last_synced < GROUP_BUSY_SECONDS:
                # A busy file (synced moments ago): let the batches arriving in the next few
                # milliseconds join this group rather than each pay for a sync of its own.
                await asyncio.sleep(GROUP_DELAY_SECONDS)
            chunks, done = self._forming
            self._forming = None
            try:
                async with self.async_lock:
                    await asyncio.to_thread(self.append, b"".join(chunks))
            except BaseException as exc:
                done.set_exception(exc if isinstance(exc, OSError) else OSError(f"log write interrupted: {exc!r}"))
                if not isinstance(exc, Exception):
                    raise
            else:
                done.set_result(None)
            finally:
                self._last_synced = loop.time()

    async def finish_writes(self) -> None:
        """Wait for the groups already handed to the writer."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    # --- called in a worker thread

    def append(self, data: bytes) -> None:
        with self._thread_lock:
            with self._flock(fcntl.LOCK_SH):
                fd = self._current_fd()
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                except OSError:
                    # After a failed fsync the kernel may have dropped the pages and will report
                    # success next time; start over on a fresh descriptor.
                    self._close_fd()
                    raise
                size = os.fstat(fd).st_size
            if self.rotate and size > self.max_bytes:
                try:
                    self._rotate()
                except OSError as exc:
                    # The batch is already durable; failing it now would only make the agent send it
                    # twice. The next batch tries to rotate again.
                    log.warning("log rotation failed", path=str(self.path), error=exc.strerror)

    def close(self) -> None:
        with self._thread_lock:
            self._close_fd()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # --- helpers, called with the thread lock held

    @contextmanager
    def _flock(self, operation: int) -> Iterator[None]:
        if self._lock_fd is None:
            self._lock_fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, FILE_MODE)
        fcntl.flock(self._lock_fd, operation)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _current_fd(self) -> int:
        """The descriptor for what ``path`` names now, re-opened if it was rotated or moved away."""
        if self._fd is not None:
            try:
                on_disk = os.stat(self.path)
            except FileNotFoundError:
                on_disk = None
            held = os.fstat(self._fd)
            if on_disk is not None and (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino):
                return self._fd
            self._close_fd()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        _fsync_directory(self.path.parent)
        return self._fd

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass

    def _backup(self, number: int) -> Path:
        suffix = f".{number}.gz" if self.compress else f".{number}"
        return self.path.with_name(self.path.name + suffix)

    def _rotate(self) -> None:
        with self._flock(fcntl.LOCK_EX):
            # Another process may have rotated between our write and this lock.
            try:
                if os.stat(self.path).st_size <= self.max_bytes:
                    return
            except FileNotFoundError:
                return
            oldest = self.max_backups or self._highest_backup() + 1
            self._backup(oldest).unlink(missing_ok=True)
            for number in range(oldest - 1, 0, -1):
                if self._backup(number).exists():
                    os.rename(self._backup(number), self._backup(number + 1))
            if self.compress:
                self._compress_into(self._backup(1))
            else:
                os.rename(self.path, self._backup(1))
            _fsync_directory(self.path.parent)
            self._close_fd()

    def _highest_backup(self) -> int:
        number = 0
        while self._backup(number + 1).exists():
            number += 1
        return number

    def _compress_into(self, target: Path) -> None:
        # Done under the exclusive lock: once the lock is released nobody may append to the old file,
        # and the backup names must not shift while it is being written. Rotation is rare, and a fast
        # level keeps the pause for the other writers short.
        partial = target.with_name(target.name + ".tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        with open(fd, "wb") as raw, open(self.path, "rb") as source:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1) as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(partial, target)
        os.unlink(self.path)


class FilesystemLogDestination:
    """JSON lines: result logs in one file, status logs in another (Fleet's ``filesystem`` plugin).

    Each batch is appended with one write and synced to disk before ``write`` returns, so a batch
    the server acknowledged survives a crash. Several server processes may append to the same files.
    With ``rotate``, a file larger than ``max_size_mb`` becomes ``<path>.1`` (``.1.gz`` with
    ``compress``), older backups shift up and only ``max_backups`` are kept (0 keeps them all, as in
    Fleet, whose lumberjack rotation treats 0 that way); no line is lost or split.
    Files are created on the first batch; their directory must exist.
    """

    def __init__(
        self,
        result_path: str | os.PathLike[str],
        status_path: str | os.PathLike[str],
        *,
        rotate: bool = False,
        max_size_mb: int = 500,
        max_backups: int = 3,
        compress: bool = False,
    ) -> None:
        if max_size_mb < 1:
            raise ValueError("max_size_mb must be at least 1")
        if max_backups < 0:
            raise ValueError("max_backups must not be negative (0 keeps every backup)")
        result, status = Path(result_path), Path(status_path)
        if result.resolve() == status.resolve():
            # Two _LogFile objects on one path would each hold an fd; their locks would still be
            # correct, but Fleet keeps the streams apart and mixed files are hard to ship.
            raise ValueError("result and status logs need different files")
        self._files = {
            name: _LogFile(
                path, rotate=rotate, max_bytes=max_size_mb * 1024 * 1024, max_backups=max_backups, compress=compress
            )
            for name, path in (("result", result), ("status", status))
        }

    async def write(self, log_type: str, records: Sequence[bytes]) -> None:
        _check_log_type(log_type)
        data = encode_batch(records)
        if not data:
            return
        file = self._files[log_type]
        started = time.monotonic()
        try:
            await file.append_synced(data)
        except OSError as exc:
            # strerror only ("No space left on device"): never the records themselves.
            log.error("log write failed", log_type=log_type, path=str(file.path), error=exc.strerror)
            _report_batch("filesystem", log_type, "failed", data, started)
            raise Unavailable(f"the {log_type} log destination did not accept the batch") from exc
        _report_batch("filesystem", log_type, "accepted", data, started)

    async def aclose(self) -> None:
        for file in self._files.values():
            await file.finish_writes()
            async with file.async_lock:
                await asyncio.to_thread(file.close)


class StdoutLogDestination:
    """JSON lines on the process's stdout, results and status mixed (Fleet's ``stdout`` plugin)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    def _emit(self, data: bytes) -> None:
        with self._thread_lock:
            # Looked up each time so redirection (and pytest's capture) is honoured; text already
            # buffered by print() goes first so lines never interleave.
            stream = sys.stdout
            stream.flush()
            binary = getattr(stream, "buffer", None)
            if binary is None:
                # Replaced by a text-only stream (StringIO and the like).
                stream.write(data.decode("utf-8", "replace"))
                stream.flush()
                return
            binary.write(data)
            binary.flush()

    async def write(self, log_type: str, records: Sequence[bytes]) -> None:
        _check_log_type(log_type)
        data = encode_batch(records)
        if not data:
            return
        started = time.monotonic()
        async with self._lock:
            try:
                # A full pipe blocks the write; that must not stop the event loop.
                await asyncio.to_thread(self._emit, data)
            except (OSError, ValueError) as exc:
                # ValueError: stdout was closed.
                log.error("log write to stdout failed", log_type=log_type, error=str(exc))
                _report_batch("stdout", log_type, "failed", data, started)
                raise Unavailable(f"the {log_type} log destination did not accept the batch") from exc
        _report_batch("stdout", log_type, "accepted", data, started)


class NullLogDestination:
    """Accepts and discards every batch (the ``none`` plugin)."""

    async def write(self, log_type: str, records: Sequence[bytes]) -> None:
        _check_log_type(log_type)


class SplitLogDestination:
    """Result and status logs to different destinations, as Fleet's two plugin settings allow."""

    def __init__(self, *, result: LogDestination, status: LogDestination) -> None:
        self._by_type: Mapping[str, LogDestination] = {"result": result, "status": status}

    async def write(self, log_type: str, records: Sequence[bytes]) -> None:
        _check_log_type(log_type)
        await self._by_type[log_type].write(log_type, records)


def log_destination(
    plugin: str, **options: Any
) -> FilesystemLogDestination | StdoutLogDestination | NullLogDestination:
    """The destination for a plugin name: ``filesystem``, ``stdout`` or ``none``.

    ``options`` are FilesystemLogDestination's arguments (``result_path``, ``status_path``,
    ``rotate``, ``max_size_mb``, ``max_backups``, ``compress``). The other plugins ignore them,
    so one settings block can feed any plugin.

    Raises:
        ValueError: unknown plugin, unknown option, or filesystem without both paths.
    """
    unknown = sorted(set(options) - FILESYSTEM_OPTIONS)
    if unknown:
        raise ValueError(f"unknown log destination options: {', '.join(unknown)}")
    if plugin == "filesystem":
        missing = [name for name in ("result_path", "status_path") if not options.get(name)]
        if missing:
            raise ValueError(f"the filesystem log plugin needs {' and '.join(missing)}")
        return FilesystemLogDestination(**options)
    if plugin == "stdout":
        return StdoutLogDestination()
    if plugin == "none":
        return NullLogDestination()
    raise ValueError(f"unknown log plugin {plugin!r}; expected one of: {', '.join(PLUGINS)}")
