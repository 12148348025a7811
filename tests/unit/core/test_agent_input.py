"""Agent input made uniform: every value text, old osquery wire shapes accepted."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.rules import agent_input

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()


@given(st.dictionaries(st.text() | st.integers(), scalars))
def test_a_row_becomes_text_keys_and_values_and_null_becomes_empty(row: dict[Any, Any]) -> None:
    text = agent_input.text_row(row)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in text.items())
    assert agent_input.text_row(text) == text
    for key, value in row.items():
        assert text[str(key)] == ("" if value is None else str(value))


def test_host_details_keep_object_tables_only_as_text() -> None:
    details = agent_input.host_details({"os_version": {"major": 14, "build": None}, "broken": "", "list": [1]})
    assert details == {"os_version": {"major": "14", "build": ""}}


def test_query_results_accept_what_old_osquery_versions_send() -> None:
    results = agent_input.query_results(
        queries={"a": [{"n": 1}, "not a row"], "b": "", "c": []},
        statuses={"a": "0", "b": 1, "c": "garbage"},
        messages={"b": "no such table", "c": 7},
        stats={"a": {"wall_time_ms": 3}, "b": "x"},
    )
    assert results == {
        "a": agent_input.QueryResult(rows=[{"n": "1"}], status=0, stats={"wall_time_ms": 3}),
        "b": agent_input.QueryResult(rows=[], status=1, message="no such table"),
        "c": agent_input.QueryResult(rows=[], status=1),
    }
