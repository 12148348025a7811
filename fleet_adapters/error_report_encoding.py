"""How both ErrorReportStore adapters bound and encode one report (fleet_core.ports.ErrorReportStore)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

# Defaults of both adapters: 200 reports of at most 16 KiB each, about 3 MiB at worst.
MAX_REPORTS: Final = 200
MAX_REPORT_BYTES: Final = 16 * 1024
# Room the {"truncated": true, "excerpt": ...} wrapper and the excerpt's JSON escaping take.
_WRAPPER_BYTES: Final = 64


def encode_report(report: Mapping[str, Any], max_bytes: int) -> bytes:
    """The report as JSON, at most ``max_bytes`` long: a larger one becomes a truncated excerpt.

    Values JSON cannot represent are written as their str(), so a report is never refused.
    """
    encoded = json.dumps(report, default=str, ensure_ascii=False, separators=(",", ":")).encode()
    if len(encoded) <= max_bytes:
        return encoded
    budget = max(0, max_bytes - _WRAPPER_BYTES)
    # Escaping may lengthen the excerpt (quotes, control characters): shrink until it fits.
    while True:
        excerpt = encoded[:budget].decode(errors="ignore")
        wrapped = json.dumps({"truncated": True, "excerpt": excerpt}, ensure_ascii=False,
                             separators=(",", ":")).encode()
        if len(wrapped) <= max_bytes or budget == 0:
            return wrapped
        budget = max(0, budget - (len(wrapped) - max_bytes))


def decode_report(encoded: bytes) -> Mapping[str, Any]:
    value = json.loads(encoded)
    return value if isinstance(value, dict) else {"report": value}
