"""Liveness of the backing services (fleet_core.ports.HealthCheck)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import redis.asyncio
from psycopg_pool import AsyncConnectionPool


class BackendHealth:
    """Asks Postgres and Redis, concurrently, each under a short deadline.

    A health endpoint must answer even when a backend hangs, so any failure, including a
    timeout, reads as False instead of an error.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        redis: redis.asyncio.Redis,
        *,
        timeout: float = 2.0,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._timeout = timeout

    async def check(self) -> dict[str, bool]:
        results = {"postgres": False, "redis": False}

        async def probe_postgres() -> None:
            results["postgres"] = await self._answered(self._ping_postgres)

        async def probe_redis() -> None:
            results["redis"] = await self._answered(self._ping_redis)

        async with anyio.create_task_group() as tg:
            tg.start_soon(probe_postgres)
            tg.start_soon(probe_redis)
        return results

    async def _answered(self, probe: Callable[[], Awaitable[object]]) -> bool:
        try:
            with anyio.fail_after(self._timeout):
                await probe()
        except Exception:
            return False
        return True

    async def _ping_postgres(self) -> None:
        async with self._pool.connection(timeout=self._timeout) as conn:
            await conn.execute("SELECT 1")

    async def _ping_redis(self) -> None:
        await self._redis.ping()
