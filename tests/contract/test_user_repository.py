"""UserRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

import attrs
import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.users import NewUser, Role, TeamRole
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.paging import Direction, ListOptions

pytestmark = pytest.mark.anyio


async def test_an_added_user_comes_back_with_named_teams_in_team_id_order(
    uow_factory: UnitOfWorkFactory, add_team, at
) -> None:
    async with uow_factory() as uow:
        red = await add_team(uow, "Red")
        blue = await add_team(uow, "Blue")
        added = await uow.users.add(NewUser(
            name="Ada Lovelace", email="ada@example.com", password_hash="h1",
            global_role=None, position="Countess", api_only=True, sso_enabled=True,
            force_password_reset=True,
            teams=(TeamRole(blue.id, Role.MAINTAINER), TeamRole(red.id, Role.OBSERVER)),
        ))
        await uow.commit()

    async with uow_factory() as uow:
        fetched = await uow.users.get(added.id)

    assert fetched == added
    assert (fetched.name, fetched.email, fetched.password_hash, fetched.global_role) == (
        "Ada Lovelace", "ada@example.com", "h1", None)
    assert (fetched.position, fetched.api_only, fetched.sso_enabled, fetched.force_password_reset) == (
        "Countess", True, True, True)
    assert fetched.teams == (
        TeamRole(red.id, Role.OBSERVER, "Red"),
        TeamRole(blue.id, Role.MAINTAINER, "Blue"),
    )
    assert fetched.created_at == fetched.updated_at
    assert fetched.created_at.tzinfo is not None


async def test_emails_are_looked_up_case_insensitively(uow_factory: UnitOfWorkFactory, add_user) -> None:
    async with uow_factory() as uow:
        added = await add_user(uow, "Grace.Hopper@Example.com")

        assert await uow.users.get_by_email("grace.hopper@example.COM") == added
        assert await uow.users.get_by_email("grace@example.com") is None
        assert await uow.users.get(added.id + 1000) is None


async def test_an_email_taken_in_another_case_is_refused_and_the_unit_of_work_stays_usable(
    uow_factory: UnitOfWorkFactory, add_user
) -> None:
    async with uow_factory() as uow:
        await add_user(uow, "alan@example.com")
        with pytest.raises(AlreadyExists):
            await add_user(uow, "ALAN@example.com", name="Impostor")
        other = await add_user(uow, "joan@example.com")
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.count() == 2
        assert (await uow.users.get_by_email("alan@example.com")).name == "Alan"
        assert await uow.users.get(other.id) == other


async def test_an_unknown_team_is_not_found_and_the_user_is_not_stored(
    uow_factory: UnitOfWorkFactory, add_user, add_team
) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "Only")
        with pytest.raises(NotFound):
            await add_user(uow, "edsger@example.com", teams=(
                TeamRole(team.id, Role.ADMIN), TeamRole(team.id + 999, Role.ADMIN)))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get_by_email("edsger@example.com") is None
        assert await uow.users.count() == 0


async def test_update_stores_every_field_and_replaces_the_teams(
    uow_factory: UnitOfWorkFactory, add_user, add_team
) -> None:
    async with uow_factory() as uow:
        old_team = await add_team(uow, "Old")
        new_team = await add_team(uow, "New")
        user = await add_user(uow, "barbara@example.com", teams=(TeamRole(old_team.id, Role.ADMIN),))
        await uow.commit()

    changed = attrs.evolve(
        user, name="Barbara Liskov", email="Liskov@example.com", password_hash="h2",
        global_role=Role.ADMIN, sso_enabled=True, api_only=True, force_password_reset=True,
        position="Professor", gravatar_url="https://gravatar.example/b",
        teams=(TeamRole(new_team.id, Role.MAINTAINER),),
    )
    async with uow_factory() as uow:
        stored = await uow.users.update(changed)
        await uow.commit()

    async with uow_factory() as uow:
        fetched = await uow.users.get(user.id)
    assert fetched == stored
    assert attrs.evolve(fetched, updated_at=changed.updated_at) == attrs.evolve(
        changed, teams=(TeamRole(new_team.id, Role.MAINTAINER, "New"),))
    assert fetched.updated_at > user.updated_at
    assert fetched.created_at == user.created_at


async def test_update_may_change_only_the_case_of_the_users_own_email(
    uow_factory: UnitOfWorkFactory, add_user
) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "niklaus@example.com")
        stored = await uow.users.update(attrs.evolve(user, email="Niklaus@Example.com"))
    assert stored.email == "Niklaus@Example.com"


async def test_update_refuses_a_taken_email_and_a_missing_user(
    uow_factory: UnitOfWorkFactory, add_user
) -> None:
    async with uow_factory() as uow:
        first = await add_user(uow, "ken@example.com")
        await add_user(uow, "dennis@example.com")
        with pytest.raises(AlreadyExists):
            await uow.users.update(attrs.evolve(first, email="DENNIS@example.com", name="Changed"))
        with pytest.raises(NotFound):
            await uow.users.update(attrs.evolve(first, id=first.id + 1000))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(first.id) == first


async def test_update_with_an_unknown_team_is_not_found_and_keeps_the_old_teams(
    uow_factory: UnitOfWorkFactory, add_user, add_team
) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "Kept")
        user = await add_user(uow, "john@example.com", teams=(TeamRole(team.id, Role.OBSERVER),))
        with pytest.raises(NotFound):
            await uow.users.update(attrs.evolve(user, name="Changed", teams=(TeamRole(team.id + 50, Role.ADMIN),)))
        assert await uow.users.get(user.id) == user


async def test_delete_removes_the_user_and_its_sessions(
    uow_factory: UnitOfWorkFactory, add_user, at
) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "linus@example.com")
        keeper = await add_user(uow, "keeper@example.com")
        session = await uow.sessions.add(user_id=user.id, token_hash="t-linus", at=at)
        kept_session = await uow.sessions.add(user_id=keeper.id, token_hash="t-keeper", at=at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.delete(user.id) is True
        assert await uow.users.delete(user.id) is False
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) is None
        assert await uow.sessions.get(session.id) is None
        assert await uow.sessions.get_by_token_hash("t-linus") is None
        assert await uow.sessions.get(kept_session.id) == kept_session
        assert await uow.users.count() == 1


async def test_count_counts_every_user(uow_factory: UnitOfWorkFactory, add_user) -> None:
    async with uow_factory() as uow:
        assert await uow.users.count() == 0
        for i in range(3):
            await add_user(uow, f"user{i}@example.com")
        assert await uow.users.count() == 3


async def test_list_searches_name_and_email_as_a_literal_case_insensitive_substring(
    uow_factory: UnitOfWorkFactory, add_user
) -> None:
    async with uow_factory() as uow:
        by_name = await add_user(uow, "a@example.com", name="Margaret HAMILTON")
        by_email = await add_user(uow, "hamilton.fan@example.com", name="Someone")
        percent = await add_user(uow, "p@example.com", name="100% sure")
        underscore = await add_user(uow, "snake_case@example.com", name="Snake")
        await add_user(uow, "other@example.com", name="Percent and underscores: 100 x")

        async def ids(query: str) -> list[int]:
            return [u.id for u in await uow.users.list(ListOptions(query=query))]

        assert await ids("hamilton") == [by_name.id, by_email.id]
        assert await ids("0% S") == [percent.id]
        assert await ids("e_c") == [underscore.id]
        assert await ids("nobody") == []
        assert len(await ids("")) == 5


async def test_list_orders_by_the_key_with_ties_by_id_and_nulls_last(
    uow_factory: UnitOfWorkFactory, add_user
) -> None:
    async with uow_factory() as uow:
        b1 = await add_user(uow, "b1@example.com", name="bob", global_role=Role.MAINTAINER)
        a = await add_user(uow, "a@example.com", name="Alice", global_role=None)
        b2 = await add_user(uow, "b2@example.com", name="Bob", global_role=Role.ADMIN)
        c = await add_user(uow, "c@example.com", name="carol", global_role=None)

        async def ids(key: str | None, direction: Direction = Direction.ASC) -> list[int]:
            options = ListOptions(order_key=key, order_direction=direction)
            return [u.id for u in await uow.users.list(options)]

        assert await ids(None) == [b1.id, a.id, b2.id, c.id]
        assert await ids("name") == [a.id, b1.id, b2.id, c.id]
        assert await ids("name", Direction.DESC) == [c.id, b1.id, b2.id, a.id]
        assert await ids("global_role") == [b2.id, b1.id, a.id, c.id]
        assert await ids("global_role", Direction.DESC) == [b1.id, b2.id, a.id, c.id]
        assert await ids("id", Direction.DESC) == [c.id, b2.id, a.id, b1.id]


async def test_list_pages_never_overlap(uow_factory: UnitOfWorkFactory, add_user) -> None:
    async with uow_factory() as uow:
        added = [await add_user(uow, f"u{i}@example.com", name="Same Name") for i in range(7)]
        pages = [
            [u.id for u in await uow.users.list(ListOptions(page=p, per_page=3, order_key="name"))]
            for p in range(4)
        ]
    assert pages == [
        [u.id for u in added[0:3]], [u.id for u in added[3:6]], [added[6].id], []]


async def test_list_filters_by_team_and_by_any_of_several_teams(
    uow_factory: UnitOfWorkFactory, add_user, add_team
) -> None:
    async with uow_factory() as uow:
        t1, t2, t3 = [await add_team(uow, name) for name in ("One", "Two", "Three")]
        in_1 = await add_user(uow, "one@example.com", teams=(TeamRole(t1.id, Role.OBSERVER),))
        in_1_2 = await add_user(uow, "both@example.com", teams=(
            TeamRole(t1.id, Role.ADMIN), TeamRole(t2.id, Role.OBSERVER)))
        in_3 = await add_user(uow, "three@example.com", teams=(TeamRole(t3.id, Role.MAINTAINER),))
        await add_user(uow, "global@example.com", global_role=Role.ADMIN)

        async def ids(**filters) -> list[int]:
            return [u.id for u in await uow.users.list(ListOptions(), **filters)]

        assert await ids(team_id=t1.id) == [in_1.id, in_1_2.id]
        assert await ids(team_id=t2.id) == [in_1_2.id]
        assert await ids(team_ids=frozenset({t2.id, t3.id})) == [in_1_2.id, in_3.id]
        assert await ids(team_ids=frozenset()) == []
        assert await ids(team_id=t1.id, team_ids=frozenset({t2.id})) == [in_1_2.id]
        listed = await uow.users.list(ListOptions(), team_id=t2.id)
        assert listed[0].teams == (TeamRole(t1.id, Role.ADMIN, "One"), TeamRole(t2.id, Role.OBSERVER, "Two"))
