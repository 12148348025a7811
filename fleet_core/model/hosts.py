"""Hosts (enrolled osquery agents) and what Fleet knows about them."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from fleet_core.model.vulnerabilities import SoftwareVulnerability

# Hosts that never reported a time are treated as last updated long ago, so every collection is
# due at once (Fleet stores 1970-01-02 for the same reason).
NEVER = dt.datetime(1970, 1, 2, tzinfo=dt.UTC)


class HostStatus(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    NEW = "new"
    MISSING = "missing"
    MIA = "mia"  # the deprecated name of "missing", still accepted as a filter


@attrs.frozen
class Host:
    """A host row: identity, bookkeeping and the vitals detail queries fill."""

    id: int
    osquery_host_id: str
    team_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    last_enrolled_at: dt.datetime
    seen_time: dt.datetime
    detail_updated_at: dt.datetime = NEVER
    label_updated_at: dt.datetime = NEVER
    policy_updated_at: dt.datetime = NEVER
    refetch_requested: bool = False
    team_name: str | None = None
    # Vitals (HOST_VITAL_FIELDS); every one of these can be set by detail-query ingestion.
    hostname: str = ""
    uuid: str = ""
    platform: str = ""
    platform_like: str = ""
    osquery_version: str = ""
    os_version: str = ""
    build: str = ""
    code_name: str = ""
    uptime_seconds: int = 0
    last_restarted_at: dt.datetime | None = None
    memory: int = 0
    cpu_type: str = ""
    cpu_subtype: str = ""
    cpu_brand: str = ""
    cpu_physical_cores: int = 0
    cpu_logical_cores: int = 0
    hardware_vendor: str = ""
    hardware_model: str = ""
    hardware_version: str = ""
    hardware_serial: str = ""
    computer_name: str = ""
    public_ip: str = ""
    primary_ip: str = ""
    primary_mac: str = ""
    distributed_interval: int = 0
    config_tls_refresh: int = 0
    logger_tls_period: int = 0
    gigs_disk_space_available: float = 0.0
    percent_disk_space_available: float = 0.0
    gigs_total_disk_space: float = 0.0
    additional: Mapping[str, Any] | None = None

    @property
    def display_name(self) -> str:
        return self.computer_name or self.hostname


@attrs.frozen
class AgentHost:
    """What the agent endpoints read of a host: the per-process node-key cache holds this rather
    than a whole `Host` (about half the bytes per cached host: tests/bench/hot_path.py
    --cache-bytes). A path that needs more loads the row."""

    id: int
    team_id: int | None
    platform: str
    os_version: str
    hostname: str
    computer_name: str
    public_ip: str
    detail_updated_at: dt.datetime
    label_updated_at: dt.datetime
    policy_updated_at: dt.datetime
    last_restarted_at: dt.datetime | None
    refetch_requested: bool
    distributed_interval: int
    config_tls_refresh: int
    logger_tls_period: int

    @classmethod
    def of(cls, host: Host) -> AgentHost:
        return cls(
            id=host.id, team_id=host.team_id, platform=host.platform, os_version=host.os_version,
            hostname=host.hostname, computer_name=host.computer_name, public_ip=host.public_ip,
            detail_updated_at=host.detail_updated_at, label_updated_at=host.label_updated_at,
            policy_updated_at=host.policy_updated_at, last_restarted_at=host.last_restarted_at,
            refetch_requested=host.refetch_requested, distributed_interval=host.distributed_interval,
            config_tls_refresh=host.config_tls_refresh, logger_tls_period=host.logger_tls_period,
        )

    @property
    def display_name(self) -> str:
        return self.computer_name or self.hostname


class HostIdentity(Protocol):
    """Who a host is, as services serving an authenticated agent read it: a `Host` or an `AgentHost`."""

    @property
    def id(self) -> int: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def hostname(self) -> str: ...
    @property
    def display_name(self) -> str: ...


# The fields a detail query may set on the host row (besides the bookkeeping timestamps).
HOST_VITAL_FIELDS: frozenset[str] = frozenset({
    "hostname", "uuid", "platform", "platform_like", "osquery_version", "os_version", "build", "code_name",
    "uptime_seconds", "last_restarted_at", "memory", "cpu_type", "cpu_subtype", "cpu_brand",
    "cpu_physical_cores", "cpu_logical_cores", "hardware_vendor", "hardware_model", "hardware_version",
    "hardware_serial", "computer_name", "public_ip", "primary_ip", "primary_mac", "distributed_interval",
    "config_tls_refresh", "logger_tls_period", "gigs_disk_space_available", "percent_disk_space_available",
    "gigs_total_disk_space", "additional",
})


@attrs.frozen
class HostUser:
    uid: int
    username: str
    type: str = ""
    groupname: str = ""
    shell: str = ""


@attrs.frozen
class SoftwareItem:
    """One installed package as reported by a host; every field but installed_path and
    last_opened_at identifies it (fleet_core.rules.software_inventory.software_identity)."""

    name: str
    version: str
    source: str
    bundle_identifier: str = ""
    vendor: str = ""
    arch: str = ""
    release: str = ""
    # Browser extensions: the extension's id and the browser it is for ("chrome", "firefox", ...).
    extension_id: str = ""
    browser: str = ""
    installed_path: str = ""
    last_opened_at: dt.datetime | None = None


@attrs.frozen
class Software:
    """A distinct software title+version known to the fleet."""

    id: int
    name: str
    version: str
    source: str
    bundle_identifier: str = ""
    vendor: str = ""
    arch: str = ""
    release: str = ""
    extension_id: str = ""
    browser: str = ""
    # The CPE the vulnerability job chose for it ("" until it runs, or when nothing matches).
    generated_cpe: str = ""
    last_opened_at: dt.datetime | None = None
    hosts_count: int = 0
    # The CVEs the vulnerability job found on it, ordered by CVE id.
    vulnerabilities: tuple[SoftwareVulnerability, ...] = ()


@attrs.frozen
class DeviceMapping:
    email: str
    source: str  # "google_chrome_profiles", "custom", ...


@attrs.frozen
class MDMInfo:
    enrolled: bool
    server_url: str = ""
    installed_from_dep: bool = False
    name: str = ""  # the MDM solution, derived from the server URL (e.g. "Fleet", "Jamf", "Kandji")

    @property
    def enrollment_status(self) -> str:
        """Fleet's wording: "On (automatic)", "On (manual)" or "Off"."""
        if not self.enrolled:
            return "Off"
        return "On (automatic)" if self.installed_from_dep else "On (manual)"


@attrs.frozen
class MunkiInfo:
    version: str
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@attrs.frozen
class Battery:
    cycle_count: int
    health: str


@attrs.frozen
class HostFacts:
    """What ingesting one detail query found out; None means "this query says nothing about it".

    ``fields`` holds new values for HOST_VITAL_FIELDS. The tuples replace the host's whole list
    of that kind (an empty tuple clears it).
    """

    fields: Mapping[str, Any] = attrs.field(factory=dict)
    users: tuple[HostUser, ...] | None = None
    software: tuple[SoftwareItem, ...] | None = None
    device_mapping: tuple[DeviceMapping, ...] | None = None
    mdm: MDMInfo | None = None
    munki: MunkiInfo | None = None
    batteries: tuple[Battery, ...] | None = None

    def merge(self, other: HostFacts) -> HostFacts:
        """Later facts win field by field; lists from ``other`` replace ours when present."""
        return HostFacts(
            fields={**self.fields, **other.fields},
            users=other.users if other.users is not None else self.users,
            software=_concat(self.software, other.software),
            device_mapping=other.device_mapping if other.device_mapping is not None else self.device_mapping,
            mdm=other.mdm if other.mdm is not None else self.mdm,
            munki=other.munki if other.munki is not None else self.munki,
            batteries=other.batteries if other.batteries is not None else self.batteries,
        )


def _concat(a: tuple[SoftwareItem, ...] | None, b: tuple[SoftwareItem, ...] | None) -> tuple[SoftwareItem, ...] | None:
    # Several software queries (apps, browser extensions, python packages) each add a part.
    if a is None:
        return b
    if b is None:
        return a
    return a + b


@attrs.frozen
class Label:
    id: int
    name: str
    description: str
    query: str
    platform: str
    label_type: str  # "builtin" or "regular"
    label_membership_type: str  # "dynamic" or "manual"
    created_at: dt.datetime
    updated_at: dt.datetime
    team_id: int | None = None


@attrs.frozen
class HostFilter:
    """Every filter of the hosts list and count endpoints; None means "not filtered"."""

    query: str = ""
    status: HostStatus | None = None
    team_id: int | None = None
    no_team: bool = False  # team_id=0 in the API means hosts without a team
    label_id: int | None = None
    policy_id: int | None = None
    policy_response: str | None = None  # "passing" / "failing"
    software_id: int | None = None
    os_id: int | None = None
    os_name: str | None = None
    os_version: str | None = None
    mdm_id: int | None = None
    mdm_enrollment_status: str | None = None  # "manual", "automatic", "unenrolled"
    munki_issue_id: int | None = None
    ids: frozenset[int] | None = None
    # Team visibility of the caller: None sees every host; otherwise only hosts of these teams.
    visible_team_ids: frozenset[int] | None = None


@attrs.frozen
class HostStatusCounts:
    """How many of a set of hosts there are, and how many of them are online and missing."""

    total: int = 0
    online: int = 0
    missing: int = 0


@attrs.frozen
class HostSummary:
    team_id: int | None
    totals_hosts_count: int
    online_count: int
    offline_count: int
    mia_count: int
    missing_30_days_count: int
    new_count: int
    all_linux_count: int
    platforms: tuple[tuple[str, int], ...]
    builtin_labels: tuple[Label, ...]


@attrs.frozen
class OSVersion:
    os_id: int
    name: str
    name_only: str
    version: str
    platform: str
    hosts_count: int


@attrs.frozen
class ListedHost:
    """One row of a page of hosts: the host and what the list shows beside it."""

    host: Host
    # None when the page was not asked for device mappings (Fleet then leaves the key out).
    device_mapping: tuple[DeviceMapping, ...] | None = None
    # 0 when the page was not asked to count failing policies (Fleet then shows no issues).
    failing_policies_count: int = 0
