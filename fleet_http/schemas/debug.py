"""Bodies of the debug endpoints: Fleet answers them with bare JSON arrays (and pprof with the
profile itself), so the entries are free-form mappings."""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorEntry(msgspec.Struct, kw_only=True):
    # "device": reported by Fleet Desktop; "server": this server's own recent internal error.
    source: str
    error: dict[str, Any]


def to_error_entries(entries: list[dict[str, Any]]) -> list[ErrorEntry]:
    return [ErrorEntry(source=str(e["source"]), error=dict(e["error"])) for e in entries]
