"""Fixed-window attempt counting in process memory, for tests and demo mode."""

from __future__ import annotations

import datetime as dt
import math
from typing import Final

from fleet_core.ports import Clock

# Past this many windows, ended ones are dropped on the next hit: as the Redis limiter's fallback
# this runs in a long-lived server, where every guessed user name would otherwise stay forever.
PRUNE_ABOVE: Final = 10_000


class InMemoryRateLimiter:
    """Same semantics as RedisRateLimiter, timed by the Clock port so tests can move time.

    Not shared across processes, which the port asks for; fine for a single test or demo process,
    and as RedisRateLimiter's fallback while Redis is down.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, dt.datetime]] = {}
        self._prune_above = PRUNE_ABOVE

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        now = self._clock.now()
        count, ends = self._windows.get(key, (0, now))
        if now >= ends:
            count, ends = 0, now + dt.timedelta(seconds=window_seconds)
        count += 1
        self._windows[key] = (count, ends)
        if len(self._windows) > self._prune_above:
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
            # Doubling keeps pruning amortised O(1) per hit when most windows are still open.
            self._prune_above = max(PRUNE_ABOVE, 2 * len(self._windows))
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
