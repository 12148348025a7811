"""EnrollSecretRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.secrets import EnrollSecret
from fleet_core.ports import UnitOfWorkFactory

pytestmark = pytest.mark.anyio

DAY = dt.timedelta(days=1)


async def test_replace_makes_the_given_secrets_the_whole_set(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        first = await uow.enroll_secrets.replace(None, ["b-secret", "a-secret"], at)
        await uow.commit()

    # Secrets created together come back in secret order (the tie breaker after created_at).
    assert first == [EnrollSecret("a-secret", None, at), EnrollSecret("b-secret", None, at)]
    async with uow_factory() as uow:
        assert await uow.enroll_secrets.list(None) == first
        assert await uow.enroll_secrets.find("a-secret") == EnrollSecret("a-secret", None, at)


async def test_survivors_keep_their_created_at_and_dropped_secrets_are_gone(
    uow_factory: UnitOfWorkFactory, at
) -> None:
    async with uow_factory() as uow:
        await uow.enroll_secrets.replace(None, ["keep", "drop"], at)
        await uow.commit()

    async with uow_factory() as uow:
        second = await uow.enroll_secrets.replace(None, ["new", "keep", "new"], at + DAY)
        await uow.commit()

    assert second == [EnrollSecret("keep", None, at), EnrollSecret("new", None, at + DAY)]
    async with uow_factory() as uow:
        assert await uow.enroll_secrets.find("drop") is None
        assert await uow.enroll_secrets.list(None) == second


async def test_team_and_global_sets_are_independent(uow_factory: UnitOfWorkFactory, add_team, at) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "Servers")
        other = await add_team(uow, "Laptops")
        await uow.enroll_secrets.replace(None, ["global"], at)
        await uow.enroll_secrets.replace(team.id, ["team-1", "team-2"], at + DAY)
        await uow.enroll_secrets.replace(other.id, ["other"], at)

        assert await uow.enroll_secrets.list(team.id) == [
            EnrollSecret("team-1", team.id, at + DAY), EnrollSecret("team-2", team.id, at + DAY)]
        assert await uow.enroll_secrets.replace(team.id, [], at) == []
        assert await uow.enroll_secrets.list(team.id) == []
        assert await uow.enroll_secrets.list(None) == [EnrollSecret("global", None, at)]
        assert await uow.enroll_secrets.find("other") == EnrollSecret("other", other.id, at)


async def test_a_secret_of_another_team_is_refused_and_nothing_changes(
    uow_factory: UnitOfWorkFactory, add_team, at
) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "Servers")
        await uow.enroll_secrets.replace(team.id, ["taken"], at)
        await uow.enroll_secrets.replace(None, ["mine"], at)

        with pytest.raises(AlreadyExists):
            await uow.enroll_secrets.replace(None, ["fresh", "taken"], at + DAY)

        assert await uow.enroll_secrets.list(None) == [EnrollSecret("mine", None, at)]
        assert await uow.enroll_secrets.find("fresh") is None
        assert await uow.enroll_secrets.find("taken") == EnrollSecret("taken", team.id, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.enroll_secrets.list(None) == [EnrollSecret("mine", None, at)]


async def test_find_matches_exactly(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        await uow.enroll_secrets.replace(None, ["CaseSensitive"], at)

        assert await uow.enroll_secrets.find("casesensitive") is None
        assert await uow.enroll_secrets.find("CaseSensitiv") is None
        assert await uow.enroll_secrets.find("CaseSensitive") is not None


async def test_an_unknown_team_is_not_found(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.enroll_secrets.replace(404, ["s"], at)
        assert await uow.enroll_secrets.find("s") is None


async def test_all_lists_global_and_team_secrets_by_secret(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        team = await uow.teams.add(name="Apples", description="", at=at)
        await uow.enroll_secrets.replace(None, ["global-b"], at)
        await uow.enroll_secrets.replace(team.id, ["team-a"], at)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.enroll_secrets.all() == [
            EnrollSecret("global-b", None, at), EnrollSecret("team-a", team.id, at)]
