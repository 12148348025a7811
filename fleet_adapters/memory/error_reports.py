"""ErrorReportStore in process memory, for tests and demo mode (not shared across processes)."""

from __future__ import annotations

import builtins
from collections import deque
from collections.abc import Mapping
from typing import Any

from fleet_adapters.error_report_encoding import MAX_REPORT_BYTES, MAX_REPORTS, decode_report, encode_report


class InMemoryErrorReportStore:
    def __init__(self, *, max_reports: int = MAX_REPORTS, max_report_bytes: int = MAX_REPORT_BYTES) -> None:
        self._reports: deque[bytes] = deque(maxlen=max_reports)
        self._max_report_bytes = max_report_bytes

    async def add(self, report: Mapping[str, Any]) -> None:
        # Stored encoded, as in Redis: what is read back is a copy, bounded the same way.
        self._reports.append(encode_report(report, self._max_report_bytes))

    async def list(self) -> builtins.list[Mapping[str, Any]]:
        return [decode_report(encoded) for encoded in self._reports]

    async def flush(self) -> None:
        self._reports.clear()
