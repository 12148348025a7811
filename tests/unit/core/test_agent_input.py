"""Agent input made uniform: every value text, old osquery wire shapes accepted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.errors import InvalidArgument
from fleet_core.rules import agent_input

# NUL characters are refused (tested below); everything else becomes text.
# What msgspec can decode from an agent's JSON: any text but NUL, and no lone surrogates (a
# "\ud800" escape is refused before any rule sees it).
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts


@given(st.dictionaries(texts | st.integers(), scalars))
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


@pytest.mark.parametrize("row", [{"name": "a\x00b"}, {"na\x00me": "x"}, {"name": ["nested"]}, {"name": {"a": 1}}])
def test_rows_with_nul_characters_or_nested_values_are_refused(row: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        agent_input.query_results({"fleet_label_query_1": [row]}, {}, {}, {})
    with pytest.raises(InvalidArgument):
        agent_input.host_details({"system_info": row})


def test_a_nul_in_a_message_or_the_host_identifier_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        agent_input.query_results({"q": []}, {"q": 1}, {"q": "bad\x00"}, {})
    with pytest.raises(InvalidArgument):
        agent_input.host_identifier("host\x00")


def test_a_host_identifier_longer_than_its_column_is_refused() -> None:
    assert agent_input.host_identifier("h" * agent_input.MAX_IDENTIFIER) == "h" * agent_input.MAX_IDENTIFIER
    with pytest.raises(InvalidArgument):
        agent_input.host_identifier("h" * (agent_input.MAX_IDENTIFIER + 1))


@given(texts)
def test_stored_text_fits_the_column_and_is_a_prefix(value: str) -> None:
    stored = agent_input.stored_text(value)
    assert value.startswith(stored)
    assert len(stored) <= agent_input.MAX_DETAIL_CHARS
    assert len(stored.encode()) <= agent_input.MAX_DETAIL_BYTES
    if len(value) <= agent_input.MAX_DETAIL_CHARS and len(value.encode()) <= agent_input.MAX_DETAIL_BYTES:
        assert stored == value


def test_detail_rows_and_host_details_are_cut_to_their_columns_other_results_are_not() -> None:
    huge = "x" * 5_000_000
    results = agent_input.query_results(
        {"fleet_detail_query_system_info": [{"hostname": huge}], "fleet_distributed_query_7": [{"v": huge}]},
        {}, {}, {})
    assert results["fleet_detail_query_system_info"].rows == [{"hostname": "x" * agent_input.MAX_DETAIL_CHARS}]
    assert results["fleet_distributed_query_7"].rows == [{"v": huge}]
    assert agent_input.host_details({"system_info": {"hostname": huge}}) == {
        "system_info": {"hostname": "x" * agent_input.MAX_DETAIL_CHARS}}
