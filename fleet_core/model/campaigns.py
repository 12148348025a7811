"""Live query campaigns: one run of SQL on a set of hosts, whose answers stream to its creator."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

from fleet_core.rules.targets import TargetSelection


class CampaignStatus(enum.IntEnum):
    WAITING = 0
    RUNNING = 1
    COMPLETED = 2


@attrs.frozen
class Campaign:
    id: int
    # The saved query run, or None for ad-hoc SQL.
    query_id: int | None
    query: str
    user_id: int
    status: CampaignStatus
    created_at: dt.datetime
    updated_at: dt.datetime
    # What the creator selected, and the hosts it resolved to when the campaign started (ascending).
    selection: TargetSelection = attrs.field(factory=TargetSelection)
    host_ids: tuple[int, ...] = ()


@attrs.frozen
class CampaignMetrics:
    """The targeted hosts by status when the campaign started (Fleet's TargetMetrics)."""

    total: int = 0
    online: int = 0
    offline: int = 0
    missing_in_action: int = 0
    new: int = 0


@attrs.frozen
class StartedCampaign:
    campaign: Campaign
    metrics: CampaignMetrics


@attrs.frozen
class LiveResult:
    """One host's answer to a campaign (Fleet's DistributedQueryResult)."""

    campaign_id: int
    host_id: int
    hostname: str
    display_name: str
    rows: tuple[Mapping[str, Any], ...]
    stats: Mapping[str, Any] | None = None
    # osquery's message when the query failed on the host; None when it succeeded.
    error: str | None = None
