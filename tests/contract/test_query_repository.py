"""QueryRepository contract (fleet_core.ports): scoped unique names, listing, updates, deletes."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound
from fleet_core.model.queries import QueryFields
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.paging import Direction, ListOptions
from tests.contract.conftest import AddTeam, AddUser

pytestmark = pytest.mark.anyio


def fields(name: str, **extra: object) -> QueryFields:
    return QueryFields(name=name, query=f"SELECT '{name}';", **extra)  # type: ignore[arg-type]


async def test_add_stores_every_field_and_joins_the_author(uow_factory: UnitOfWorkFactory, add_user: AddUser,
                                                           at: dt.datetime) -> None:
    async with uow_factory() as uow:
        author = await add_user(uow, "ann@example.com")
        saved = await uow.queries.add(
            fields("uptime", description="how long", observer_can_run=True, interval=3600,
                   platform="darwin,linux", min_osquery_version="5.0.1", automations_enabled=True,
                   logging="differential"),
            team_id=None, author_id=author.id, at=at)
        await uow.commit()

    async with uow_factory() as uow:
        got = await uow.queries.get(saved.id)

    assert got == saved
    assert (got.name, got.query, got.description, got.team_id) == ("uptime", "SELECT 'uptime';", "how long", None)
    assert (got.observer_can_run, got.interval, got.platform, got.min_osquery_version) == (
        True, 3600, "darwin,linux", "5.0.1")
    assert (got.automations_enabled, got.logging) == (True, "differential")
    assert (got.author_id, got.author_name, got.author_email) == (author.id, "Ann", "ann@example.com")
    assert got.created_at == got.updated_at == at


async def test_get_of_an_unknown_id_is_none(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.queries.get(999) is None


async def test_a_deleted_author_leaves_the_query_with_empty_author_fields(
        uow_factory: UnitOfWorkFactory, add_user: AddUser, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        author = await add_user(uow, "gone@example.com")
        saved = await uow.queries.add(fields("orphan"), team_id=None, author_id=author.id, at=at)
        await uow.users.delete(author.id)
        got = await uow.queries.get(saved.id)

    assert got is not None
    assert (got.author_id, got.author_name, got.author_email) == (author.id, "", "")


async def test_names_are_unique_per_scope(uow_factory: UnitOfWorkFactory, add_team: AddTeam,
                                         at: dt.datetime) -> None:
    async with uow_factory() as uow:
        one = await add_team(uow, "one")
        two = await add_team(uow, "two")
        await uow.queries.add(fields("same"), team_id=None, author_id=None, at=at)
        await uow.queries.add(fields("same"), team_id=one.id, author_id=None, at=at)
        await uow.queries.add(fields("same"), team_id=two.id, author_id=None, at=at)
        with pytest.raises(AlreadyExists):
            await uow.queries.add(fields("same"), team_id=None, author_id=None, at=at)
        with pytest.raises(AlreadyExists):
            await uow.queries.add(fields("same"), team_id=one.id, author_id=None, at=at)
        # The failed inserts leave the unit of work usable.
        await uow.queries.add(fields("other"), team_id=one.id, author_id=None, at=at)
        await uow.commit()

    async with uow_factory() as uow:
        global_one = await uow.queries.get_by_name("same", team_id=None)
        team_one = await uow.queries.get_by_name("same", team_id=one.id)
        assert await uow.queries.get_by_name("other", team_id=None) is None
        assert await uow.queries.get_by_name("SAME", team_id=None) is None

    assert global_one is not None and global_one.team_id is None
    assert team_one is not None and team_one.team_id == one.id


async def test_add_to_an_unknown_team_is_not_found(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.queries.add(fields("lost"), team_id=999, author_id=None, at=at)


async def test_list_is_scoped_searched_ordered_and_paged(uow_factory: UnitOfWorkFactory, add_team: AddTeam,
                                                        at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "t")
        for name, interval in (("beta", 30), ("Alpha", 10), ("gamma", 20)):
            await uow.queries.add(fields(name, interval=interval), team_id=None, author_id=None, at=at)
        await uow.queries.add(fields("team alpha"), team_id=team.id, author_id=None, at=at)
        await uow.commit()

    async with uow_factory() as uow:
        by_id = await uow.queries.list(ListOptions(), team_id=None)
        by_name = await uow.queries.list(ListOptions(order_key="name"), team_id=None)
        by_interval_desc = await uow.queries.list(
            ListOptions(order_key="interval", order_direction=Direction.DESC), team_id=None)
        searched = await uow.queries.list(ListOptions(query="ALPH"), team_id=None)
        paged = await uow.queries.list(ListOptions(order_key="name", page=1, per_page=2), team_id=None)
        team_only = await uow.queries.list(ListOptions(), team_id=team.id)
        with pytest.raises(InvalidArgument):
            await uow.queries.list(ListOptions(order_key="nope"), team_id=None)

    assert [q.name for q in by_id] == ["beta", "Alpha", "gamma"]
    assert [q.name for q in by_name] == ["Alpha", "beta", "gamma"]
    assert [q.name for q in by_interval_desc] == ["beta", "gamma", "Alpha"]
    assert [q.name for q in searched] == ["Alpha"]
    assert [q.name for q in paged] == ["gamma"]
    assert [q.name for q in team_only] == ["team alpha"]


async def test_update_replaces_the_fields_and_keeps_names_unique(uow_factory: UnitOfWorkFactory,
                                                                 at: dt.datetime) -> None:
    later = at + dt.timedelta(hours=1)
    async with uow_factory() as uow:
        first = await uow.queries.add(fields("first"), team_id=None, author_id=None, at=at)
        await uow.queries.add(fields("second"), team_id=None, author_id=None, at=at)
        with pytest.raises(AlreadyExists):
            await uow.queries.update(first.id, fields("second"), later)
        with pytest.raises(NotFound):
            await uow.queries.update(999, fields("third"), later)
        updated = await uow.queries.update(first.id, fields("renamed", logging="differential_ignore_removals",
                                                            observer_can_run=True), later)
        await uow.commit()

    async with uow_factory() as uow:
        got = await uow.queries.get(first.id)

    assert got == updated
    assert (got.name, got.query, got.logging, got.observer_can_run) == (
        "renamed", "SELECT 'renamed';", "differential_ignore_removals", True)
    assert (got.created_at, got.updated_at) == (at, later)


async def test_delete_and_delete_many_report_what_existed(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        ids = [(await uow.queries.add(fields(f"q{i}"), team_id=None, author_id=None, at=at)).id for i in range(4)]
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.queries.delete(ids[0]) is True
        assert await uow.queries.delete(ids[0]) is False
        assert await uow.queries.delete_many([ids[3], ids[1], 999, ids[1]]) == [ids[1], ids[3]]
        assert await uow.queries.delete_many([999]) == []
        await uow.commit()

    async with uow_factory() as uow:
        assert [q.id for q in await uow.queries.list(ListOptions(), team_id=None)] == [ids[2]]


async def test_uncommitted_queries_are_discarded(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        await uow.queries.add(fields("draft"), team_id=None, author_id=None, at=at)

    async with uow_factory() as uow:
        assert await uow.queries.list(ListOptions(), team_id=None) == []


async def test_deleting_a_team_deletes_its_queries(uow_factory: UnitOfWorkFactory, add_team: AddTeam,
                                                   at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "doomed")
        saved = await uow.queries.add(fields("team query"), team_id=team.id, author_id=None, at=at)
        kept = await uow.queries.add(fields("global query"), team_id=None, author_id=None, at=at)
        await uow.commit()

    async with uow_factory() as uow:
        await uow.teams.delete(team.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.queries.get(saved.id) is None
        assert await uow.queries.get(kept.id) is not None
