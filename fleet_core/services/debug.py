"""The debug endpoints (GET /debug/errors, /debug/db/{key}, /debug/pprof/{key}): what an admin
looks at when the server misbehaves. Read-only except for flushing the kept errors.

The server's own recent errors are kept in a bounded ring in this process (SERVER_ERRORS), fed
by a structlog processor (record_server_errors) that the process installs in its logging chain:
every event logged at error level, with an exception or about a 5xx answer (the 500 handlers',
a failed background job's) is kept, with its traceback formatted plainly (no local variables, which may hold
secrets)."""

from __future__ import annotations

import collections
import datetime as dt
import sys
import threading
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any

import attrs

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import BadRequest, NotFound
from fleet_core.ports.diagnostics import DATABASE_REPORTS, DatabaseDiagnostics, Document, ProcessDiagnostics
from fleet_core.ports.error_reports import ErrorReportStore

# How many of the server's errors are kept, and how much of each: enough to see what went wrong
# recently without letting a storm of failures grow the process.
SERVER_ERRORS_KEPT = 100
MAX_TRACEBACK_CHARS = 8192
MAX_FIELD_CHARS = 1024
# Fleet's pprof takes seconds=30 by default; more than a minute would hold the request too long.
DEFAULT_PROFILE_SECONDS = 30.0
MAX_PROFILE_SECONDS = 60.0
# Go's pprof names, answered by their Python equivalent: goroutine is every task and thread's
# stack, heap and allocs the memory statistics.
PPROF_KEYS = ("profile", "goroutine", "threadcreate", "heap", "allocs", "cmdline")
_ERROR_LEVELS = frozenset({"error", "critical", "exception"})


class RecentErrors:
    """A bounded, thread-safe ring of the most recent server errors (oldest dropped first)."""

    def __init__(self, capacity: int = SERVER_ERRORS_KEPT) -> None:
        self.capacity = capacity
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._entries.append(dict(entry))

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def flush(self) -> None:
        with self._lock:
            self._entries.clear()


SERVER_ERRORS = RecentErrors()


def _short(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    text = str(value)
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + "..."


def record_server_errors(ring: RecentErrors = SERVER_ERRORS) -> Any:
    """A structlog processor keeping every error-level or exception event in ``ring``; it passes
    the event on unchanged."""
    def processor(_logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        level = str(event_dict.get("level", method_name)).lower()
        exc_info = event_dict.get("exc_info")
        status = event_dict.get("status")
        server_side = isinstance(status, int) and status >= 500
        if level in _ERROR_LEVELS or exc_info or server_side:
            entry: dict[str, Any] = {
                "time": dt.datetime.now(dt.UTC).isoformat(),
                "level": level,
                "event": _short(event_dict.get("event", "")),
            }
            for key, value in event_dict.items():
                if key not in ("event", "level", "exc_info", "timestamp", "_record", "_from_structlog"):
                    entry.setdefault(key, _short(value))
            exc = _exception(exc_info)
            if exc is not None:
                entry["error"] = f"{type(exc).__name__}: {_short(exc)}"
                entry["traceback"] = "".join(traceback.format_exception(exc))[-MAX_TRACEBACK_CHARS:]
            ring.add(entry)
        return event_dict
    return processor


def _exception(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    if exc_info is True:
        return sys.exc_info()[1]
    return None


@attrs.define
class DebugService:
    """The debug endpoints' reads; every one is for global admins only."""

    server_errors: RecentErrors
    device_errors: ErrorReportStore | None
    database: DatabaseDiagnostics | None
    process: ProcessDiagnostics | None

    async def errors(self, viewer: Viewer, *, flush: bool = False) -> list[dict[str, Any]]:
        """The errors Fleet Desktop reported (source "device") and the server's recent internal
        errors (source "server"), oldest first within each; ``flush`` empties both once read."""
        authorize(viewer, Action.DEBUG)
        device = [] if self.device_errors is None else await self.device_errors.list()
        entries = [{"source": "device", "error": dict(report)} for report in device]
        entries += [{"source": "server", "error": entry} for entry in self.server_errors.list()]
        if flush:
            if self.device_errors is not None:
                await self.device_errors.flush()
            self.server_errors.flush()
        return entries

    async def database_report(self, viewer: Viewer, key: str) -> list[dict[str, Any]]:
        """Raises NotFound for a key that is not one of DATABASE_REPORTS."""
        authorize(viewer, Action.DEBUG)
        if key not in DATABASE_REPORTS or self.database is None:
            raise NotFound(f"unknown database diagnostic {key!r}; known ones are {', '.join(DATABASE_REPORTS)}")
        return await self.database.report(key)

    async def pprof(self, viewer: Viewer, key: str, *, seconds: float | None = None,
                    output: str = "text") -> Document:
        """Raises NotFound for a key that is not one of PPROF_KEYS, BadRequest naming ``seconds``
        outside (0, MAX_PROFILE_SECONDS] or naming ``format`` (``output``) other than text or html
        for a profile, Conflict while another profile is being taken."""
        authorize(viewer, Action.DEBUG)
        if key not in PPROF_KEYS or self.process is None:
            raise NotFound(f"unknown profile {key!r}; known ones are {', '.join(PPROF_KEYS)}")
        if key == "profile":
            wanted = DEFAULT_PROFILE_SECONDS if seconds is None else seconds
            if not 0 < wanted <= MAX_PROFILE_SECONDS:
                raise BadRequest(f"must be more than 0 and at most {MAX_PROFILE_SECONDS:g}", name="seconds")
            if output not in ("text", "html"):
                raise BadRequest("must be text or html", name="format")
            return await self.process.cpu_profile(wanted, html=output == "html")
        if key in ("goroutine", "threadcreate"):
            return self.process.stacks()
        if key in ("heap", "allocs"):
            return self.process.heap()
        return self.process.cmdline()
