"""Webhook rules: batching, backoff, the host-status threshold and daily limit, Fleet's payloads."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.policies import Policy
from fleet_core.model.webhooks import FailingHost
from fleet_core.rules import webhooks as rules

AT = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@given(items=st.lists(st.integers()), size=st.integers(-3, 20))
def test_batches_keep_every_item_in_order_and_respect_the_size(items: list[int], size: int) -> None:
    got = rules.batches(items, size)
    assert [x for batch in got for x in batch] == items
    assert all(batch for batch in got)
    if size <= 0:
        assert len(got) == (1 if items else 0)
    else:
        assert all(len(batch) <= size for batch in got)
        assert all(len(batch) == size for batch in got[:-1])


@given(attempts=st.integers(0, 200), base_s=st.integers(1, 600), cap_s=st.integers(1, 7200))
def test_retry_delay_doubles_from_the_base_and_never_exceeds_the_cap(attempts: int, base_s: int,
                                                                    cap_s: int) -> None:
    base, cap = dt.timedelta(seconds=base_s), dt.timedelta(seconds=cap_s)
    delay = rules.retry_delay(attempts, base=base, cap=cap)
    assert delay <= cap
    assert delay == min(base, cap) or delay > base or delay == cap
    assert rules.retry_delay(attempts + 1, base=base, cap=cap) >= delay
    assert rules.retry_delay(1, base=base, cap=cap) == min(base, cap)


def test_retry_delay_schedule() -> None:
    minute = dt.timedelta(minutes=1)
    got = [rules.retry_delay(n, base=minute, cap=dt.timedelta(minutes=10)) for n in range(1, 7)]
    assert got == [minute, 2 * minute, 4 * minute, 8 * minute, 10 * minute, 10 * minute]


@given(total=st.integers(0, 1000), unseen=st.integers(0, 1000), pct=st.floats(0, 100))
def test_host_status_fires_when_at_least_the_percentage_is_unseen(total: int, unseen: int, pct: float) -> None:
    unseen = min(unseen, total)
    fired = rules.host_status_triggered(total_hosts=total, unseen_hosts=unseen, host_percentage=pct)
    assert fired == (unseen > 0 and unseen * 100.0 / total >= pct)


def test_host_status_is_due_at_most_once_per_period() -> None:
    day = dt.timedelta(days=1)
    assert rules.host_status_due(None, AT, day)
    assert not rules.host_status_due(AT, AT + day - dt.timedelta(seconds=1), day)
    assert rules.host_status_due(AT, AT + day, day)


def test_failing_policy_payload_is_fleets_shape() -> None:
    policy = Policy(id=3, name="Gatekeeper", query="SELECT 1;", created_at=AT, updated_at=AT, description="d",
                    resolution="r", platform="darwin", critical=True, author_id=7, author_name="Ann",
                    author_email="ann@example.com", passing_host_count=5, failing_host_count=1)
    hosts = [FailingHost(id=1, hostname="a", display_name="A"), FailingHost(id=2, hostname="b", display_name="b")]
    body = rules.failing_policy_payload(policy, hosts, server_url="https://fleet.example.com/", now=AT)
    assert body == {
        "timestamp": "2024-05-01T12:00:00Z",
        "policy": {
            "id": 3, "name": "Gatekeeper", "query": "SELECT 1;", "description": "d", "author_id": 7,
            "author_name": "Ann", "author_email": "ann@example.com", "team_id": None, "resolution": "r",
            "platform": "darwin", "critical": True, "created_at": "2024-05-01T12:00:00Z",
            "updated_at": "2024-05-01T12:00:00Z", "passing_host_count": 5, "failing_host_count": 2,
        },
        "hosts": [
            {"id": 1, "hostname": "a", "display_name": "A", "url": "https://fleet.example.com/hosts/1"},
            {"id": 2, "hostname": "b", "display_name": "b", "url": "https://fleet.example.com/hosts/2"},
        ],
    }


def test_host_status_payload_is_fleets_shape() -> None:
    body = rules.host_status_payload(total_hosts=4, unseen_host_ids=[2, 3, 4], days_count=5)
    assert body == {
        "text": ("More than 75.00% of your hosts have not checked into Fleet for more than 5 days. You've been "
                 "sent this message because the Host status webhook is enabled in your Fleet instance."),
        "data": {"unseen_hosts": 3, "total_hosts": 4, "days_unseen": 5, "host_ids": [2, 3, 4]},
    }
