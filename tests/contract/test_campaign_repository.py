"""CampaignRepository contract (fleet_core.ports): campaigns, their targets, status changes and cleanup."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import NotFound
from fleet_core.model.campaigns import Campaign, CampaignStatus
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.targets import TargetSelection

pytestmark = pytest.mark.anyio

SELECTION = TargetSelection(host_ids=[3, 1], label_ids=[6], team_ids=[0, 2])


async def add(uow_factory: UnitOfWorkFactory, at: dt.datetime, *, query_id: int | None = None,
              user_id: int = 1, host_ids: tuple[int, ...] = (3, 1, 9)) -> Campaign:
    async with uow_factory() as uow:
        campaign = await uow.campaigns.add(query_id=query_id, query="SELECT 1", user_id=user_id,
                                           selection=SELECTION, host_ids=host_ids, at=at)
        await uow.commit()
    return campaign


async def test_add_stores_a_waiting_campaign_with_its_targets(uow_factory: UnitOfWorkFactory,
                                                              at: dt.datetime) -> None:
    campaign = await add(uow_factory, at, query_id=None, user_id=4)

    async with uow_factory() as uow:
        got = await uow.campaigns.get(campaign.id)

    assert got == campaign
    assert (got.query_id, got.query, got.user_id, got.status) == (None, "SELECT 1", 4, CampaignStatus.WAITING)
    assert (got.created_at, got.updated_at) == (at, at)
    assert got.selection == SELECTION
    assert got.host_ids == (1, 3, 9)


async def test_ids_are_distinct_and_unknown_ones_are_none(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    one, two = await add(uow_factory, at, query_id=5), await add(uow_factory, at)
    assert one.id != two.id
    assert one.query_id == 5
    async with uow_factory() as uow:
        assert await uow.campaigns.get(two.id + 1000) is None


async def test_a_campaign_not_committed_is_not_stored(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        campaign = await uow.campaigns.add(query_id=None, query="SELECT 1", user_id=1, selection=TargetSelection(),
                                           host_ids=[1], at=at)
    async with uow_factory() as uow:
        assert await uow.campaigns.get(campaign.id) is None


async def test_set_status_changes_status_and_updated_at(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    campaign = await add(uow_factory, at)
    later = at + dt.timedelta(seconds=5)
    async with uow_factory() as uow:
        running = await uow.campaigns.set_status(campaign.id, CampaignStatus.RUNNING, later)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.campaigns.get(campaign.id) == running
    assert (running.status, running.updated_at, running.created_at) == (CampaignStatus.RUNNING, later, at)
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.campaigns.set_status(campaign.id + 1000, CampaignStatus.COMPLETED, later)


async def test_complete_stale_ends_old_waiting_and_old_running_campaigns(uow_factory: UnitOfWorkFactory,
                                                                         at: dt.datetime) -> None:
    old_waiting = await add(uow_factory, at)
    old_running = await add(uow_factory, at)
    young_running = await add(uow_factory, at + dt.timedelta(minutes=10))
    young_waiting = await add(uow_factory, at + dt.timedelta(minutes=10))
    async with uow_factory() as uow:
        for campaign in (old_running, young_running):
            await uow.campaigns.set_status(campaign.id, CampaignStatus.RUNNING, at)
        await uow.commit()

    now = at + dt.timedelta(minutes=20)
    async with uow_factory() as uow:
        ended = await uow.campaigns.complete_stale(waiting_before=now - dt.timedelta(minutes=15),
                                                   running_before=at + dt.timedelta(seconds=1), at=now)
        await uow.commit()

    assert ended == [old_waiting.id, old_running.id]
    async with uow_factory() as uow:
        statuses = {c: (await uow.campaigns.get(c.id)).status  # type: ignore[union-attr]
                    for c in (old_waiting, old_running, young_running, young_waiting)}
    assert statuses == {old_waiting: CampaignStatus.COMPLETED, old_running: CampaignStatus.COMPLETED,
                        young_running: CampaignStatus.RUNNING, young_waiting: CampaignStatus.WAITING}


async def test_inactive_names_completed_and_unknown_campaigns(uow_factory: UnitOfWorkFactory,
                                                              at: dt.datetime) -> None:
    done, running, waiting = await add(uow_factory, at), await add(uow_factory, at), await add(uow_factory, at)
    async with uow_factory() as uow:
        await uow.campaigns.set_status(done.id, CampaignStatus.COMPLETED, at)
        await uow.campaigns.set_status(running.id, CampaignStatus.RUNNING, at)
        await uow.commit()
        unknown = waiting.id + 1000
        assert await uow.campaigns.inactive([unknown, waiting.id, running.id, done.id]) == sorted([done.id, unknown])
        assert await uow.campaigns.inactive([]) == []
