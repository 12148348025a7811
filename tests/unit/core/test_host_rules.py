"""Host status, the enrollment identifier, and when collections are due."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.hosts import HostStatus
from fleet_core.rules.hosts import (
    IdentifierMode,
    choose_identifier,
    host_status,
    is_due,
    is_missing,
    is_new,
    is_online,
    jitter,
    matches_status,
    next_due,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
seconds = st.integers(min_value=0, max_value=90 * 86400)
intervals = st.integers(min_value=0, max_value=3600)


@given(ago=seconds, distributed=intervals, refresh=intervals)
def test_online_means_seen_within_the_check_in_interval_plus_a_minute(ago: int, distributed: int,
                                                                      refresh: int) -> None:
    seen = NOW - dt.timedelta(seconds=ago)
    assert is_online(seen, distributed, refresh, NOW) is (ago < min(distributed, refresh) + 60)


@given(ago=seconds, distributed=intervals, refresh=intervals)
def test_every_host_is_exactly_one_of_online_or_offline(ago: int, distributed: int, refresh: int) -> None:
    seen = NOW - dt.timedelta(seconds=ago)
    kwargs = {"seen": seen, "created_at": seen, "distributed_interval": distributed,
              "config_tls_refresh": refresh, "now": NOW}
    online = matches_status(HostStatus.ONLINE, **kwargs)
    offline = matches_status(HostStatus.OFFLINE, **kwargs)
    assert online != offline
    assert host_status(seen, distributed, refresh, NOW) is (HostStatus.ONLINE if online else HostStatus.OFFLINE)


@given(ago=seconds, distributed=intervals, refresh=intervals)
def test_missing_hosts_are_offline_and_unseen_for_thirty_days(ago: int, distributed: int, refresh: int) -> None:
    seen = NOW - dt.timedelta(seconds=ago)
    assert is_missing(seen, NOW) is (ago >= 30 * 86400)
    if is_missing(seen, NOW):
        assert not is_online(seen, distributed, refresh, NOW)
    assert matches_status(HostStatus.MIA, seen=seen, created_at=seen, distributed_interval=distributed,
                          config_tls_refresh=refresh, now=NOW) is is_missing(seen, NOW)


@given(age=seconds)
def test_new_means_created_within_a_day(age: int) -> None:
    assert is_new(NOW - dt.timedelta(seconds=age), NOW) is (age <= 86400)


def test_an_unknown_refresh_interval_leaves_only_the_minute_of_grace() -> None:
    assert is_online(NOW - dt.timedelta(seconds=59), 10, 0, NOW)
    assert not is_online(NOW - dt.timedelta(seconds=61), 10, 0, NOW)


details = st.fixed_dictionaries({}, optional={
    "osquery_info": st.fixed_dictionaries({}, optional={"instance_id": st.text(max_size=8),
                                                        "uuid": st.text(max_size=8)}),
    "system_info": st.fixed_dictionaries({}, optional={"hostname": st.text(max_size=8)}),
})


@given(mode=st.sampled_from(list(IdentifierMode)), provided=st.text(max_size=8), host_details=details)
def test_the_identifier_is_the_chosen_field_or_else_what_the_agent_provided(
    mode: IdentifierMode, provided: str, host_details: dict[str, dict[str, str]]
) -> None:
    chosen = choose_identifier(mode, provided, host_details)
    source = {
        IdentifierMode.INSTANCE: host_details.get("osquery_info", {}).get("instance_id", ""),
        IdentifierMode.UUID: host_details.get("osquery_info", {}).get("uuid", ""),
        IdentifierMode.HOSTNAME: host_details.get("system_info", {}).get("hostname", ""),
        IdentifierMode.PROVIDED: "",
    }[mode]
    assert chosen == (source.strip() or provided.strip())


@given(host_id=st.integers(1, 10**9), minutes=st.integers(1, 24 * 60), percent=st.integers(0, 100))
def test_jitter_is_whole_minutes_below_the_allowed_share_of_the_interval(host_id: int, minutes: int,
                                                                          percent: int) -> None:
    interval = dt.timedelta(minutes=minutes)
    delay = jitter(host_id, interval, percent)
    assert delay.total_seconds() % 60 == 0
    assert delay <= interval * percent / 100
    assert delay == jitter(host_id, interval, percent)  # every process agrees


def test_jitter_spreads_hourly_collections_over_six_minutes_at_ten_percent() -> None:
    delays = {jitter(host_id, dt.timedelta(hours=1), 10) for host_id in range(1, 1000)}
    assert delays == {dt.timedelta(minutes=m) for m in range(6)}


@given(host_id=st.integers(1, 10**6), ago=seconds, minutes=st.integers(1, 240), percent=st.integers(0, 50),
       refetch=st.booleans())
def test_a_collection_is_due_from_next_due_on_or_at_once_after_a_refetch(
    host_id: int, ago: int, minutes: int, percent: int, refetch: bool
) -> None:
    last = NOW - dt.timedelta(seconds=ago)
    interval = dt.timedelta(minutes=minutes)
    due = is_due(last, interval, host_id, percent, NOW, refetch_requested=refetch)
    assert due is (refetch or NOW >= next_due(last, interval, host_id, percent))
    # Just collected: never due again within the interval (unless a refetch asks for it).
    assert not is_due(NOW, interval, host_id, percent, NOW + interval - dt.timedelta(seconds=1))
