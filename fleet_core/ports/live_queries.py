"""Live queries: the campaign rows, the shared running state and the result stream."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from fleet_core.model.campaigns import Campaign, CampaignStatus, LiveResult
from fleet_core.rules.targets import TargetSelection


class CampaignRepository(Protocol):
    """Live query campaigns (the rows behind a live query; its running state lives in LiveQueryStore)."""

    async def add(self, *, query_id: int | None, query: str, user_id: int, selection: TargetSelection,
                  host_ids: Sequence[int], at: dt.datetime) -> Campaign:
        """Insert a waiting campaign (created_at = updated_at = at) with its selection and resolved hosts."""
        ...

    async def get(self, campaign_id: int) -> Campaign | None:
        """The campaign with this id, or None."""
        ...

    async def set_status(self, campaign_id: int, status: CampaignStatus, at: dt.datetime) -> Campaign:
        """Change the status (updated_at = at); NotFound if there is no such campaign."""
        ...

    async def complete_stale(self, *, waiting_before: dt.datetime, running_before: dt.datetime,
                             at: dt.datetime) -> builtins.list[int]:
        """Complete waiting campaigns created before ``waiting_before`` and running ones created
        before ``running_before``; returns their ids, ascending."""
        ...

    async def inactive(self, campaign_ids: Sequence[int]) -> builtins.list[int]:
        """Those of the ids whose campaign is completed or does not exist, ascending."""
        ...


class ResultSubscription(Protocol):
    """Results published for one campaign from the moment the subscription was made."""

    async def next(self, wait: float) -> LiveResult | None:
        """The next result, waiting at most ``wait`` seconds; None if none came. Raises
        Unavailable when the subscription broke (results may have been lost)."""
        ...

    async def close(self) -> None:
        """Unsubscribe; idempotent."""
        ...


class LiveQueryStore(Protocol):
    """Running campaigns shared by every server process: which hosts still have to answer which
    SQL, and the channel each campaign's results travel on. Raises Unavailable when the backing
    service does not answer."""

    async def start(self, campaign_id: int, sql: str, host_ids: Sequence[int]) -> None:
        """Ask these hosts to run the SQL under the campaign's query name."""
        ...

    async def stop(self, campaign_ids: Sequence[int]) -> None:
        """Forget these campaigns: no host is asked for them any more."""
        ...

    async def queries_for_host(self, host_id: int) -> dict[int, str]:
        """campaign id -> SQL for every running campaign this host still has to answer. May lag
        up to a second behind start/stop made by another process, never behind this one's."""
        ...

    async def answered(self, campaign_id: int, host_id: int) -> None:
        """The host answered the campaign; it is not asked again."""
        ...

    async def active_ids(self) -> builtins.list[int]:
        """The campaigns started and not stopped, ascending."""
        ...

    async def publish(self, result: LiveResult) -> bool:
        """Send a result to the campaign's subscribers in any process; True if one received it."""
        ...

    async def subscribe(self, campaign_id: int) -> ResultSubscription:
        """Receive the campaign's results published from now on (the subscription is in place
        when this returns)."""
        ...

    async def ping(self) -> bool:
        """Whether the backing service answers."""
        ...
