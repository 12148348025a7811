"""The shapes shared by every detail query: context, query record, and lenient value parsing."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence

import attrs

from fleet_core.model.hosts import HostFacts

Row = Mapping[str, str]
Rows = Sequence[Row]


@attrs.frozen
class IngestContext:
    """What an ingest function may know besides the rows.

    ``platform`` is the host's platform as stored before this batch (ingest_detail_results moves it
    forward when os_version reports a new one); ``public_ip`` is what the transport derived from
    True-Client-IP / X-Real-IP / X-Forwarded-For / the peer address; ``last_restarted_at`` is the
    stored value, which uptime ingestion only moves forward.
    """

    platform: str
    now: dt.datetime
    public_ip: str = ""
    last_restarted_at: dt.datetime | None = None
    host_id: int | None = None  # only for log context


IngestFn = Callable[[Rows, IngestContext], HostFacts]
# Merges the rows of a software "extra" query into the main software query's rows (Fleet's
# SoftwareProcessResults / SoftwareOverrideMatch). Must not mutate its arguments.
SoftwareProcessFn = Callable[[list[dict[str, str]], list[dict[str, str]]], list[dict[str, str]]]


def ingest_nothing(rows: Rows, ctx: IngestContext) -> HostFacts:
    """For queries whose results the core has no place for, or that are merged into another query."""
    return HostFacts()


@attrs.frozen
class DetailQuery:
    name: str  # wire name without the fleet_detail_query_ prefix
    sql: str
    ingest: IngestFn
    platforms: frozenset[str] | None = None  # None: every platform, including an unknown/empty one
    discovery: str | None = None
    # True when ingest fills host fields, which is what bumps detail_updated_at in Fleet.
    updates_details: bool = False
    software_process: SoftwareProcessFn | None = None  # set only on software extra/override queries

    def runs_on(self, platform: str) -> bool:
        return self.platforms is None or platform in self.platforms


# Fleet's fleet.HostLinuxOSs.
LINUX_PLATFORMS: frozenset[str] = frozenset({
    "linux", "ubuntu", "debian", "rhel", "centos", "sles", "kali", "gentoo", "amzn", "pop", "arch", "linuxmint",
    "void", "nixos", "endeavouros", "manjaro", "opensuse-leap", "opensuse-tumbleweed", "tuxedo",
})


def is_linux(platform: str) -> bool:
    return platform in LINUX_PLATFORMS


# Go's strconv.Atoi/ParseInt accept an optional sign and ASCII digits only; Python's int() would
# also take spaces, underscores and non-ASCII digits, which osquery never means as numbers.
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def parse_int(value: object) -> int | None:
    """osquery's integer text, with Fleet's EmptyToZero; None when it is not a number."""
    if not isinstance(value, str):
        return None
    if value == "":
        return 0
    if _INT.fullmatch(value) is None:
        return None
    result = int(value)
    # Go's Atoi/ParseInt(…, 64) reject what does not fit 64 bits; so do the BIGINT columns.
    return result if -(2**63) <= result < 2**63 else None


def parse_float(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    if value == "":
        return 0.0
    if _FLOAT.fullmatch(value) is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def parse_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def text(row: Row, key: str) -> str:
    """A column as text; absent or non-text columns read as "" (Go's zero value for a missing map key)."""
    value = row.get(key, "")
    return value if isinstance(value, str) else ""
