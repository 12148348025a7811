"""The hidden queries of QueryRepository (the SQL of ad-hoc live queries), on both adapters: they
share ids with saved queries, no saved-query method sees them, their names do not collide with
saved ones, and delete_unused_hidden removes exactly those no unfinished campaign uses."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.model.campaigns import CampaignStatus
from fleet_core.model.queries import QueryFields
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from fleet_core.rules.targets import TargetSelection
from tests.contract.conftest import AddUser

pytestmark = pytest.mark.anyio


async def test_hidden_queries_are_invisible_to_the_saved_query_methods(
        uow_factory: UnitOfWorkFactory, add_user: AddUser, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        author = await add_user(uow, "ada@example.com")
        saved = await uow.queries.add(QueryFields(name="q", query="SELECT 1"), team_id=None, author_id=None, at=at)
        hidden = await uow.queries.add_hidden("SELECT 2", name="q", author_id=author.id, at=at)
        await uow.commit()
    assert hidden != saved.id
    async with uow_factory() as uow:
        assert await uow.queries.get(hidden) is None
        assert (await uow.queries.get_by_name("q", team_id=None)) == await uow.queries.get(saved.id)
        assert [q.id for q in await uow.queries.list(ListOptions(), team_id=None)] == [saved.id]
        assert await uow.queries.delete(hidden) is False
        assert await uow.queries.delete_many([hidden, saved.id]) == [saved.id]
        # The name of a hidden query is free for a saved one.
        again = await uow.queries.add(QueryFields(name="q", query="SELECT 3"), team_id=None, author_id=None, at=at)
        assert again.id not in (hidden, saved.id)
        await uow.commit()


async def test_delete_unused_hidden_spares_queries_of_unfinished_campaigns(
        uow_factory: UnitOfWorkFactory, add_user: AddUser, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        user = await add_user(uow, "ada@example.com")
        ids = {}
        campaigns = {}
        for status in CampaignStatus:
            ids[status] = await uow.queries.add_hidden(f"SELECT {int(status)}", name=f"h{int(status)}",
                                                       author_id=user.id, at=at)
            campaign = await uow.campaigns.add(query_id=ids[status], query="SELECT", user_id=user.id,
                                               selection=TargetSelection(), host_ids=[], at=at)
            campaigns[status] = campaign.id
            await uow.campaigns.set_status(campaign.id, status, at)
        orphan = await uow.queries.add_hidden("SELECT 'none'", name="orphan", author_id=None, at=at)
        saved = await uow.queries.add(QueryFields(name="kept", query="SELECT 1"), team_id=None, author_id=None, at=at)
        await uow.campaigns.add(query_id=saved.id, query="SELECT 1", user_id=user.id, selection=TargetSelection(),
                                host_ids=[], at=at)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.queries.delete_unused_hidden() == sorted([ids[CampaignStatus.COMPLETED], orphan])
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.queries.delete_unused_hidden() == []
        # A saved query is never deleted by it, used or not.
        assert await uow.queries.get(saved.id) is not None
        await uow.campaigns.set_status(campaigns[CampaignStatus.RUNNING], CampaignStatus.COMPLETED, at)
        await uow.campaigns.set_status(campaigns[CampaignStatus.WAITING], CampaignStatus.COMPLETED, at)
        assert await uow.queries.delete_unused_hidden() == sorted(
            [ids[CampaignStatus.WAITING], ids[CampaignStatus.RUNNING]])
        await uow.commit()
