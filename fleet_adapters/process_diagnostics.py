"""fleet_core.ports.ProcessDiagnostics for this Python process: a CPU profile taken with
pyinstrument's sampling profiler, task and thread stacks, memory statistics, the command line."""

from __future__ import annotations

import asyncio
import collections
import gc
import io
import re
import sys
import threading
import traceback
import tracemalloc

import attrs
from pyinstrument import Profiler

from fleet_core.errors import Conflict
from fleet_core.ports.diagnostics import Document

# Samples every millisecond: fine enough for a request's worth of work, cheap enough to leave on
# for the minute a profile may last.
SAMPLE_INTERVAL_SECONDS = 0.001
TOP_TYPES = 40
TOP_ALLOCATION_SITES = 30
TEXT = "text/plain; charset=utf-8"
# Command-line options whose values are credentials or carry them (a database URL's password).
_SECRET_OPTION = re.compile(r"(url|dsn|password|passwd|secret|token|key)", re.IGNORECASE)
# Up to the last "@" of the argument: a password written with a raw "@" in it is still hidden
# whole (hiding a little more of an odd URL is the safe side).
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):\S*@", re.IGNORECASE)
REDACTED = "[redacted]"


@attrs.define
class PythonProcessDiagnostics:
    _profiling: asyncio.Lock = attrs.field(init=False, factory=asyncio.Lock)

    async def cpu_profile(self, seconds: float, *, html: bool = False) -> Document:
        if self._profiling.locked():
            raise Conflict("a CPU profile is already being taken")
        async with self._profiling:
            # async_mode "disabled": sample the whole event loop thread (every request and job
            # it runs), not just this coroutine, which only sleeps.
            profiler = Profiler(interval=SAMPLE_INTERVAL_SECONDS, async_mode="disabled")
            profiler.start()
            try:
                await asyncio.sleep(seconds)
            finally:
                profiler.stop()
        if html:
            return Document("text/html; charset=utf-8", profiler.output_html())
        return Document(TEXT, profiler.output_text(unicode=True, color=False, show_all=False))

    def stacks(self) -> Document:
        out = io.StringIO()
        try:
            tasks = sorted(asyncio.all_tasks(), key=lambda t: t.get_name())
        except RuntimeError:
            tasks = []
        out.write(f"asyncio tasks: {len(tasks)}\n\n")
        for task in tasks:
            out.write(f"task {task.get_name()!r} ({'done' if task.done() else 'pending'})\n")
            out.write("".join(traceback.format_list(_awaited_frames(task))))
            out.write("\n")
        frames = sys._current_frames()
        threads = {t.ident: t for t in threading.enumerate()}
        out.write(f"threads: {len(frames)}\n\n")
        for ident, frame in frames.items():
            thread = threads.get(ident)
            name = thread.name if thread is not None else "?"
            out.write(f"thread {name!r} (id {ident}{', daemon' if thread and thread.daemon else ''})\n")
            out.write("".join(traceback.format_stack(frame)))
            out.write("\n")
        return Document(TEXT, out.getvalue())

    def heap(self) -> Document:
        out = io.StringIO()
        out.write(f"gc counts per generation: {gc.get_count()} (thresholds {gc.get_threshold()})\n")
        for generation, stats in enumerate(gc.get_stats()):
            out.write(f"gc generation {generation}: {stats}\n")
        objects = gc.get_objects()
        out.write(f"objects tracked by gc: {len(objects)}\n\nmost numerous types:\n")
        counts = collections.Counter(type(o).__qualname__ for o in objects)
        del objects
        for name, count in counts.most_common(TOP_TYPES):
            out.write(f"{count:>10}  {name}\n")
        if tracemalloc.is_tracing():
            current, peak = tracemalloc.get_traced_memory()
            out.write(f"\ntraced memory: {current} bytes now, {peak} at peak\ntop allocation sites:\n")
            for stat in tracemalloc.take_snapshot().statistics("lineno")[:TOP_ALLOCATION_SITES]:
                out.write(f"{stat}\n")
        else:
            out.write("\nallocation sites: tracemalloc is not tracing (start the server with PYTHONTRACEMALLOC=1)\n")
        return Document(TEXT, out.getvalue())

    def cmdline(self) -> Document:
        # NUL-separated, as Go's /debug/pprof/cmdline answers.
        return Document(TEXT, "\x00".join(redacted_argv(sys.argv)))


def _awaited_frames(task: asyncio.Task[object]) -> traceback.StackSummary:
    """Where ``task`` is, outermost first: its coroutine and every coroutine or generator it
    awaits (Task.get_stack stops at the outermost frame of a suspended task)."""
    frames = []
    awaitable: object = task.get_coro()
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            break
        frames.append((frame, frame.f_lineno))
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return traceback.StackSummary.extract(iter(frames))


def redacted_argv(argv: list[str]) -> list[str]:
    """``argv`` with the value of every secret-bearing option and every URL's password replaced."""
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        # The value of a secret-bearing option is the next argument, unless that is another long
        # option (argparse would not take it as the value); "-x..." may be a value.
        if hide_next and not arg.startswith("--"):
            shown.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        if arg.startswith("-"):
            name, eq, _ = arg.partition("=")
            if _SECRET_OPTION.search(name):
                if eq:
                    shown.append(f"{name}={REDACTED}")
                    continue
                hide_next = True
        shown.append(_URL_PASSWORD.sub(rf"\g<scheme>\g<user>:{REDACTED}@", arg))
    return shown
