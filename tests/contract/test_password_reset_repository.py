"""PasswordResetRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import NotFound
from fleet_core.ports import UnitOfWorkFactory

pytestmark = pytest.mark.anyio

HOUR = dt.timedelta(hours=1)


async def test_a_token_works_once(uow_factory: UnitOfWorkFactory, add_user, at) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "r@example.com")
        await uow.password_resets.add(user_id=user.id, token_hash="reset-1", expires_at=at + HOUR)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.password_resets.consume("reset-1", now=at) == user.id
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.password_resets.consume("reset-1", now=at) is None


async def test_an_uncommitted_consume_leaves_the_token_usable(uow_factory: UnitOfWorkFactory, add_user, at) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "r@example.com")
        await uow.password_resets.add(user_id=user.id, token_hash="reset-1", expires_at=at + HOUR)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.password_resets.consume("reset-1", now=at) == user.id
    async with uow_factory() as uow:
        assert await uow.password_resets.consume("reset-1", now=at) == user.id


async def test_an_expired_token_fails_and_is_gone(uow_factory: UnitOfWorkFactory, add_user, at) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "r@example.com")
        await uow.password_resets.add(user_id=user.id, token_hash="old", expires_at=at)
        assert await uow.password_resets.consume("old", now=at + dt.timedelta(seconds=1)) is None
        # Consuming deletes the request even when it had expired.
        assert await uow.password_resets.consume("old", now=at - HOUR) is None


async def test_unknown_tokens_and_users(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        assert await uow.password_resets.consume("never-issued", now=at) is None
        with pytest.raises(NotFound):
            await uow.password_resets.add(user_id=4242, token_hash="orphan", expires_at=at + HOUR)


async def test_delete_for_user_forgets_only_that_users_requests(
    uow_factory: UnitOfWorkFactory, add_user, at
) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "r@example.com")
        other = await add_user(uow, "o@example.com")
        await uow.password_resets.add(user_id=user.id, token_hash="mine-1", expires_at=at + HOUR)
        await uow.password_resets.add(user_id=user.id, token_hash="mine-2", expires_at=at + HOUR)
        await uow.password_resets.add(user_id=other.id, token_hash="theirs", expires_at=at + HOUR)
        await uow.password_resets.delete_for_user(user.id)

        assert await uow.password_resets.consume("mine-1", now=at) is None
        assert await uow.password_resets.consume("mine-2", now=at) is None
        assert await uow.password_resets.consume("theirs", now=at) == other.id
