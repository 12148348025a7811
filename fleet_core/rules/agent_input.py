"""What osquery agents send, made uniform before the core reads it.

osqueryd versions differ in what they put on the wire: row values arrive as strings, numbers or
null, distributed results of osquery 1.8 are "" instead of a list, and statuses of osquery < 3
are strings. Every value the core reads from an agent is text, as Fleet stores it, so the
normalisation lives here once, for enroll's host_details and distributed/write alike.

It is also where agent input is bounded before anything stores it: text with a NUL character
(which no Postgres text or jsonb column can hold), row values that are not scalars (osquery rows
are flat), identifiers longer than their column and detail values longer than the columns they
feed. Refusals raise InvalidArgument, which the osquery API answers with a 400 `{"error"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fleet_core.errors import InvalidArgument

DETAIL_PREFIX = "fleet_detail_query_"
# The widest a host identifier may be: Fleet's osquery_host_id is a varchar(255), and here it is
# the key of a unique index, which cannot hold much more than 2.7 kB per row.
MAX_IDENTIFIER = 255
# Detail values feed host columns, software, users, MDM and Munki tables, several of them inside
# unique indexes of up to three text columns; a Postgres btree row holds at most ~2.7 kB. Fleet's
# columns are varchar(255), so values are cut to 255 characters, and to a byte budget that keeps
# three of them inside one index row whatever the script. Longer values are truncated, not
# refused: a resent batch would be the same, so refusing could only lose the rest of it.
MAX_DETAIL_CHARS = 255
MAX_DETAIL_BYTES = 850
NUL = "\x00"
SCALARS = (str, int, float, bool, type(None))


@attrs.frozen
class QueryResult:
    """One query's answer in distributed/write."""

    rows: list[dict[str, str]]
    status: int = 0
    message: str = ""
    stats: Mapping[str, Any] | None = None


def text_row(row: Mapping[Any, Any], where: str = "row") -> dict[str, str]:
    """A result row with text keys and values; null becomes "" (osquery's own empty value).

    Raises:
        InvalidArgument: a NUL character, or a value that is an array or object.
    """
    out = {}
    for raw_key, value in row.items():
        key = str(raw_key)
        if not isinstance(value, SCALARS):
            raise InvalidArgument((where, "row values must be text, numbers or null"))
        text = value if isinstance(value, str) else ("" if value is None else str(value))
        if NUL in key or NUL in text:
            raise InvalidArgument((where, "must not contain NUL characters"))
        out[key] = text
    return out


def stored_text(value: str) -> str:
    """``value`` cut to what a detail column holds (MAX_DETAIL_CHARS, MAX_DETAIL_BYTES in UTF-8)."""
    value = value[:MAX_DETAIL_CHARS]
    if len(value) * 4 <= MAX_DETAIL_BYTES:
        return value
    encoded = value.encode()
    if len(encoded) <= MAX_DETAIL_BYTES:
        return value
    # Cut on a character boundary: drop the partial sequence the byte cut may leave.
    return encoded[:MAX_DETAIL_BYTES].decode(errors="ignore")


# Text this short fits any detail column as it is (4 bytes per character at most in UTF-8).
_ALWAYS_STORED = min(MAX_DETAIL_CHARS, MAX_DETAIL_BYTES // 4)


def stored_row(row: Mapping[str, str]) -> dict[str, str]:
    # Most values are short: they skip the call (a detail write has hundreds of rows).
    return {key: value if len(value) <= _ALWAYS_STORED else stored_text(value) for key, value in row.items()}


def host_identifier(raw: str) -> str:
    """The identifier the agent provided, refused when no column could store it.

    Raises:
        InvalidArgument: a NUL character or more than MAX_IDENTIFIER characters.
    """
    if NUL in raw:
        raise InvalidArgument(("host_identifier", "must not contain NUL characters"))
    if len(raw) > MAX_IDENTIFIER:
        raise InvalidArgument(("host_identifier", f"must be at most {MAX_IDENTIFIER} characters"))
    return raw


def stored_fields(**fields: str) -> None:
    """Check text fields an agent sends that are stored or looked up as they are (carve ids).

    Raises:
        InvalidArgument: a NUL character, or more than MAX_IDENTIFIER characters.
    """
    for name, value in fields.items():
        if NUL in value:
            raise InvalidArgument((name, "must not contain NUL characters"))
        if len(value) > MAX_IDENTIFIER:
            raise InvalidArgument((name, f"must be at most {MAX_IDENTIFIER} characters"))


def host_details(raw: Mapping[Any, Any]) -> dict[str, dict[str, str]]:
    """enroll's ``host_details`` (first row of each table), tables that are not objects dropped,
    values cut to what their columns hold.

    Raises:
        InvalidArgument: a NUL character or a non-scalar value in a table's row.
    """
    return {str(table): stored_row(text_row(row, "host_details"))
            for table, row in raw.items() if isinstance(row, dict)}


def query_results(
    queries: Mapping[str, Any], statuses: Mapping[str, Any], messages: Mapping[str, Any], stats: Mapping[str, Any]
) -> dict[str, QueryResult]:
    """distributed/write as osquery sends it: rows that are not a list of objects become []
    (osquery 1.8 sent ""), statuses arrive as ints or strings (osquery < 3), and a status that
    is neither counts as a failure. Detail query rows are cut to what their columns hold.

    Raises:
        InvalidArgument: a NUL character or a non-scalar value in a row, or a NUL in a message.
    """
    results = {}
    for name, raw_rows in queries.items():
        rows = [text_row(row, name) for row in (raw_rows if isinstance(raw_rows, list) else [])
                if isinstance(row, dict)]
        if name.startswith(DETAIL_PREFIX):
            rows = [stored_row(row) for row in rows]
        raw_status = statuses.get(name, 0)
        try:
            status = int(raw_status)
        except (TypeError, ValueError):
            status = 1
        message = messages.get(name, "")
        if isinstance(message, str) and NUL in message:
            raise InvalidArgument((name, "message must not contain NUL characters"))
        stat = stats.get(name)
        results[str(name)] = QueryResult(rows=rows, status=status, message=message if isinstance(message, str) else "",
                                         stats=stat if isinstance(stat, Mapping) else None)
    return results
