"""The composition root: real adapters wired into the core's services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Final

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from fleet_adapters.clock import SystemClock
from fleet_adapters.health import BackendHealth
from fleet_adapters.installers import FilesystemInstallerStore
from fleet_adapters.integrations import HttpTicketSystems
from fleet_adapters.log_plugins import open_log_destinations
from fleet_adapters.logs import on_delivery
from fleet_adapters.mail import SMTPMailer
from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.metrics import (
    MeteredRedis,
    MeteredWebhookSender,
    PrometheusMetrics,
    count_log_delivery,
    sampling_pool,
)
from fleet_adapters.postgres.carve_store import PgCarveStore
from fleet_adapters.postgres.diagnostics import PgDatabaseDiagnostics
from fleet_adapters.postgres.pool import Pool, connection_pool
from fleet_adapters.postgres.schedule_lock import PgScheduleLock
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_adapters.process_diagnostics import PythonProcessDiagnostics
from fleet_adapters.redis.error_reports import RedisErrorReportStore
from fleet_adapters.redis.invalidation import RedisInvalidationBus
from fleet_adapters.redis.live_queries import RedisLiveQueryStore
from fleet_adapters.redis.rate_limit import RedisRateLimiter
from fleet_adapters.redis.sso import RedisSSOStateStore
from fleet_adapters.s3 import s3_client, s3_options
from fleet_adapters.s3_carves import S3CarveStore
from fleet_adapters.s3_installers import INSTALLERS_FOLDER, S3InstallerStore
from fleet_adapters.saml import OneLoginServiceProvider
from fleet_adapters.security.argon2 import Argon2PasswordHasher
from fleet_adapters.security.tokens import SecretsTokenGenerator
from fleet_adapters.settings import Settings, SettingsError, installers_path, server_runtime
from fleet_adapters.vulnerabilities_wiring import build_vulnerability_feed
from fleet_adapters.webhook_sender import HttpWebhookSender
from fleet_core.model.runtime import ServerRuntime
from fleet_core.ports import CarveStore, InstallerStore
from fleet_core.services import Services, make_services

REDIS_MAX_CONNECTIONS = 1024
REDIS_POOL_WAIT_SECONDS = 5.0
# How the Redis client behaves when Redis dies, hangs or comes back. A command waits at most
# socket_timeout for an answer (redis-py's default is forever, so a frozen Redis would hang every
# login); a broken connection (Redis restarted) is retried once at once on a fresh connection, so
# the first command after a restart succeeds instead of failing; a timeout is not retried, since an
# unresponsive server does not answer a second asking any sooner. Pub/sub reads pass their own timeouts.
REDIS_FAULT_OPTIONS: Final[dict[str, Any]] = {
    "socket_timeout": 2.0,
    "socket_connect_timeout": 2.0,
    "retry": Retry(ExponentialBackoff(cap=0.2, base=0.01), retries=1, supported_errors=(RedisConnectionError,)),
}
# Postgres pool: how long a reconnection chain keeps trying before it ends (psycopg_pool's default
# is 5 minutes with the delay doubling each time, which after a 70 s outage meant waiting 53 s more).
# Capped, the longest wait between attempts is a couple of seconds; once a chain ends the pool
# starts a new one as soon as a request needs a connection, so it never gives up for good.
POSTGRES_RECONNECT_TIMEOUT_SECONDS = 4.0
REDIS_RESUBSCRIBE_MAX_SECONDS = 2.0


async def _object_stores(settings: Settings, pool: Pool, stack: AsyncExitStack) -> tuple[CarveStore, InstallerStore]:
    """Carves and installers in the S3 bucket when --s3-bucket is set (one client, closed with
    ``stack``), else carves in Postgres and installers in their directory."""
    options = s3_options(settings)
    if options is None:
        return PgCarveStore(pool), FilesystemInstallerStore(installers_path(settings))
    client = await stack.enter_async_context(s3_client(options))
    return S3CarveStore(client, options), S3InstallerStore(client, options)


@asynccontextmanager
async def open_installer_store(settings: Settings) -> AsyncIterator[tuple[InstallerStore, str]]:
    """The installer store `fleet serve` uses with these settings (as ``_object_stores`` chooses
    it), and where it is, for `fleet installers put`."""
    options = s3_options(settings)
    if options is None:
        yield FilesystemInstallerStore(installers_path(settings)), str(installers_path(settings))
        return
    async with s3_client(options) as client:
        yield S3InstallerStore(client, options), f"s3://{options.bucket}/{options.prefix}{INSTALLERS_FOLDER}"


@asynccontextmanager
async def open_services(settings: Settings, *, runtime: ServerRuntime | None = None) -> AsyncIterator[Services]:
    """Open the Postgres pool and the Redis client, yield the services, close both on exit.

    ``settings.database_url`` and ``settings.redis_url`` must be set by now: starting the
    embedded servers when they are not is the command line's job. ``runtime`` defaults to
    what the settings describe.

    Raises:
        SettingsError: a URL is missing.
        Unavailable: Postgres did not accept a connection in time.
    """
    if settings.database_url is None or settings.redis_url is None:
        raise SettingsError("open_services needs database_url and redis_url to be set")
    runtime = runtime if runtime is not None else server_runtime(settings)
    async with connection_pool(settings.database_url, reconnect_timeout=POSTGRES_RECONNECT_TIMEOUT_SECONDS) as pool:
        # redis-py's default pool refuses the 101st concurrent command ("Too many connections"),
        # which the live-query benchmark hit under load; commands now wait for a free connection.
        # Each live-query stream holds one connection for its subscription, hence the headroom.
        r = MeteredRedis.from_pool(redis.asyncio.BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=REDIS_MAX_CONNECTIONS, timeout=REDIS_POOL_WAIT_SECONDS,
            **REDIS_FAULT_OPTIONS))
        # Resubscribing at most ~2 s apart (its default is 5) keeps a process's caches in step within
        # the 5 s the server has to recover in after Redis returns.
        bus = RedisInvalidationBus(r, backoff_max=REDIS_RESUBSCRIBE_MAX_SECONDS)
        await bus.start()
        try:
            async with AsyncExitStack() as stores:
                await stores.enter_async_context(sampling_pool(pool))
                carve_store, installers = await _object_stores(settings, pool, stores)
                logs = await stores.enter_async_context(open_log_destinations(settings))
                # Every destination reports its batches; the metrics count them per destination.
                stores.callback(on_delivery(count_log_delivery))
                yield make_services(
                    uow=lambda: PgUnitOfWork(pool),
                    hasher=Argon2PasswordHasher(),
                    tokens=SecretsTokenGenerator(),
                    clock=SystemClock(),
                    mailer=SMTPMailer(),
                    rate_limiter=RedisRateLimiter(r, fallback=InMemoryRateLimiter(SystemClock())),
                    health=BackendHealth(pool, r),
                    runtime=runtime,
                    bus=bus,
                    logs=logs,
                    schedule_lock=PgScheduleLock(pool),
                    database_diagnostics=PgDatabaseDiagnostics(pool),
                    process_diagnostics=PythonProcessDiagnostics(),
                    webhook_sender=MeteredWebhookSender(HttpWebhookSender()),
                    ticket_sender=HttpTicketSystems(),
                    integration_checker=HttpTicketSystems(),
                    live_store=RedisLiveQueryStore(r),
                    vulnerability_feed=build_vulnerability_feed(runtime.vulnerabilities),
                    error_reports=RedisErrorReportStore(r),
                    installers=installers,
                    carve_store=carve_store,
                    saml=OneLoginServiceProvider(),
                    sso_store=RedisSSOStateStore(r),
                    metrics=PrometheusMetrics(),
                )
        finally:
            await bus.stop()
            # Redis first, then (leaving the block) the pool: the reverse of opening.
            await r.aclose()
