"""What the Postgres adapters raise when the database fails or refuses, beyond the port contracts."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from psycopg import sql

from fleet_adapters.postgres.pool import open_pool
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_core.errors import AlreadyExists, InvalidArgument, Unavailable
from fleet_core.model.users import NewUser

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_an_unreachable_server_is_unavailable_within_the_wait(tmp_path) -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await open_pool(f"host={tmp_path} dbname=nothing connect_timeout=1", wait_seconds=0.5)
    assert time.monotonic() - started < 5
    assert str(caught.value) == "database unavailable"


async def test_a_database_that_went_away_is_unavailable_not_a_driver_error(postgres_server) -> None:
    name = f"fleet_doomed_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(postgres_server.template)))
    pool = await open_pool(postgres_server.conninfo(name), wait_seconds=1.0)
    try:
        with psycopg.connect(postgres_server.admin_conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        with pytest.raises(Unavailable):
            async with PgUnitOfWork(pool) as uow:
                await uow.users.count()
    finally:
        await pool.close()


async def test_a_role_outside_the_schema_is_an_invalid_argument(pg_uow_factory) -> None:
    async with pg_uow_factory() as uow:
        with pytest.raises(InvalidArgument) as caught:
            await uow.users.add(NewUser(name="X", email="x@example.com", password_hash="h",
                                        global_role="superuser"))  # type: ignore[arg-type]
    assert caught.value.problems == (("global_role", "must be one of admin, maintainer, observer"),)


async def test_a_refusal_never_carries_the_driver_text_or_the_value(pg_uow_factory, at) -> None:
    async with pg_uow_factory() as uow:
        team = await uow.teams.add(name="T", description="", at=at)
        await uow.enroll_secrets.replace(team.id, ["hunter2-enroll-secret"], at)
        with pytest.raises(AlreadyExists) as caught:
            await uow.enroll_secrets.replace(None, ["hunter2-enroll-secret"], at)

    assert "hunter2" not in str(caught.value)
    # Chained driver errors would put the secret into any logged traceback.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True
