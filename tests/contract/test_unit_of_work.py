"""UnitOfWork contract (fleet_core.ports): one transaction, nothing kept without commit()."""

from __future__ import annotations

import pytest

from fleet_core.errors import AlreadyExists
from fleet_core.model.config import AppConfig, OrgInfo
from fleet_core.ports import UnitOfWorkFactory

pytestmark = pytest.mark.anyio


async def test_leaving_without_commit_discards_every_write(uow_factory: UnitOfWorkFactory, add_user, at) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "ghost@example.com")
        await uow.teams.add(name="Ghosts", description="", at=at)
        await uow.enroll_secrets.replace(None, ["ghost-secret"], at)
        await uow.app_config.save(AppConfig(org_info=OrgInfo(org_name="Ghost Org")))
        # Visible inside the unit of work that wrote it.
        assert await uow.users.get(user.id) == user

    async with uow_factory() as uow:
        assert await uow.users.count() == 0
        assert await uow.teams.get_many(range(1, 5)) == []
        assert await uow.enroll_secrets.find("ghost-secret") is None
        assert await uow.app_config.get() == AppConfig()


async def test_commit_makes_writes_visible_to_later_units_of_work(
    uow_factory: UnitOfWorkFactory, add_user
) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "kept@example.com")
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) == user


async def test_writes_after_a_commit_need_a_commit_of_their_own(uow_factory: UnitOfWorkFactory, add_user) -> None:
    async with uow_factory() as uow:
        kept = await add_user(uow, "kept@example.com")
        await uow.commit()
        await add_user(uow, "dropped@example.com")

    async with uow_factory() as uow:
        assert await uow.users.count() == 1
        assert await uow.users.get(kept.id) == kept


async def test_an_exception_in_the_block_rolls_back(uow_factory: UnitOfWorkFactory, add_user) -> None:
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await add_user(uow, "doomed@example.com")
            raise RuntimeError("the service gave up")

    async with uow_factory() as uow:
        assert await uow.users.get_by_email("doomed@example.com") is None


async def test_a_refused_write_does_not_spoil_the_rest_of_the_unit_of_work(
    uow_factory: UnitOfWorkFactory, add_user, at
) -> None:
    async with uow_factory() as uow:
        await add_user(uow, "first@example.com")
        with pytest.raises(AlreadyExists):
            await add_user(uow, "FIRST@example.com")
        await uow.teams.add(name="Dup", description="", at=at)
        with pytest.raises(AlreadyExists):
            await uow.teams.add(name="Dup", description="again", at=at)
        await add_user(uow, "second@example.com")
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.count() == 2
        assert [t.name for t in await uow.teams.get_many(range(1, 5))] == ["Dup"]
