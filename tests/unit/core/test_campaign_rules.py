"""Campaign rules: query names, the listener grace period, stream status and the rows a stream shows."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.campaigns import LiveResult
from fleet_core.rules.campaigns import (
    FINISHED,
    LISTENER_GRACE,
    PENDING,
    campaign_id_of,
    query_name,
    shown_rows,
    stream_status,
    unheard_is_fatal,
)

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


@given(st.integers(min_value=1, max_value=2**62))
def test_a_campaign_id_survives_its_query_name(campaign_id: int) -> None:
    assert campaign_id_of(query_name(campaign_id)) == campaign_id


@given(st.text())
def test_names_without_the_prefix_or_a_number_name_no_campaign(suffix: str) -> None:
    assert campaign_id_of(f"fleet_label_query_{suffix}") is None
    if not (suffix.isascii() and suffix.isdigit()):
        assert campaign_id_of(f"fleet_distributed_query_{suffix}") is None


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_the_stream_is_finished_once_every_expected_host_answered(expected: int, actual: int) -> None:
    assert stream_status(expected, actual) == (FINISHED if actual >= expected else PENDING)


@given(st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=2)))
def test_an_unheard_answer_ends_only_a_campaign_past_its_grace(age: dt.timedelta) -> None:
    assert unheard_is_fatal(T0, T0 + age) is (age >= LISTENER_GRACE)


def test_shown_rows_drop_null_rows_and_name_the_host_on_each() -> None:
    result = LiveResult(campaign_id=1, host_id=2, hostname="web-1", display_name="Web One",
                        rows=({"a": "1"}, None, {"b": ""}), stats=None, error=None)  # type: ignore[arg-type]

    assert shown_rows(result) == [
        {"a": "1", "host_hostname": "web-1", "host_display_name": "Web One"},
        {"b": "", "host_hostname": "web-1", "host_display_name": "Web One"},
    ]
