"""Fixed-window attempt counting in Redis (fleet_core.ports.RateLimiter), with a per-process
fallback while Redis is down so logins keep working through an outage."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import redis.asyncio
import structlog
from redis.exceptions import RedisError

from fleet_core.errors import Unavailable
from fleet_core.ports import RateLimiter

log = structlog.get_logger(__name__)

T = TypeVar("T")

# How often a Redis outage is logged again while the fallback is in use (once per call would
# flood the log under a password-guessing attack, which is exactly when Redis may be struggling).
FALLBACK_LOG_INTERVAL_SECONDS: Final = 60.0
# After Redis failed a call, the next calls go straight to the fallback for this long: a frozen
# Redis costs each call a socket timeout, and a login makes several.
FALLBACK_HOLD_SECONDS: Final = 1.0

KEY_PREFIX: Final = "fleet:ratelimit:"

# One script so the count and its expiry are set atomically: a client dying between INCR and
# EXPIRE would otherwise leave a counter that never resets and locks the account out for good.
# EXPIRE NX would do in a pipeline, but it needs Redis 7 and the embedded server is 6.2; the
# "TTL missing" test here has the same effect and also repairs a key that lost its expiry.
# The wait is rounded up from PTTL so an over-limit answer is never 0 ("allowed").
HIT_SCRIPT: Final = """
local count = redis.call('INCR', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1])
if pttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  pttl = tonumber(ARGV[1]) * 1000
end
if count <= tonumber(ARGV[2]) then
  return 0
end
return math.max(1, math.ceil(pttl / 1000))
"""


class RedisRateLimiter:
    """Counts live under ``fleet:ratelimit:<key>``; callers pass keys that hold no secret.

    With a ``fallback``, a call that Redis cannot answer is answered by it instead (a limiter in
    process memory): logins keep working during an outage and are still limited, per process
    rather than fleet-wide, which is weaker but far better than refusing every login. Counts do not
    move between the two, so an attacker gains at most one window's attempts per process when Redis
    goes away or comes back. Without a fallback the outage is Unavailable ("rate limiter unavailable").
    """

    def __init__(self, redis: redis.asyncio.Redis, *, fallback: RateLimiter | None = None) -> None:
        self._redis = redis
        self._hit = redis.register_script(HIT_SCRIPT)
        self._fallback = fallback
        self._last_logged = -math.inf
        self._redis_skipped_until = -math.inf

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")

        async def in_redis() -> int:
            return int(await self._hit(keys=[KEY_PREFIX + key], args=[window_seconds, limit]))

        return await self._answer(in_redis, lambda f: f.hit(key, limit=limit, window_seconds=window_seconds))

    async def blocked(self, key: str, *, limit: int) -> int:
        async def in_redis() -> int:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(KEY_PREFIX + key)
                pipe.pttl(KEY_PREFIX + key)
                count, pttl = await pipe.execute()
            if count is None or int(count) < limit:
                return 0
            return max(1, math.ceil(pttl / 1000)) if pttl > 0 else 1

        return await self._answer(in_redis, lambda f: f.blocked(key, limit=limit))

    async def reset(self, key: str) -> None:
        async def in_redis() -> None:
            await self._redis.delete(KEY_PREFIX + key)

        await self._answer(in_redis, lambda f: f.reset(key))

    async def _answer(
        self, in_redis: Callable[[], Awaitable[T]], in_fallback: Callable[[RateLimiter], Awaitable[T]]
    ) -> T:
        if self._fallback is not None and time.monotonic() < self._redis_skipped_until:
            return await in_fallback(self._fallback)
        try:
            return await in_redis()
        except RedisError as exc:
            if self._fallback is None:
                raise Unavailable("rate limiter unavailable") from exc
            now = time.monotonic()
            self._redis_skipped_until = now + FALLBACK_HOLD_SECONDS
            if now - self._last_logged >= FALLBACK_LOG_INTERVAL_SECONDS:
                self._last_logged = now
                log.warning("rate limiter falls back to this process's memory: Redis unavailable",
                            error=type(exc).__name__)
            return await in_fallback(self._fallback)
