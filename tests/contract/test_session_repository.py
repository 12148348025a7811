"""SessionRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.model.users import Session
from fleet_core.ports import UnitOfWorkFactory

pytestmark = pytest.mark.anyio

HOUR = dt.timedelta(hours=1)


async def test_a_session_is_found_by_id_and_by_token_hash(uow_factory: UnitOfWorkFactory, add_user, at) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "s@example.com")
        session = await uow.sessions.add(user_id=user.id, token_hash="hash-1", at=at)
        await uow.commit()

    assert session == Session(id=session.id, user_id=user.id, created_at=at, accessed_at=at)
    async with uow_factory() as uow:
        assert await uow.sessions.get(session.id) == session
        assert await uow.sessions.get_by_token_hash("hash-1") == session
        assert await uow.sessions.get_by_token_hash("hash-2") is None
        assert await uow.sessions.get(session.id + 1000) is None


async def test_a_users_sessions_are_listed_oldest_first(uow_factory: UnitOfWorkFactory, add_user, at) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "s@example.com")
        other = await add_user(uow, "o@example.com")
        newest = await uow.sessions.add(user_id=user.id, token_hash="h-newest", at=at + 2 * HOUR)
        oldest = await uow.sessions.add(user_id=user.id, token_hash="h-oldest", at=at)
        same_time = await uow.sessions.add(user_id=user.id, token_hash="h-same", at=at)
        await uow.sessions.add(user_id=other.id, token_hash="h-other", at=at)

        assert await uow.sessions.list_for_user(user.id) == [oldest, same_time, newest]
        assert await uow.sessions.list_for_user(user.id + 1000) == []


async def test_touch_records_the_access_and_ignores_missing_sessions(
    uow_factory: UnitOfWorkFactory, add_user, at
) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "s@example.com")
        session = await uow.sessions.add(user_id=user.id, token_hash="h", at=at)
        await uow.sessions.touch(session.id, at + HOUR)
        await uow.sessions.touch(session.id + 1000, at + HOUR)
        await uow.commit()

    async with uow_factory() as uow:
        touched = await uow.sessions.get(session.id)
    assert (touched.created_at, touched.accessed_at) == (at, at + HOUR)


async def test_delete_removes_one_session(uow_factory: UnitOfWorkFactory, add_user, at) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "s@example.com")
        gone = await uow.sessions.add(user_id=user.id, token_hash="h1", at=at)
        kept = await uow.sessions.add(user_id=user.id, token_hash="h2", at=at)

        assert await uow.sessions.delete(gone.id) is True
        assert await uow.sessions.delete(gone.id) is False
        assert await uow.sessions.list_for_user(user.id) == [kept]


async def test_delete_for_user_keeps_the_excepted_session_and_other_users_sessions(
    uow_factory: UnitOfWorkFactory, add_user, at
) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "s@example.com")
        other = await add_user(uow, "o@example.com")
        mine = [await uow.sessions.add(user_id=user.id, token_hash=f"h{i}", at=at) for i in range(3)]
        theirs = await uow.sessions.add(user_id=other.id, token_hash="theirs", at=at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.sessions.delete_for_user(user.id, except_id=mine[1].id) == 2
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.list_for_user(user.id) == [mine[1]]
        assert await uow.sessions.list_for_user(other.id) == [theirs]
        assert await uow.sessions.delete_for_user(user.id) == 1
        assert await uow.sessions.delete_for_user(user.id) == 0
        assert await uow.sessions.list_for_user(other.id) == [theirs]
