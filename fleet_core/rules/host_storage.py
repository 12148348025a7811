"""Rules the host storage adapters share: order-key types and `after`, search, OS names.

They are part of the HostRepository contract; both adapters import them so they cannot drift.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import HOST_VITAL_FIELDS, DeviceMapping, HostFilter, HostUser, MunkiInfo
from fleet_core.rules.detail_queries import LINUX_PLATFORMS
from fleet_core.rules.ordering import HOST_ORDER_KEYS
from fleet_core.rules.paging import ListOptions

# How the value of each order key compares, which decides how ``after`` is parsed.
TEXT, INT, FLOAT, TIME = "text", "int", "float", "time"
HOST_ORDER_TYPES: Mapping[str, str] = {
    "id": INT, "hostname": TEXT, "computer_name": TEXT, "display_name": TEXT, "created_at": TIME,
    "updated_at": TIME, "seen_time": TIME, "detail_updated_at": TIME, "label_updated_at": TIME,
    "last_enrolled_at": TIME, "platform": TEXT, "os_version": TEXT, "osquery_version": TEXT, "uuid": TEXT,
    "hardware_serial": TEXT, "hardware_model": TEXT, "primary_ip": TEXT, "public_ip": TEXT, "memory": INT,
    "uptime": INT, "team_id": INT, "team_name": TEXT, "gigs_disk_space_available": FLOAT,
    "percent_disk_space_available": FLOAT, "cpu_type": TEXT,
}
assert HOST_ORDER_TYPES.keys() == HOST_ORDER_KEYS, "rules.ordering.HOST_ORDER_KEYS changed; give the new key a type"

ALL_HOSTS = "All Hosts"

# Fleet's built-in labels: (name, description, query), ids 1.. in this order (0002_hosts.sql).
BUILTIN_LABELS: tuple[tuple[str, str, str], ...] = (
    (ALL_HOSTS, "All hosts which have enrolled in Fleet", "SELECT 1;"),
    ("macOS", "All macOS hosts", "select 1 from os_version where platform = 'darwin';"),
    ("Ubuntu Linux", "All Ubuntu hosts", "select 1 from os_version where platform = 'ubuntu';"),
    ("CentOS Linux", "All CentOS hosts", "select 1 from os_version where platform = 'centos' or name like '%centos%'"),
    ("MS Windows", "All Windows hosts", "select 1 from os_version where platform = 'windows';"),
    ("Red Hat Linux", "All Red Hat Enterprise Linux hosts", "SELECT 1 FROM os_version WHERE name LIKE '%red hat%'"),
    ("All Linux", "All Linux distributions",
     "SELECT 1 FROM osquery_info WHERE build_platform LIKE '%ubuntu%' OR build_distro LIKE '%centos%';"),
    ("chrome", "All Chrome hosts", "select 1 from os_version where platform = 'chrome';"),
)


def check_fields(fields: Mapping[str, Any]) -> None:
    unknown = sorted(set(fields) - HOST_VITAL_FIELDS)
    if unknown:
        raise InvalidArgument(("fields", f"unknown host fields: {', '.join(unknown)}"))


def check_order_key(options: ListOptions) -> None:
    if options.order_key is not None and options.order_key not in HOST_ORDER_TYPES:
        raise InvalidArgument(("order_key", f"must be one of {', '.join(sorted(HOST_ORDER_TYPES))}"))


def parse_after(order_key: str, after: str) -> Any:
    """``after`` as a value of the order key's type; InvalidArgument if it is not one."""
    kind = HOST_ORDER_TYPES[order_key]
    try:
        if kind == INT:
            value: Any = int(after)
            if not -(2**63) <= value < 2**63:
                raise ValueError(after)
            return value
        if kind == FLOAT:
            number = float(after)
            if not math.isfinite(number):
                raise ValueError(after)
            return number
        if kind == TIME:
            moment = dt.datetime.fromisoformat(after)
            # Fleet's timestamps are UTC; a bare one is read that way.
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    except ValueError:
        raise InvalidArgument(("after", f"must be a valid {kind} value for order_key {order_key}")) from None
    return after


def search_text(filters: HostFilter, options: ListOptions | None) -> str:
    """The search text: the filter's, else the list options' (the endpoints fill either)."""
    return filters.query or (options.query if options is not None else "")


def looks_like_email(query: str) -> bool:
    # Fleet searches device-mapping emails only when the text could be one.
    return "@" in query and not any(ch.isspace() for ch in query)


def split_os_version(os_version: str) -> tuple[str, str]:
    """(name, version) from a host's os_version: the version starts at the first word that
    starts with a digit ("Ubuntu 22.04.1 LTS" -> "Ubuntu", "22.04.1 LTS")."""
    words = os_version.split()
    for index, word in enumerate(words):
        if index > 0 and word[0] in "0123456789":
            return " ".join(words[:index]), " ".join(words[index:])
    return " ".join(words), ""


def os_key(os_version: str, platform: str) -> tuple[str, str, str] | None:
    """The operating_systems identity of a host, or None when it reported no OS."""
    if not os_version.strip():
        return None
    name, version = split_os_version(os_version)
    return name, version, platform


def summary_platforms(platform: str | None) -> frozenset[str] | None:
    if platform is None:
        return None
    return LINUX_PLATFORMS if platform == "linux" else frozenset({platform})


def unique_users(users: Iterable[HostUser]) -> list[HostUser]:
    """One entry per (uid, username), the last reported winning, ordered by uid then username."""
    found = {(u.uid, u.username): u for u in users}
    return [found[k] for k in sorted(found)]


def unique_mappings(mappings: Iterable[DeviceMapping]) -> list[DeviceMapping]:
    return sorted(set(mappings), key=lambda m: (m.email, m.source))


def normalized_munki(munki: MunkiInfo) -> MunkiInfo:
    return MunkiInfo(version=munki.version, errors=tuple(sorted(set(munki.errors))),
                     warnings=tuple(sorted(set(munki.warnings))))
