"""The DeviceTokenRepository contract (Fleet Desktop's device tokens), in memory and on Postgres."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.ports import UnitOfWorkFactory
from tests.contract.test_host_repository import enroll

pytestmark = pytest.mark.anyio

HOUR = dt.timedelta(hours=1)


async def test_device_tokens_name_one_host_each(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        one = await enroll(uow, "one", at)
        two = await enroll(uow, "two", at)
        await uow.device_tokens.replace(one, "hash-1", at=at, expires_at=at + HOUR)
        await uow.device_tokens.replace(two, "hash-2", at=at, expires_at=at + HOUR)
        with pytest.raises(AlreadyExists):
            await uow.device_tokens.replace(two, "hash-1", at=at, expires_at=at + HOUR)
        with pytest.raises(NotFound):
            await uow.device_tokens.replace(999, "hash-3", at=at, expires_at=at + HOUR)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.device_tokens.host_id("hash-1", now=at) == one
        # A new token replaces the old one.
        await uow.device_tokens.replace(one, "hash-1b", at=at, expires_at=at + HOUR)
        assert await uow.device_tokens.host_id("hash-1", now=at) is None
        assert await uow.device_tokens.host_id("hash-1b", now=at) == one
        await uow.hosts.delete([two])
        assert await uow.device_tokens.host_id("hash-2", now=at) is None
        assert await uow.device_tokens.host_id("unknown", now=at) is None


async def test_a_token_is_valid_until_its_expiry_only(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host = await enroll(uow, "laptop", at)
        await uow.device_tokens.replace(host, "hash", at=at, expires_at=at + HOUR)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.device_tokens.host_id("hash", now=at + HOUR - dt.timedelta(microseconds=1)) == host
        assert await uow.device_tokens.host_id("hash", now=at + HOUR) is None
        assert await uow.device_tokens.host_id("hash", now=at + 2 * HOUR) is None


async def test_extend_moves_the_expiry_of_the_hosts_current_token_only(uow_factory: UnitOfWorkFactory,
                                                                        at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host = await enroll(uow, "laptop", at)
        other = await enroll(uow, "other", at)
        await uow.device_tokens.replace(host, "hash", at=at, expires_at=at + HOUR)
        await uow.device_tokens.replace(other, "other-hash", at=at, expires_at=at + HOUR)
        await uow.commit()

    later = at + 3 * HOUR
    async with uow_factory() as uow:
        # Expired, and still the host's: extending it revives it.
        assert await uow.device_tokens.host_id("hash", now=later) is None
        assert await uow.device_tokens.extend(host, "hash", expires_at=later + HOUR) is True
        # Another host's token, or one the host does not hold, is not touched.
        assert await uow.device_tokens.extend(host, "other-hash", expires_at=later + HOUR) is False
        assert await uow.device_tokens.extend(host, "unknown", expires_at=later + HOUR) is False
        assert await uow.device_tokens.extend(999, "hash", expires_at=later + HOUR) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.device_tokens.host_id("hash", now=later) == host
        assert await uow.device_tokens.host_id("other-hash", now=later) is None


async def test_an_uncommitted_replacement_leaves_the_old_token(uow_factory: UnitOfWorkFactory,
                                                               at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host = await enroll(uow, "laptop", at)
        await uow.device_tokens.replace(host, "old", at=at, expires_at=at + HOUR)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.device_tokens.replace(host, "new", at=at, expires_at=at + HOUR)
    async with uow_factory() as uow:
        assert await uow.device_tokens.host_id("old", now=at) == host
        assert await uow.device_tokens.host_id("new", now=at) is None
