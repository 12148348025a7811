"""Live query campaign rules: when a campaign ends, what its stream reports, how a result is shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fleet_core.model.campaigns import LiveResult

LIVE_PREFIX = "fleet_distributed_query_"
# A campaign nobody listens to is dropped once it is this old (the docs' "within 60 seconds").
LISTENER_GRACE = dt.timedelta(minutes=1)
# The cleanup job completes waiting campaigns older than LISTENER_GRACE and running ones older than this.
RUNNING_LIMIT = dt.timedelta(hours=24)
PENDING = "pending"
FINISHED = "finished"


def query_name(campaign_id: int) -> str:
    """The distributed query name agents see for a campaign."""
    return f"{LIVE_PREFIX}{campaign_id}"


def campaign_id_of(name: str) -> int | None:
    """The campaign a distributed query name belongs to, or None if it names none."""
    if not name.startswith(LIVE_PREFIX):
        return None
    suffix = name[len(LIVE_PREFIX):]
    if not (suffix.isascii() and suffix.isdigit()) or len(suffix) > 19:
        return None
    campaign_id = int(suffix)
    # Campaign ids are 64-bit; a larger number names no campaign.
    return campaign_id if campaign_id < 2**63 else None


def unheard_is_fatal(created_at: dt.datetime, now: dt.datetime) -> bool:
    """A result nobody was subscribed to: past the grace period the campaign is over; before
    it the host keeps its bit and is asked again (the listener may still be connecting)."""
    return now - created_at >= LISTENER_GRACE


def stream_status(expected: int, actual: int) -> str:
    """"finished" once at least as many hosts answered as were online to answer."""
    return FINISHED if actual >= expected else PENDING


def shown_rows(result: LiveResult) -> list[dict[str, Any]]:
    """The rows a stream shows: null rows dropped, the host's hostname and display name on each."""
    return [
        {**row, "host_hostname": result.hostname, "host_display_name": result.display_name}
        for row in result.rows if isinstance(row, Mapping)
    ]
