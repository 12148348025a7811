"""Host rules: status, the enrollment identifier, and when detail/label/policy queries are due."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping

from fleet_core.model.hosts import HostStatus

# Fleet's OnlineIntervalBuffer: grace on top of the host's own check-in interval.
ONLINE_BUFFER = dt.timedelta(seconds=60)
MISSING_AFTER = dt.timedelta(days=30)
NEW_FOR = dt.timedelta(hours=24)


def checkin_interval(distributed_interval: int, config_tls_refresh: int) -> dt.timedelta:
    """min(distributed_interval, config_tls_refresh) in seconds; 0 when either is unknown."""
    return dt.timedelta(seconds=max(0, min(distributed_interval, config_tls_refresh)))


def is_online(seen: dt.datetime, distributed_interval: int, config_tls_refresh: int, now: dt.datetime) -> bool:
    return seen + checkin_interval(distributed_interval, config_tls_refresh) + ONLINE_BUFFER > now


def is_missing(seen: dt.datetime, now: dt.datetime) -> bool:
    return seen + MISSING_AFTER <= now


def is_new(created_at: dt.datetime, now: dt.datetime) -> bool:
    return created_at + NEW_FOR >= now


def host_status(seen: dt.datetime, distributed_interval: int, config_tls_refresh: int, now: dt.datetime) -> HostStatus:
    """The status a host shows: online or offline (missing and new are filters and counts)."""
    return HostStatus.ONLINE if is_online(seen, distributed_interval, config_tls_refresh, now) else HostStatus.OFFLINE


def matches_status(status: HostStatus, *, seen: dt.datetime, created_at: dt.datetime, distributed_interval: int,
                   config_tls_refresh: int, now: dt.datetime) -> bool:
    """The list filter ``status=...``; offline includes missing hosts, as Fleet does since 4.15."""
    if status is HostStatus.ONLINE:
        return is_online(seen, distributed_interval, config_tls_refresh, now)
    if status is HostStatus.OFFLINE:
        return not is_online(seen, distributed_interval, config_tls_refresh, now)
    if status in (HostStatus.MISSING, HostStatus.MIA):
        return is_missing(seen, now)
    return is_new(created_at, now)


class IdentifierMode(enum.StrEnum):
    PROVIDED = "provided"
    INSTANCE = "instance"
    UUID = "uuid"
    HOSTNAME = "hostname"


_SOURCE = {
    IdentifierMode.INSTANCE: ("osquery_info", "instance_id"),
    IdentifierMode.UUID: ("osquery_info", "uuid"),
    IdentifierMode.HOSTNAME: ("system_info", "hostname"),
}


def choose_identifier(mode: IdentifierMode, provided: str, host_details: Mapping[str, Mapping[str, str]]) -> str:
    """The osquery_host_id to key the host by (Fleet's `osquery.host_identifier`).

    The chosen host_details field wins when present and non-blank; otherwise the agent's own
    `host_identifier` is used, as Fleet falls back.
    """
    if mode is not IdentifierMode.PROVIDED:
        table, column = _SOURCE[mode]
        value = str(host_details.get(table, {}).get(column, "") or "").strip()
        if value:
            return value
    return provided.strip()


def jitter(host_id: int, interval: dt.timedelta, max_jitter_percent: int) -> dt.timedelta:
    """A per-host delay in whole minutes, below ``max_jitter_percent`` of the interval.

    Fleet spreads hosts over minute buckets so hourly collections do not all land at once. The
    bucket comes from the host id alone, so every server process agrees without shared state.
    """
    buckets = (max_jitter_percent * int(interval.total_seconds() // 60)) // 100
    if buckets <= 0:
        return dt.timedelta(0)
    return dt.timedelta(minutes=host_id % buckets)


def is_due(last: dt.datetime, interval: dt.timedelta, host_id: int, max_jitter_percent: int, now: dt.datetime,
           *, refetch_requested: bool = False) -> bool:
    """Whether a collection (details, labels or policies) should be sent on this check-in."""
    return refetch_requested or last < now - (interval + jitter(host_id, interval, max_jitter_percent))


def next_due(last: dt.datetime, interval: dt.timedelta, host_id: int, max_jitter_percent: int) -> dt.datetime:
    """The first moment ``is_due`` turns true (absent a refetch)."""
    return last + interval + jitter(host_id, interval, max_jitter_percent) + dt.timedelta(microseconds=1)
