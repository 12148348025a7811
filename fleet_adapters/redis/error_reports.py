"""ErrorReportStore in Redis: one list shared by every server process, trimmed on every add."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Final

import redis.asyncio
from redis.exceptions import RedisError

from fleet_adapters.error_report_encoding import MAX_REPORT_BYTES, MAX_REPORTS, decode_report, encode_report
from fleet_core.errors import Unavailable

KEY: Final = "fleet:error_reports"


class RedisErrorReportStore:
    def __init__(self, redis: redis.asyncio.Redis, *, max_reports: int = MAX_REPORTS,
                 max_report_bytes: int = MAX_REPORT_BYTES) -> None:
        self._redis = redis
        self._max_reports = max_reports
        self._max_report_bytes = max_report_bytes

    async def add(self, report: Mapping[str, Any]) -> None:
        encoded = encode_report(report, self._max_report_bytes)
        try:
            # One transaction, so concurrent adds never leave the list past its bound.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(KEY, encoded)
                pipe.ltrim(KEY, -self._max_reports, -1)
                await pipe.execute()
        except RedisError as exc:
            raise Unavailable("error report store unavailable") from exc

    async def list(self) -> builtins.list[Mapping[str, Any]]:
        try:
            encoded = await self._redis.lrange(KEY, 0, -1)
        except RedisError as exc:
            raise Unavailable("error report store unavailable") from exc
        # The client is not decoding responses: every item is the bytes add() stored.
        return [decode_report(item if isinstance(item, bytes) else item.encode()) for item in encoded]

    async def flush(self) -> None:
        try:
            await self._redis.delete(KEY)
        except RedisError as exc:
            raise Unavailable("error report store unavailable") from exc
