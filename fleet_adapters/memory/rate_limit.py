"""Fixed-window attempt counting in process memory, for tests and demo mode."""

from __future__ import annotations

import datetime as dt
import math

from fleet_core.ports import Clock


class InMemoryRateLimiter:
    """Same semantics as RedisRateLimiter, timed by the Clock port so tests can move time.

    Not shared across processes, which the port asks for; fine for a single test or demo process.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, dt.datetime]] = {}

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        now = self._clock.now()
        count, ends = self._windows.get(key, (0, now))
        if now >= ends:
            count, ends = 0, now + dt.timedelta(seconds=window_seconds)
        count += 1
        self._windows[key] = (count, ends)
        if count <= limit:
            return 0
        return max(1, math.ceil((ends - now).total_seconds()))

    async def blocked(self, key: str, *, limit: int) -> int:
        now = self._clock.now()
        count, ends = self._windows.get(key, (0, now))
        if now >= ends or count < limit:
            return 0
        return max(1, math.ceil((ends - now).total_seconds()))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)
