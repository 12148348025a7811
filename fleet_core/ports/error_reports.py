"""The agent error reports of POST /device/{token}/debug/errors, kept for GET /debug/errors."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Protocol


class ErrorReportStore(Protocol):
    """A bounded store of error reports, shared by every server process.

    Reports are JSON-compatible mappings. The store keeps only the latest reports up to its count
    bound, and a report whose JSON encoding exceeds its size bound is kept as
    ``{"truncated": True, "excerpt": <the start of that encoding>}``, so neither a flood of
    reports nor one huge report can grow it without limit.
    """

    async def add(self, report: Mapping[str, Any]) -> None:
        """Keep this report, dropping the oldest one past the count bound. Raises Unavailable if
        the store cannot be reached."""
        ...

    async def list(self) -> builtins.list[Mapping[str, Any]]:
        """The kept reports, oldest first. Raises Unavailable if the store cannot be reached."""
        ...

    async def flush(self) -> None:
        """Forget every kept report. Raises Unavailable if the store cannot be reached."""
        ...
