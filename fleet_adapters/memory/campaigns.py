"""In-memory CampaignRepository (the campaigns' rows; their live state is in live_queries.py)."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from fleet_core.errors import NotFound
from fleet_core.model.campaigns import Campaign, CampaignStatus
from fleet_core.rules.targets import TargetSelection

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class InMemoryCampaignRepository:
    state: _State
    store: InMemoryStore

    async def add(self, *, query_id: int | None, query: str, user_id: int, selection: TargetSelection,
                  host_ids: Sequence[int], at: dt.datetime) -> Campaign:
        campaign = Campaign(id=self.store.next_id("campaigns"), query_id=query_id, query=query, user_id=user_id,
                            status=CampaignStatus.WAITING, created_at=at, updated_at=at, selection=selection,
                            host_ids=tuple(sorted(set(host_ids))))
        self.state.campaigns[campaign.id] = campaign
        return campaign

    async def get(self, campaign_id: int) -> Campaign | None:
        return self.state.campaigns.get(campaign_id)

    async def set_status(self, campaign_id: int, status: CampaignStatus, at: dt.datetime) -> Campaign:
        campaign = self.state.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound(f"Campaign with id={campaign_id} was not found in the datastore")
        campaign = self.state.campaigns[campaign_id] = attrs.evolve(campaign, status=status, updated_at=at)
        return campaign

    async def complete_stale(self, *, waiting_before: dt.datetime, running_before: dt.datetime,
                             at: dt.datetime) -> builtins.list[int]:
        stale = sorted(
            c.id for c in self.state.campaigns.values()
            if (c.status is CampaignStatus.WAITING and c.created_at < waiting_before)
            or (c.status is CampaignStatus.RUNNING and c.created_at < running_before)
        )
        for campaign_id in stale:
            await self.set_status(campaign_id, CampaignStatus.COMPLETED, at)
        return stale

    async def inactive(self, campaign_ids: Sequence[int]) -> builtins.list[int]:
        return sorted({
            cid for cid in campaign_ids
            if (c := self.state.campaigns.get(cid)) is None or c.status is CampaignStatus.COMPLETED
        })
