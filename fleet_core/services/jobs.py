"""Periodic background jobs of a server process (seen-time flushes, host expiry, ...)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def _every(seconds: float, job: Callable[[], Awaitable[object]], name: str, run_first: bool) -> None:
    if not run_first:
        await asyncio.sleep(seconds)
    while True:
        try:
            await job()
        except Exception:
            # One failed run must not end the job; the next tick tries again.
            log.exception("background_job_failed", job=name)
        await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def periodic(seconds: float, job: Callable[[], Awaitable[object]], *, name: str,
                   run_first: bool = False) -> AsyncIterator[None]:
    """Run ``job`` every ``seconds`` while the block is open; stop it when the block closes."""
    task = asyncio.create_task(_every(seconds, job, name, run_first), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
