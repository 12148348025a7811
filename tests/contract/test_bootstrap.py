"""open_services, the composition root, over a real Postgres and Redis."""

from __future__ import annotations

import psycopg
import pytest
import redis.asyncio

from fleet_adapters.bootstrap import open_services
from fleet_adapters.redis.rate_limit import KEY_PREFIX
from fleet_adapters.settings import Settings, SettingsError
from fleet_core.errors import AuthFailed, RateLimited
from fleet_core.model.runtime import ServerRuntime
from fleet_core.services.setup import SetupInput

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.redis]

ADMIN_PASSWORD = "correct-Horse-7-battery"


def _settings(pg_dsn: str, redis_url: str) -> Settings:
    return Settings(database_url=pg_dsn, redis_url=redis_url, server_tls=False)


async def test_the_services_run_on_postgres_redis_and_argon2(pg_dsn: str, redis_url: str) -> None:
    async with open_services(_settings(pg_dsn, redis_url), runtime=ServerRuntime()) as services:
        assert await services.health.check() == {"postgres": True, "redis": True}
        assert await services.setup.required() is True
        result = await services.setup.setup(
            SetupInput(
                name="Admin",
                email="admin@example.test",
                password=ADMIN_PASSWORD,
                password_confirmation=ADMIN_PASSWORD,
                org_name="Example",
                server_url="https://fleet.example.test",
            )
        )
        assert await services.setup.required() is False
        viewer = await services.auth.authenticate(result.token)
        assert viewer.user.id == result.admin.id

        user, token = await services.auth.login("admin@example.test", ADMIN_PASSWORD, remote_addr="192.0.2.7")
        assert user.id == result.admin.id and token != result.token
        with pytest.raises(AuthFailed):
            await services.auth.login("admin@example.test", "wrong-password-1A", remote_addr="192.0.2.7")

    # The failed attempt was counted in Redis, under a key that does not contain the email.
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        keys = [key.decode() async for key in client.scan_iter(KEY_PREFIX + "*")]
    finally:
        await client.aclose()
    assert keys and all("admin@example.test" not in key for key in keys)


async def test_repeated_failed_logins_are_rate_limited_through_redis(pg_dsn: str, redis_url: str) -> None:
    async with open_services(_settings(pg_dsn, redis_url), runtime=ServerRuntime()) as services:
        with pytest.raises(RateLimited) as limited:
            for _ in range(100):
                with pytest.raises(AuthFailed):
                    await services.auth.login("nobody@example.test", "wrong-password-1A", remote_addr="192.0.2.9")
        assert limited.value.retry_after > 0


async def test_the_backends_are_closed_on_exit(pg_dsn: str, redis_url: str) -> None:
    # A client name lets us count this client's connections among the session's others.
    named = redis_url + ("&" if "?" in redis_url else "?") + "client_name=fleet-bootstrap-test"
    async with open_services(_settings(pg_dsn, named), runtime=ServerRuntime()) as services:
        await services.health.check()
        assert await _postgres_connections(pg_dsn) > 0
        assert await _redis_connections(redis_url, "fleet-bootstrap-test") > 0
    assert await _postgres_connections(pg_dsn) == 0
    assert await _redis_connections(redis_url, "fleet-bootstrap-test") == 0


async def _postgres_connections(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _redis_connections(url: str, name: str) -> int:
    client = redis.asyncio.Redis.from_url(url)
    try:
        clients = await client.client_list()
    finally:
        await client.aclose()
    return sum(1 for c in clients if c.get("name") == name)


async def test_missing_urls_are_a_settings_error(anyio_backend: str) -> None:
    with pytest.raises(SettingsError):
        async with open_services(Settings(server_tls=False), runtime=ServerRuntime()):
            pass
