"""TeamRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.teams import Team
from fleet_core.ports import UnitOfWorkFactory

pytestmark = pytest.mark.anyio


async def test_an_added_team_is_found_by_id(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        team = await uow.teams.add(name="Servers", description="Linux fleet", at=at)
        await uow.commit()

    assert team == Team(id=team.id, name="Servers", description="Linux fleet", created_at=at)
    async with uow_factory() as uow:
        assert await uow.teams.get(team.id) == team
        assert await uow.teams.get(team.id + 1000) is None


async def test_a_taken_name_is_refused_whatever_its_case(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        await uow.teams.add(name="Laptops", description="", at=at)
        with pytest.raises(AlreadyExists):
            await uow.teams.add(name="Laptops", description="again", at=at)
        with pytest.raises(AlreadyExists):
            await uow.teams.add(name="LAPTOPS", description="shouting", at=at)
        await uow.teams.add(name="Desktops", description="", at=at)
        await uow.commit()

    async with uow_factory() as uow:
        assert [t.name for t in await uow.teams.get_many(range(1, 10))] == ["Laptops", "Desktops"]


async def test_get_many_returns_the_existing_teams_in_id_order(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        a, b, c = [await uow.teams.add(name=n, description="", at=at) for n in ("A", "B", "C")]

        assert await uow.teams.get_many([c.id, a.id, c.id + 100, b.id, a.id]) == [a, b, c]
        assert await uow.teams.get_many([b.id]) == [b]
        assert await uow.teams.get_many([]) == []


async def test_agent_options_are_stored_per_team_and_cleared_with_none(uow_factory: UnitOfWorkFactory, at) -> None:
    options = {"config": {"options": {"distributed_interval": 30}}}
    async with uow_factory() as uow:
        team = await uow.teams.add(name="Options", description="", at=at)
        assert team.agent_options is None
        await uow.teams.set_agent_options(team.id, options)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.teams.get(team.id)
        assert stored is not None and stored.agent_options == options
        await uow.teams.set_agent_options(team.id, None)
        await uow.commit()
    async with uow_factory() as uow:
        cleared = await uow.teams.get(team.id)
        assert cleared is not None and cleared.agent_options is None
        with pytest.raises(NotFound):
            await uow.teams.set_agent_options(team.id + 1000, options)
