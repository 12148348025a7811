"""Fixed-window attempt counting in Redis (fleet_core.ports.RateLimiter)."""

from __future__ import annotations

import math
from typing import Final

import redis.asyncio
from redis.exceptions import RedisError

from fleet_core.errors import Unavailable

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
    """Counts live under ``fleet:ratelimit:<key>``; callers pass keys that hold no secret."""

    def __init__(self, redis: redis.asyncio.Redis) -> None:
        self._redis = redis
        self._hit = redis.register_script(HIT_SCRIPT)

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        try:
            wait = await self._hit(keys=[KEY_PREFIX + key], args=[window_seconds, limit])
        except RedisError as exc:
            raise Unavailable("rate limiter unavailable") from exc
        return int(wait)

    async def blocked(self, key: str, *, limit: int) -> int:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(KEY_PREFIX + key)
                pipe.pttl(KEY_PREFIX + key)
                count, pttl = await pipe.execute()
        except RedisError as exc:
            raise Unavailable("rate limiter unavailable") from exc
        if count is None or int(count) < limit:
            return 0
        return max(1, math.ceil(pttl / 1000)) if pttl > 0 else 1

    async def reset(self, key: str) -> None:
        try:
            await self._redis.delete(KEY_PREFIX + key)
        except RedisError as exc:
            raise Unavailable("rate limiter unavailable") from exc
