"""SSO login state in Redis (fleet_core.ports.SSOStateStore), shared by every server process, so
the process that receives the IdP's response need not be the one that sent the request."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Final

import redis.asyncio
from redis.exceptions import RedisError

from fleet_core.errors import Unavailable

REQUEST_PREFIX: Final = "fleet:sso:request:"
ASSERTION_PREFIX: Final = "fleet:sso:assertion:"
METADATA_PREFIX: Final = "fleet:sso:metadata:"


def _seconds(ttl: dt.timedelta) -> int:
    return max(1, math.ceil(ttl.total_seconds()))


def _key(prefix: str, value: str) -> str:
    # IDs and URLs come from outside; hashing bounds the key's length and keeps it printable.
    return prefix + hashlib.sha256(value.encode()).hexdigest()


class RedisSSOStateStore:
    def __init__(self, redis: redis.asyncio.Redis) -> None:
        self._redis = redis

    async def add_request(self, request_id: str, relay_url: str, *, ttl: dt.timedelta) -> None:
        try:
            await self._redis.set(_key(REQUEST_PREFIX, request_id), relay_url, ex=_seconds(ttl))
        except RedisError as exc:
            raise Unavailable("SSO state store unavailable") from exc

    async def pending_request(self, request_id: str) -> str | None:
        try:
            value = await self._redis.get(_key(REQUEST_PREFIX, request_id))
        except RedisError as exc:
            raise Unavailable("SSO state store unavailable") from exc
        return None if value is None else _text(value)

    async def take_request(self, request_id: str) -> str | None:
        # GETDEL needs Redis 6.2 (the embedded server's version); one command, so one taker wins.
        try:
            value = await self._redis.getdel(_key(REQUEST_PREFIX, request_id))
        except RedisError as exc:
            raise Unavailable("SSO state store unavailable") from exc
        return None if value is None else _text(value)

    async def use_assertion(self, assertion_id: str, *, ttl: dt.timedelta) -> bool:
        try:
            first = await self._redis.set(_key(ASSERTION_PREFIX, assertion_id), b"1", ex=_seconds(ttl), nx=True)
        except RedisError as exc:
            raise Unavailable("SSO state store unavailable") from exc
        return bool(first)

    async def put_metadata(self, url: str, xml: str) -> None:
        try:
            await self._redis.set(_key(METADATA_PREFIX, url), xml)
        except RedisError as exc:
            raise Unavailable("SSO state store unavailable") from exc

    async def metadata(self, url: str) -> str | None:
        try:
            value = await self._redis.get(_key(METADATA_PREFIX, url))
        except RedisError as exc:
            raise Unavailable("SSO state store unavailable") from exc
        return None if value is None else _text(value)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
