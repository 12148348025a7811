"""ActivityRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.model.activities import Activity, NewActivity
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.paging import Direction, ListOptions

pytestmark = pytest.mark.anyio

MINUTE = dt.timedelta(minutes=1)


def activity(type_: str, *, actor_id: int | None = 1, name: str = "Admin", details=None) -> NewActivity:
    return NewActivity(actor_id=actor_id, actor_full_name=name, actor_email=f"{name.lower()}@example.com",
                       actor_gravatar="", type=type_, details=details)


async def test_an_appended_activity_keeps_its_details(uow_factory: UnitOfWorkFactory, at) -> None:
    details = {"user_id": 3, "user_email": "x@example.com", "teams": [{"id": 1, "name": "T"}], "ok": True}
    async with uow_factory() as uow:
        added = await uow.activities.add(activity("created_user", details=details), at)
        bare = await uow.activities.add(activity("user_logged_in", actor_id=None, name="Gone"), at)
        await uow.commit()

    assert added == Activity(id=added.id, actor_id=1, actor_full_name="Admin",
                             actor_email="admin@example.com", actor_gravatar="", type="created_user",
                             details=details, created_at=at)
    async with uow_factory() as uow:
        assert await uow.activities.list(ListOptions()) == [added, bare]
    assert bare.details is None
    assert bare.id > added.id


async def test_list_orders_by_the_key_then_by_id_and_pages(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        late = await uow.activities.add(activity("b_type", actor_id=None, name="zoe"), at + MINUTE)
        early = await uow.activities.add(activity("A_type", actor_id=2, name="Yann"), at)
        also_late = await uow.activities.add(activity("c_type", actor_id=1, name="xavier"), at + MINUTE)

        async def ids(**options) -> list[int]:
            return [a.id for a in await uow.activities.list(ListOptions(**options))]

        assert await ids() == [late.id, early.id, also_late.id]
        assert await ids(order_key="created_at") == [early.id, late.id, also_late.id]
        assert await ids(order_key="created_at", order_direction=Direction.DESC) == [
            late.id, also_late.id, early.id]
        assert await ids(order_key="type") == [early.id, late.id, also_late.id]
        assert await ids(order_key="actor_full_name") == [also_late.id, early.id, late.id]
        assert await ids(order_key="actor_id") == [also_late.id, early.id, late.id]
        assert await ids(order_key="actor_id", order_direction=Direction.DESC) == [
            early.id, also_late.id, late.id]
        assert await ids(order_key="created_at", order_direction=Direction.DESC, page=1, per_page=2) == [
            early.id]
