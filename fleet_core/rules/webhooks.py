"""Webhook rules: batching, the host-status threshold and daily limit, retry backoff, payloads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

from fleet_core.model.policies import Policy
from fleet_core.model.webhooks import FailingHost

T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in order, cut into batches of ``size``; 0 (or less) means one batch of all."""
    if not items:
        return []
    if size <= 0:
        return [list(items)]
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def retry_delay(attempts: int, *, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failed try: base, doubling each time, at most cap."""
    exponent = max(attempts, 1) - 1
    # Past 2**30 the cap has long been reached; stop doubling before the number gets silly.
    if exponent >= 30:
        return cap
    delay: dt.timedelta = base * (2 ** exponent)
    return min(delay, cap)


def unseen_percent(total_hosts: int, unseen_hosts: int) -> float:
    return 0.0 if total_hosts <= 0 else unseen_hosts * 100.0 / total_hosts


def host_status_triggered(*, total_hosts: int, unseen_hosts: int, host_percentage: float) -> bool:
    """Whether at least ``host_percentage`` % of the hosts are unseen (never with no unseen host)."""
    return unseen_hosts > 0 and unseen_percent(total_hosts, unseen_hosts) >= host_percentage


def host_status_due(last_sent: dt.datetime | None, now: dt.datetime, period: dt.timedelta) -> bool:
    """At most one host-status request per period."""
    return last_sent is None or now - last_sent >= period


def rfc3339(moment: dt.datetime) -> str:
    text = moment.astimezone(dt.UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def host_url(server_url: str, host_id: int) -> str:
    return f"{server_url.rstrip('/')}/hosts/{host_id}"


def failing_policy_payload(policy: Policy, hosts: Sequence[FailingHost], *, server_url: str,
                           now: dt.datetime) -> dict[str, Any]:
    """Fleet's failing-policies webhook body: the policy and the hosts newly failing it."""
    return {
        "timestamp": rfc3339(now),
        "policy": {
            "id": policy.id,
            "name": policy.name,
            "query": policy.query,
            "description": policy.description,
            "author_id": policy.author_id,
            "author_name": policy.author_name,
            "author_email": policy.author_email,
            "team_id": policy.team_id,
            "resolution": policy.resolution,
            "platform": policy.platform,
            "critical": policy.critical,
            "created_at": rfc3339(policy.created_at),
            "updated_at": rfc3339(policy.updated_at),
            # Counted when the batch is planned, never fewer than the hosts in the request.
            "passing_host_count": policy.passing_host_count,
            "failing_host_count": max(policy.failing_host_count, len(hosts)),
        },
        "hosts": [
            {"id": h.id, "hostname": h.hostname, "display_name": h.display_name, "url": host_url(server_url, h.id)}
            for h in hosts
        ],
    }


def host_status_payload(*, total_hosts: int, unseen_host_ids: Sequence[int], days_count: int) -> dict[str, Any]:
    """Fleet's host-status webhook body."""
    percent = unseen_percent(total_hosts, len(unseen_host_ids))
    return {
        "text": (f"More than {percent:.2f}% of your hosts have not checked into Fleet for more than {days_count} "
                 "days. You've been sent this message because the Host status webhook is enabled in your Fleet "
                 "instance."),
        "data": {
            "unseen_hosts": len(unseen_host_ids),
            "total_hosts": total_hosts,
            "days_unseen": days_count,
            "host_ids": list(unseen_host_ids),
        },
    }
