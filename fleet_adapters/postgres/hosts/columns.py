"""What every host statement shares: the host columns, the joins that complete a host row, the
order-key columns, and reading rows back as hosts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fleet_adapters.postgres.errors import translated
from fleet_core.model.hosts import HOST_VITAL_FIELDS, Host
from fleet_core.rules.host_storage import FLOAT, INT, TEXT
from fleet_core.rules.ordering import HOST_ORDER_KEYS

# Column names double as parameter names; only these names ever reach the SQL text.
VITAL_COLUMNS: Final[tuple[LiteralString, ...]] = (
    "hostname", "uuid", "platform", "platform_like", "osquery_version", "os_version", "build", "code_name",
    "uptime_seconds", "last_restarted_at", "memory", "cpu_type", "cpu_subtype", "cpu_brand",
    "cpu_physical_cores", "cpu_logical_cores", "hardware_vendor", "hardware_model", "hardware_version",
    "hardware_serial", "computer_name", "public_ip", "primary_ip", "primary_mac", "distributed_interval",
    "config_tls_refresh", "logger_tls_period", "gigs_disk_space_available", "percent_disk_space_available",
    "gigs_total_disk_space", "additional",
)
VITAL: Final[Mapping[str, LiteralString]] = {c: c for c in VITAL_COLUMNS}
assert VITAL.keys() == HOST_VITAL_FIELDS, "model.HOST_VITAL_FIELDS changed; add the column"

# Check-ins go to host_seen_times (one upsert for many hosts), and migration 0020's triggers copy
# every later hosts.seen_time there too: every host has its row, holding the effective seen time.
SEEN: Final[LiteralString] = "hst.seen_time"
# Added to a WHERE condition, this turns the LEFT JOIN of host_seen_times into an inner join (it
# holds for every host), so that Postgres may read hosts in seen-time order from
# host_seen_times_seen_order_idx instead of sorting them all.
SEEN_JOINED: Final[LiteralString] = "hst.seen_time IS NOT NULL"

# A Host row (with team_name and the effective seen_time), over `hosts h` joined by HOST_JOINS.
# GREATEST, although host_seen_times holds the effective time once a statement is done: the enroll
# upsert reads the row back in the statement that writes it, before the trigger's write is visible.
HOST_SELECT_LIST: Final[LiteralString] = """
    h.id, h.osquery_host_id, h.team_id, h.created_at, h.updated_at, h.last_enrolled_at,
    GREATEST(h.seen_time, hst.seen_time) AS seen_time, h.detail_updated_at, h.label_updated_at,
    h.policy_updated_at, h.refetch_requested, t.name AS team_name, h.hostname, h.uuid, h.platform,
    h.platform_like, h.osquery_version, h.os_version, h.build, h.code_name, h.uptime_seconds,
    h.last_restarted_at, h.memory, h.cpu_type, h.cpu_subtype, h.cpu_brand, h.cpu_physical_cores,
    h.cpu_logical_cores, h.hardware_vendor, h.hardware_model, h.hardware_version, h.hardware_serial,
    h.computer_name, h.public_ip, h.primary_ip, h.primary_mac, h.distributed_interval,
    h.config_tls_refresh, h.logger_tls_period, h.gigs_disk_space_available,
    h.percent_disk_space_available, h.gigs_total_disk_space, h.additional
"""
HOST_JOINS: Final[LiteralString] = """
    LEFT JOIN teams t ON t.id = h.team_id
    LEFT JOIN host_seen_times hst ON hst.host_id = h.id
"""
HOST_FROM: Final[LiteralString] = " FROM hosts h " + HOST_JOINS
SELECT_HOSTS: Final[LiteralString] = "SELECT " + HOST_SELECT_LIST + HOST_FROM

# Text keys sort on lower(col) COLLATE "C", as fleet_core.rules.paging.paginate does in memory.
ORDER_COLUMNS: Final[Mapping[str, LiteralString]] = {
    "id": "h.id",
    "hostname": 'lower(h.hostname) COLLATE "C"',
    "computer_name": 'lower(h.computer_name) COLLATE "C"',
    "display_name": "lower(COALESCE(NULLIF(h.computer_name, ''), h.hostname)) COLLATE \"C\"",
    "created_at": "h.created_at",
    "updated_at": "h.updated_at",
    "seen_time": SEEN,
    "detail_updated_at": "h.detail_updated_at",
    "label_updated_at": "h.label_updated_at",
    "last_enrolled_at": "h.last_enrolled_at",
    "platform": 'lower(h.platform) COLLATE "C"',
    "os_version": 'lower(h.os_version) COLLATE "C"',
    "osquery_version": 'lower(h.osquery_version) COLLATE "C"',
    "uuid": 'lower(h.uuid) COLLATE "C"',
    "hardware_serial": 'lower(h.hardware_serial) COLLATE "C"',
    "hardware_model": 'lower(h.hardware_model) COLLATE "C"',
    "primary_ip": 'lower(h.primary_ip) COLLATE "C"',
    "public_ip": 'lower(h.public_ip) COLLATE "C"',
    "memory": "h.memory",
    "uptime": "h.uptime_seconds",
    "team_id": "h.team_id",
    "team_name": 'lower(t.name) COLLATE "C"',
    "gigs_disk_space_available": "h.gigs_disk_space_available",
    "percent_disk_space_available": "h.percent_disk_space_available",
    "cpu_type": 'lower(h.cpu_type) COLLATE "C"',
}
assert ORDER_COLUMNS.keys() == HOST_ORDER_KEYS, "rules.ordering.HOST_ORDER_KEYS changed; map the new key"

# The `after` cursor's value, cast like the order column it is compared with.
AFTER_VALUES: Final[Mapping[str, LiteralString]] = {
    TEXT: 'lower(%(after)s::text) COLLATE "C"',
    INT: "%(after)s::bigint",
    FLOAT: "%(after)s::double precision",
}
AFTER_TIME: Final[LiteralString] = "%(after)s::timestamptz"


def field_params(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Vital fields as statement parameters (``additional`` is stored as JSON)."""
    params = dict(fields)
    if "additional" in params and params["additional"] is not None:
        params["additional"] = Jsonb(params["additional"])
    return params


def row_to_host(row: Mapping[str, Any]) -> Host:
    return Host(**row)


async def fetch_rows(conn: AsyncConnection[Any], query: LiteralString,
                     params: Mapping[str, Any]) -> list[dict[str, Any]]:
    with translated():
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()
