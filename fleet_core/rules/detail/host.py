"""Ingest functions that fill host-row vitals (Fleet's IngestFunc kind; they bump detail_updated_at)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any

import structlog

from fleet_core.model.hosts import HostFacts
from fleet_core.rules.detail.base import IngestContext, Row, Rows, parse_float, parse_int, text

log = structlog.get_logger(__name__)


def _single(query: str, rows: Rows, ctx: IngestContext) -> Row | None:
    # Fleet logs and ignores (rather than fails) a result that is not exactly one row.
    if len(rows) != 1:
        log.warning("detail_query_unexpected_row_count", query=query, rows=len(rows), host_id=ctx.host_id)
        return None
    return rows[0]


def _bad_value(query: str, column: str, ctx: IngestContext) -> None:
    log.warning("detail_query_bad_value", query=query, column=column, host_id=ctx.host_id)


_UBUNTU_CODENAME = re.compile(r"\(.*\)")


def compose_os_version(name: str, version: str, major: str, minor: str, patch: str, build: str, extra: str) -> str:
    """Fleet's parseOSVersion: the point release shown after the OS name."""
    lowered = name.lower()
    if "ubuntu" in lowered:
        # Ubuntu's patch numbers are not meaningful; its version string (minus the code name) is.
        result = _UBUNTU_CODENAME.sub("", version).strip()
    elif "chrome" in lowered:
        result = version
    elif major != "0" or minor != "0" or patch != "0":
        result = f"{major}.{minor}.{patch}"
    else:
        result = build
    result = result.strip(".")
    if extra != "":
        # extra is Apple's Rapid Security Response suffix, e.g. "(a)".
        result = f"{result} {extra.strip()}"
    return result


def ingest_os_version(rows: Rows, ctx: IngestContext) -> HostFacts:
    row = _single("os_version", rows, ctx)
    if row is None:
        return HostFacts()
    fields: dict[str, Any] = {}
    if "build" in row:
        fields["build"] = text(row, "build")
    platform = text(row, "platform")
    # osquery on CentOS 6 leaves platform empty.
    if platform == "" and "centos" in text(row, "name").lower():
        platform = "centos"
    fields["platform"] = platform
    fields["platform_like"] = text(row, "platform_like")
    fields["code_name"] = text(row, "codename")
    if platform != "windows":
        # Windows needs the registry's DisplayVersion/UBR: os_version_windows sets it.
        name = text(row, "name")
        fields["os_version"] = f"{name} " + compose_os_version(
            name, text(row, "version"), text(row, "major"), text(row, "minor"), text(row, "patch"),
            text(row, "build"), text(row, "extra"))
    return HostFacts(fields=fields)


def ingest_os_version_windows(rows: Rows, ctx: IngestContext) -> HostFacts:
    row = _single("os_version_windows", rows, ctx)
    if row is None:
        return HostFacts()
    # "Microsoft Windows 11 Pro" reads and sorts better as "Windows 11 Pro".
    value = f"{text(row, 'name')} {text(row, 'display_version')}".replace("Microsoft Windows", "Windows", 1).strip()
    if text(row, "installation_type").casefold() == "server core":
        value += " (Server Core)"
    value += " " + text(row, "version")
    return HostFacts(fields={"os_version": value})


def ingest_osquery_flags(rows: Rows, ctx: IngestContext) -> HostFacts:
    fields: dict[str, Any] = {}
    tls_refresh: int | None = None
    refresh: int | None = None
    for row in rows:
        name = text(row, "name")
        if name not in ("distributed_interval", "config_tls_refresh", "config_refresh", "logger_tls_period"):
            continue
        value = parse_int(text(row, "value"))
        if value is None or value < 0:
            _bad_value("osquery_flags", name, ctx)
            continue
        if name == "distributed_interval":
            fields["distributed_interval"] = value
        elif name == "logger_tls_period":
            fields["logger_tls_period"] = value
        elif name == "config_tls_refresh":
            tls_refresh = value
        else:
            refresh = value
    # config_tls_refresh is the pre-2.4.6 name; when present it wins, because config_refresh
    # meant something else back then.
    if tls_refresh is not None:
        fields["config_tls_refresh"] = tls_refresh
    elif refresh is not None:
        fields["config_tls_refresh"] = refresh
    return HostFacts(fields=fields)


def ingest_osquery_info(rows: Rows, ctx: IngestContext) -> HostFacts:
    row = _single("osquery_info", rows, ctx)
    if row is None:
        return HostFacts()
    return HostFacts(fields={"osquery_version": text(row, "version")})


# Uninitialised firmware serials such as "Default string" or "System Serial Number" (fleet#25993).
_PLACEHOLDER_SERIAL = re.compile(r"default|serial|string", re.IGNORECASE)


def ingest_system_info(rows: Rows, ctx: IngestContext) -> HostFacts:
    row = _single("system_info", rows, ctx)
    if row is None:
        return HostFacts()
    fields: dict[str, Any] = {}
    for column, field in (("physical_memory", "memory"), ("cpu_physical_cores", "cpu_physical_cores"),
                          ("cpu_logical_cores", "cpu_logical_cores")):
        value = parse_int(text(row, column))
        if value is None:
            _bad_value("system_info", column, ctx)
        else:
            fields[field] = value
    for column in ("hostname", "uuid", "cpu_type", "cpu_subtype", "cpu_brand", "hardware_vendor", "hardware_model",
                   "hardware_version", "computer_name"):
        fields[column] = text(row, column)
    serial = text(row, "hardware_serial")
    if _PLACEHOLDER_SERIAL.search(serial):
        fields["hardware_serial"] = ""
    elif serial != "-1":
        # "-1" is left alone rather than stored or cleared (fleet#19789).
        fields["hardware_serial"] = serial
    return HostFacts(fields=fields)


# A reboot is only recorded when it moves last_restarted_at by more than this; otherwise the
# delay between osquery reading uptime and us processing it would shift it on every check-in.
RESTART_TOLERANCE = dt.timedelta(seconds=30)


def ingest_uptime(rows: Rows, ctx: IngestContext) -> HostFacts:
    row = _single("uptime", rows, ctx)
    if row is None:
        return HostFacts()
    seconds = parse_int(text(row, "total_seconds"))
    if seconds is None or seconds < 0:
        _bad_value("uptime", "total_seconds", ctx)
        return HostFacts()
    fields: dict[str, Any] = {"uptime_seconds": seconds}
    if seconds > 0:
        try:
            restarted = ctx.now - dt.timedelta(seconds=seconds)
        except OverflowError:
            _bad_value("uptime", "total_seconds", ctx)
            return HostFacts(fields=fields)
        previous = ctx.last_restarted_at
        if previous is None or restarted - previous >= RESTART_TOLERANCE:
            fields["last_restarted_at"] = restarted
    return HostFacts(fields=fields)


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return "%" not in value  # Go's net.ParseIP rejects IPv6 zones


def ingest_network_interface(rows: Rows, ctx: IngestContext) -> HostFacts:
    # The public IP comes from the request, not the rows, so it is set even when the query found
    # nothing; it is cleared when the headers are missing or bad so a proxy change cannot hide.
    fields: dict[str, Any] = {"public_ip": ""}
    if ctx.public_ip:
        if _valid_ip(ctx.public_ip):
            fields["public_ip"] = ctx.public_ip
        else:
            log.warning("public_ip_not_an_address", host_id=ctx.host_id)
    # The SQL already picks the private address on the default route (LIMIT 1); zero rows means
    # there is none, and several rows means an override changed the query: Fleet keeps the old values.
    if len(rows) == 1:
        fields["primary_ip"] = text(rows[0], "address")
        fields["primary_mac"] = text(rows[0], "mac")
    elif len(rows) > 1:
        log.warning("detail_query_unexpected_row_count", query="network_interface", rows=len(rows),
                    host_id=ctx.host_id)
    return HostFacts(fields=fields)


def ingest_disk_space(rows: Rows, ctx: IngestContext) -> HostFacts:
    row = _single("disk_space", rows, ctx)
    if row is None:
        return HostFacts()
    fields: dict[str, Any] = {}
    for column in ("gigs_disk_space_available", "percent_disk_space_available", "gigs_total_disk_space"):
        value = parse_float(text(row, column))
        if value is None:
            _bad_value("disk_space", column, ctx)
        else:
            fields[column] = value
    # gigs_all_disk_space (Linux only) has no place in the core model yet.
    return HostFacts(fields=fields)


def ingest_kubequery_info(rows: Rows, ctx: IngestContext) -> HostFacts:
    row = _single("kubequery_info", rows, ctx)
    if row is None:
        return HostFacts()
    # kubequery reports neither a platform nor an osquery version, so Fleet labels both.
    return HostFacts(fields={"hostname": f"kubequery {text(row, 'cluster_name')}", "osquery_version": "kubequery",
                             "platform": "kubequery"})
