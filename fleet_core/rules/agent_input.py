"""What osquery agents send, made uniform before the core reads it.

osqueryd versions differ in what they put on the wire: row values arrive as strings, numbers or
null, distributed results of osquery 1.8 are "" instead of a list, and statuses of osquery < 3
are strings. Every value the core reads from an agent is text, as Fleet stores it, so the
normalisation lives here once, for enroll's host_details and distributed/write alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class QueryResult:
    """One query's answer in distributed/write."""

    rows: list[dict[str, str]]
    status: int = 0
    message: str = ""
    stats: Mapping[str, Any] | None = None


def text_row(row: Mapping[Any, Any]) -> dict[str, str]:
    """A result row with text keys and values; null becomes "" (osquery's own empty value)."""
    return {str(k): v if isinstance(v, str) else ("" if v is None else str(v)) for k, v in row.items()}


def host_details(raw: Mapping[Any, Any]) -> dict[str, dict[str, str]]:
    """enroll's ``host_details`` (first row of each table), tables that are not objects dropped."""
    return {str(table): text_row(row) for table, row in raw.items() if isinstance(row, dict)}


def query_results(
    queries: Mapping[str, Any], statuses: Mapping[str, Any], messages: Mapping[str, Any], stats: Mapping[str, Any]
) -> dict[str, QueryResult]:
    """distributed/write as osquery sends it: rows that are not a list of objects become []
    (osquery 1.8 sent ""), statuses arrive as ints or strings (osquery < 3), and a status that
    is neither counts as a failure."""
    results = {}
    for name, raw_rows in queries.items():
        rows = [text_row(row) for row in (raw_rows if isinstance(raw_rows, list) else []) if isinstance(row, dict)]
        raw_status = statuses.get(name, 0)
        try:
            status = int(raw_status)
        except (TypeError, ValueError):
            status = 1
        message = messages.get(name, "")
        stat = stats.get(name)
        results[str(name)] = QueryResult(rows=rows, status=status, message=message if isinstance(message, str) else "",
                                         stats=stat if isinstance(stat, Mapping) else None)
    return results
