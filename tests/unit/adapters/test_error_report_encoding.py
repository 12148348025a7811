"""The bound both ErrorReportStore adapters put on one report (fleet_adapters/error_report_encoding.py)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleet_adapters.error_report_encoding import decode_report, encode_report

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
reports = st.dictionaries(st.text(max_size=20), json_values, max_size=8)


@given(report=reports, max_bytes=st.integers(min_value=64, max_value=4096))
def test_an_encoded_report_fits_the_bound_and_reads_back(report: dict[str, Any], max_bytes: int) -> None:
    encoded = encode_report(report, max_bytes)
    assert len(encoded) <= max_bytes
    decoded = decode_report(encoded)
    full = json.dumps(report, ensure_ascii=False, separators=(",", ":"))
    if len(full.encode()) > max_bytes:
        # Kept as the start of the full encoding (cut at a character boundary).
        assert set(decoded) == {"truncated", "excerpt"} and decoded["truncated"] is True
        assert full.startswith(decoded["excerpt"])
    else:
        assert decoded == json.loads(full)


@given(message=st.text(alphabet=st.sampled_from(['"', "\\", "\n", "\x01", "é", "✓", "x"]), min_size=200))
def test_escapes_in_an_excerpt_never_break_the_bound(message: str) -> None:
    assert len(encode_report({"error_message": message}, 100)) <= 100
