"""InviteRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

import attrs
import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.users import NewInvite, Role, TeamRole
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import Direction, ListOptions

pytestmark = pytest.mark.anyio


def new_invite(email: str, **fields) -> NewInvite:
    values = {"invited_by": 1, "email": email, "name": email.split("@")[0].title(),
              "token_hash": f"token-for-{email.lower()}", "global_role": Role.OBSERVER}
    values.update(fields)
    return NewInvite(**values)


async def invite(uow: UnitOfWork, email: str, **fields):
    return await uow.invites.add(new_invite(email, **fields))


async def test_an_added_invite_is_found_by_id_and_token_hash(uow_factory: UnitOfWorkFactory, add_team) -> None:
    async with uow_factory() as uow:
        b = await add_team(uow, "B")
        a = await add_team(uow, "A")
        added = await invite(uow, "new@example.com", invited_by=7, name="New Person", position="Intern",
                             sso_enabled=True, global_role=None,
                             teams=(TeamRole(a.id, Role.ADMIN), TeamRole(b.id, Role.OBSERVER)))
        await uow.commit()

    assert (added.invited_by, added.email, added.name, added.position, added.sso_enabled, added.global_role) == (
        7, "new@example.com", "New Person", "Intern", True, None)
    assert added.teams == (TeamRole(b.id, Role.OBSERVER, "B"), TeamRole(a.id, Role.ADMIN, "A"))
    async with uow_factory() as uow:
        assert await uow.invites.get(added.id) == added
        assert await uow.invites.get_by_token_hash("token-for-new@example.com") == added
        assert await uow.invites.get_by_token_hash("token-for-someone-else") is None
        assert await uow.invites.get(added.id + 1000) is None


async def test_a_second_invite_for_an_email_in_any_case_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await invite(uow, "dup@example.com")
        with pytest.raises(AlreadyExists):
            await invite(uow, "DUP@example.com", token_hash="another-token")
        await invite(uow, "fine@example.com")
        await uow.commit()

    async with uow_factory() as uow:
        assert [i.email for i in await uow.invites.list(ListOptions())] == ["dup@example.com", "fine@example.com"]


async def test_an_invite_to_an_unknown_team_is_not_found_and_not_stored(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await invite(uow, "lost@example.com", teams=(TeamRole(999, Role.OBSERVER),))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.invites.list(ListOptions()) == []


async def test_list_searches_orders_and_pages(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        zed = await invite(uow, "zed@example.com", name="zed", global_role=Role.ADMIN)
        amy = await invite(uow, "amy@corp.example", name="Amy", global_role=None)
        bob = await invite(uow, "bob@corp.example", name="bob", global_role=Role.MAINTAINER)

        async def ids(**options) -> list[int]:
            return [i.id for i in await uow.invites.list(ListOptions(**options))]

        assert await ids() == [zed.id, amy.id, bob.id]
        assert await ids(query="CORP") == [amy.id, bob.id]
        assert await ids(query="%") == []
        assert await ids(order_key="name") == [amy.id, bob.id, zed.id]
        assert await ids(order_key="email", order_direction=Direction.DESC) == [zed.id, bob.id, amy.id]
        assert await ids(order_key="global_role", order_direction=Direction.DESC) == [bob.id, zed.id, amy.id]
        assert await ids(order_key="name", page=1, per_page=2) == [zed.id]


async def test_update_stores_every_field(uow_factory: UnitOfWorkFactory, add_team) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "T")
        original = await invite(uow, "old@example.com")
        await uow.commit()

    changed = attrs.evolve(original, email="New@example.com", name="Renamed", global_role=None,
                           sso_enabled=True, position="Lead", teams=(TeamRole(team.id, Role.MAINTAINER),))
    async with uow_factory() as uow:
        stored = await uow.invites.update(changed)
        await uow.commit()

    async with uow_factory() as uow:
        fetched = await uow.invites.get(original.id)
        assert await uow.invites.get_by_token_hash("token-for-old@example.com") == fetched
    assert fetched == stored
    assert attrs.evolve(fetched, updated_at=changed.updated_at) == attrs.evolve(
        changed, teams=(TeamRole(team.id, Role.MAINTAINER, "T"),))


async def test_update_refuses_a_taken_email_and_a_missing_invite(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        first = await invite(uow, "first@example.com")
        await invite(uow, "second@example.com")
        with pytest.raises(AlreadyExists):
            await uow.invites.update(attrs.evolve(first, email="SECOND@example.com"))
        with pytest.raises(NotFound):
            await uow.invites.update(attrs.evolve(first, id=first.id + 1000))
        assert await uow.invites.get(first.id) == first


async def test_delete_removes_the_invite(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        gone = await invite(uow, "gone@example.com")
        kept = await invite(uow, "kept@example.com")
        assert await uow.invites.delete(gone.id) is True
        assert await uow.invites.delete(gone.id) is False
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.invites.get(gone.id) is None
        assert await uow.invites.get_by_token_hash("token-for-gone@example.com") is None
        assert await uow.invites.list(ListOptions()) == [kept]
