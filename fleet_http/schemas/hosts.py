"""Wire shapes of the Hosts endpoints (Fleet's field names), and the mapping from core models.

Hosts render as Fleet's HostResponse: the stored row plus what Fleet computes per request
(``status``, ``display_text``, ``issues``). Keys Fleet sends only on request (``additional``,
``device_mapping``) are UNSET otherwise, which msgspec leaves out of the JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import msgspec

from fleet_core.errors import InvalidArgument
from fleet_core.model.host_aggregates import MDMSolution
from fleet_core.model.hosts import (
    Battery,
    DeviceMapping,
    Host,
    HostFilter,
    HostSummary,
    HostUser,
    Label,
    ListedHost,
    MDMInfo,
    MunkiInfo,
    OSVersion,
    Software,
)
from fleet_core.rules.host_filters import bulk_host_filter
from fleet_core.rules.hosts import host_status
from fleet_core.services.hosts import HostDetails, HostPage, HostReport, MacadminsSummary
from fleet_http.schemas.common import UNSET, UnsetType, ts
from fleet_http.schemas.policies import HostPolicyBody, to_host_policy
from fleet_http.schemas.software import SoftwareListItem, VulnerabilityBody, to_software_item, to_vulnerabilities

NANOSECONDS = 1_000_000_000


# ---- filters -------------------------------------------------------------------------------

class HostFiltersBody(msgspec.Struct, kw_only=True):
    """The ``filters`` object of transfer-by-filter and bulk delete."""

    query: str = ""
    status: str | None = None
    label_id: int | None = None
    team_id: int | None = None


def filter_from_body(body: HostFiltersBody) -> HostFilter:
    return bulk_host_filter(query=body.query, status=body.status, label_id=body.label_id, team_id=body.team_id)


def additional_fields(value: str | None) -> tuple[str, ...] | None:
    """``additional_info_filters``: None when absent, ("*",) for everything, else the names."""
    if value is None:
        return None
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    return ("*",) if "*" in names else names


def select_additional(additional: Mapping[str, Any] | None, names: tuple[str, ...]) -> dict[str, Any]:
    stored = dict(additional or {})
    if names == ("*",):
        return stored
    # Fleet builds JSON_OBJECT(name, JSON_EXTRACT(additional, '$.name')): absent names are null.
    return {name: stored.get(name) for name in names}


# ---- shared pieces -------------------------------------------------------------------------

class IssuesBody(msgspec.Struct, kw_only=True):
    failing_policies_count: int
    total_issues_count: int


class DeviceMappingBody(msgspec.Struct, kw_only=True):
    email: str
    source: str


def to_device_mapping(mapping: DeviceMapping) -> DeviceMappingBody:
    return DeviceMappingBody(email=mapping.email, source=mapping.source)


class MDMBody(msgspec.Struct, kw_only=True):
    enrollment_status: str
    server_url: str
    name: str
    # Fleet sends the solution id only when it knows it (omitempty); the per-host data has none.
    id: int | UnsetType = UNSET


def mdm_enrollment_status(mdm: MDMInfo) -> str:
    """The wording of Fleet's REST doc for the per-host MDM enrollment."""
    if not mdm.enrolled:
        return "Unenrolled"
    return "Enrolled (automated)" if mdm.installed_from_dep else "Enrolled (manual)"


def to_mdm(mdm: MDMInfo | None) -> MDMBody | None:
    if mdm is None:
        return None
    return MDMBody(enrollment_status=mdm_enrollment_status(mdm), server_url=mdm.server_url, name=mdm.name)


class MunkiBody(msgspec.Struct, kw_only=True):
    version: str


def to_munki(munki: MunkiInfo | None) -> MunkiBody | None:
    return None if munki is None else MunkiBody(version=munki.version)


# ---- host ----------------------------------------------------------------------------------

class HostBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    id: int
    detail_updated_at: str
    label_updated_at: str
    policy_updated_at: str
    last_enrolled_at: str
    seen_time: str
    refetch_requested: bool
    hostname: str
    uuid: str
    platform: str
    osquery_version: str
    os_version: str
    build: str
    platform_like: str
    code_name: str
    uptime: int
    memory: int
    cpu_type: str
    cpu_subtype: str
    cpu_brand: str
    cpu_physical_cores: int
    cpu_logical_cores: int
    hardware_vendor: str
    hardware_model: str
    hardware_version: str
    hardware_serial: str
    computer_name: str
    public_ip: str
    primary_ip: str
    primary_mac: str
    distributed_interval: int
    config_tls_refresh: int
    logger_tls_period: int
    team_id: int | None
    team_name: str | None
    gigs_disk_space_available: float
    percent_disk_space_available: float
    gigs_total_disk_space: float
    last_restarted_at: str | None
    status: str
    display_text: str
    display_name: str
    pack_stats: None
    issues: IssuesBody
    additional: dict[str, Any] | UnsetType = UNSET
    device_mapping: list[DeviceMappingBody] | UnsetType = UNSET


def _host_fields(host: Host, now: dt.datetime, failing_policies: int = 0) -> dict[str, Any]:
    return {
        "created_at": ts(host.created_at), "updated_at": ts(host.updated_at), "id": host.id,
        "detail_updated_at": ts(host.detail_updated_at), "label_updated_at": ts(host.label_updated_at),
        "policy_updated_at": ts(host.policy_updated_at), "last_enrolled_at": ts(host.last_enrolled_at),
        "seen_time": ts(host.seen_time), "refetch_requested": host.refetch_requested,
        "hostname": host.hostname, "uuid": host.uuid, "platform": host.platform,
        "osquery_version": host.osquery_version, "os_version": host.os_version, "build": host.build,
        "platform_like": host.platform_like, "code_name": host.code_name,
        # Fleet sends uptime as a Go time.Duration: nanoseconds.
        "uptime": host.uptime_seconds * NANOSECONDS,
        "memory": host.memory, "cpu_type": host.cpu_type, "cpu_subtype": host.cpu_subtype,
        "cpu_brand": host.cpu_brand, "cpu_physical_cores": host.cpu_physical_cores,
        "cpu_logical_cores": host.cpu_logical_cores, "hardware_vendor": host.hardware_vendor,
        "hardware_model": host.hardware_model, "hardware_version": host.hardware_version,
        "hardware_serial": host.hardware_serial, "computer_name": host.computer_name,
        "public_ip": host.public_ip, "primary_ip": host.primary_ip, "primary_mac": host.primary_mac,
        "distributed_interval": host.distributed_interval, "config_tls_refresh": host.config_tls_refresh,
        "logger_tls_period": host.logger_tls_period, "team_id": host.team_id, "team_name": host.team_name,
        "gigs_disk_space_available": host.gigs_disk_space_available,
        "percent_disk_space_available": host.percent_disk_space_available,
        "gigs_total_disk_space": host.gigs_total_disk_space,
        "last_restarted_at": ts(host.last_restarted_at) if host.last_restarted_at else None,
        "status": host_status(host.seen_time, host.distributed_interval, host.config_tls_refresh, now).value,
        "display_text": host.hostname, "display_name": host.display_name, "pack_stats": None,
        # Failing policies are the only kind of issue counted so far.
        "issues": IssuesBody(failing_policies_count=failing_policies, total_issues_count=failing_policies),
    }


def to_host(host: Host, now: dt.datetime, *, additional: tuple[str, ...] | None = None,
            device_mapping: Sequence[DeviceMapping] | None = None, failing_policies: int = 0) -> HostBody:
    """A host as the list endpoint shows it; ``additional`` names the requested fields."""
    return HostBody(
        **_host_fields(host, now, failing_policies),
        additional=UNSET if additional is None else select_additional(host.additional, additional),
        device_mapping=UNSET if device_mapping is None else [to_device_mapping(m) for m in device_mapping],
    )


def to_listed_host(listed: ListedHost, now: dt.datetime, *, additional: tuple[str, ...] | None = None) -> HostBody:
    return to_host(listed.host, now, additional=additional, device_mapping=listed.device_mapping,
                   failing_policies=listed.failing_policies_count)


class ListHostsResponse(msgspec.Struct, kw_only=True):
    hosts: list[HostBody]
    software: SoftwareListItem | UnsetType = UNSET
    mobile_device_management_solution: MDMSolutionBody | UnsetType = UNSET


def to_list_hosts(page: HostPage, *, additional: tuple[str, ...] | None = None) -> ListHostsResponse:
    """A page of hosts; Fleet adds the software and the MDM solution the list is filtered by."""
    return ListHostsResponse(
        hosts=[to_listed_host(listed, page.as_of, additional=additional) for listed in page.hosts],
        # The software object as GET /software lists it.
        software=UNSET if page.software is None else to_software_item(page.software),
        mobile_device_management_solution=(
            UNSET if page.mdm_solution is None else to_mdm_solution(page.mdm_solution)),
    )


class CountHostsResponse(msgspec.Struct, kw_only=True):
    count: int


class SoftwareBody(msgspec.Struct, kw_only=True):
    id: int
    name: str
    version: str
    source: str
    generated_cpe: str
    vulnerabilities: list[VulnerabilityBody] | None
    bundle_identifier: str | UnsetType = UNSET
    vendor: str | UnsetType = UNSET
    arch: str | UnsetType = UNSET
    release: str | UnsetType = UNSET
    extension_id: str | UnsetType = UNSET
    browser: str | UnsetType = UNSET
    last_opened_at: str | UnsetType = UNSET


def _unless_empty(value: str) -> str | UnsetType:
    # Fleet's omitempty: an empty string leaves the key out of the JSON.
    return value or UNSET


def to_software(software: Software) -> SoftwareBody:
    return SoftwareBody(
        id=software.id, name=software.name, version=software.version, source=software.source,
        generated_cpe=software.generated_cpe, vulnerabilities=to_vulnerabilities(software.vulnerabilities),
        bundle_identifier=_unless_empty(software.bundle_identifier),
        vendor=_unless_empty(software.vendor), arch=_unless_empty(software.arch),
        release=_unless_empty(software.release), extension_id=_unless_empty(software.extension_id),
        browser=_unless_empty(software.browser),
        last_opened_at=ts(software.last_opened_at) if software.last_opened_at else UNSET,
    )


class HostUserBody(msgspec.Struct, kw_only=True):
    uid: int
    username: str
    type: str
    groupname: str
    shell: str


def to_host_user(user: HostUser) -> HostUserBody:
    return HostUserBody(uid=user.uid, username=user.username, type=user.type, groupname=user.groupname,
                        shell=user.shell)


class LabelBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    id: int
    name: str
    description: str
    query: str
    platform: str
    label_type: str
    label_membership_type: str


def to_label(label: Label) -> LabelBody:
    return LabelBody(
        created_at=ts(label.created_at), updated_at=ts(label.updated_at), id=label.id, name=label.name,
        description=label.description, query=label.query, platform=label.platform, label_type=label.label_type,
        label_membership_type=label.label_membership_type,
    )


class BatteryBody(msgspec.Struct, kw_only=True):
    cycle_count: int
    health: str


def to_battery(battery: Battery) -> BatteryBody:
    return BatteryBody(cycle_count=battery.cycle_count, health=battery.health)


class HostDetailBody(HostBody, kw_only=True):
    software: list[SoftwareBody]
    users: list[HostUserBody]
    labels: list[LabelBody]
    packs: list[Any]
    policies: list[HostPolicyBody]
    batteries: list[BatteryBody]
    mdm: MDMBody | None
    munki: MunkiBody | None


def to_host_detail(details: HostDetails) -> HostDetailBody:
    """A host as GET /hosts/{id} shows it: every stored ``additional`` field included."""
    return HostDetailBody(
        **_host_fields(details.host, details.as_of, details.failing_policies_count),
        additional=dict(details.host.additional or {}),
        device_mapping=[to_device_mapping(m) for m in details.device_mapping],
        software=[to_software(s) for s in details.software],
        users=[to_host_user(u) for u in details.users],
        labels=[to_label(label) for label in details.labels],
        packs=[],
        policies=[to_host_policy(p) for p in details.policies],
        batteries=[to_battery(b) for b in details.batteries],
        mdm=to_mdm(details.mdm),
        munki=to_munki(details.munki),
    )


class HostDetailResponse(msgspec.Struct, kw_only=True):
    host: HostDetailBody


# ---- writes --------------------------------------------------------------------------------

class TransferHostsRequest(msgspec.Struct, kw_only=True):
    team_id: int | UnsetType | None = UNSET
    hosts: list[int] | UnsetType = UNSET


class TransferByFilterRequest(msgspec.Struct, kw_only=True):
    team_id: int | UnsetType | None = UNSET
    filters: HostFiltersBody | UnsetType = UNSET


class DeleteHostsRequest(msgspec.Struct, kw_only=True):
    ids: list[int] | UnsetType = UNSET
    filters: HostFiltersBody | UnsetType = UNSET


# ---- summary, device mapping, macadmins, OS versions ---------------------------------------

class BuiltinLabelBody(msgspec.Struct, kw_only=True):
    id: int
    name: str
    description: str
    label_type: str


class PlatformCountBody(msgspec.Struct, kw_only=True):
    platform: str
    hosts_count: int


class HostSummaryResponse(msgspec.Struct, kw_only=True):
    team_id: int | None
    totals_hosts_count: int
    online_count: int
    offline_count: int
    mia_count: int
    missing_30_days_count: int
    new_count: int
    all_linux_count: int
    builtin_labels: list[BuiltinLabelBody]
    platforms: list[PlatformCountBody]


def to_host_summary(summary: HostSummary) -> HostSummaryResponse:
    return HostSummaryResponse(
        team_id=summary.team_id, totals_hosts_count=summary.totals_hosts_count,
        online_count=summary.online_count, offline_count=summary.offline_count, mia_count=summary.mia_count,
        missing_30_days_count=summary.missing_30_days_count, new_count=summary.new_count,
        all_linux_count=summary.all_linux_count,
        builtin_labels=[BuiltinLabelBody(id=label.id, name=label.name, description=label.description,
                                         label_type=label.label_type) for label in summary.builtin_labels],
        platforms=[PlatformCountBody(platform=p, hosts_count=n) for p, n in summary.platforms],
    )


class DeviceMappingResponse(msgspec.Struct, kw_only=True):
    host_id: int
    device_mapping: list[DeviceMappingBody]


class MacadminsBody(msgspec.Struct, kw_only=True):
    munki: MunkiBody | None
    mobile_device_management: MDMBody | None


class MacadminsResponse(msgspec.Struct, kw_only=True):
    macadmins: MacadminsBody | None


def to_macadmins(mdm: MDMInfo | None, munki: MunkiInfo | None) -> MacadminsResponse:
    # Fleet answers {"macadmins": null} for a host that never reported either.
    if mdm is None and munki is None:
        return MacadminsResponse(macadmins=None)
    return MacadminsResponse(macadmins=MacadminsBody(munki=to_munki(munki), mobile_device_management=to_mdm(mdm)))


class MunkiVersionBody(msgspec.Struct, kw_only=True):
    version: str
    hosts_count: int


class MunkiIssueBody(msgspec.Struct, kw_only=True):
    id: int
    name: str
    type: str
    hosts_count: int


class MDMStatusBody(msgspec.Struct, kw_only=True):
    enrolled_manual_hosts_count: int
    enrolled_automated_hosts_count: int
    unenrolled_hosts_count: int
    hosts_count: int


class MDMSolutionBody(msgspec.Struct, kw_only=True):
    id: int
    name: str
    hosts_count: int
    server_url: str


def to_mdm_solution(solution: MDMSolution) -> MDMSolutionBody:
    return MDMSolutionBody(id=solution.id, name=solution.name, hosts_count=solution.hosts_count,
                           server_url=solution.server_url)


class AggregatedMacadminsBody(msgspec.Struct, kw_only=True):
    counts_updated_at: str
    munki_versions: list[MunkiVersionBody]
    munki_issues: list[MunkiIssueBody]
    mobile_device_management_enrollment_status: MDMStatusBody
    mobile_device_management_solution: list[MDMSolutionBody]


class AggregatedMacadminsResponse(msgspec.Struct, kw_only=True):
    macadmins: AggregatedMacadminsBody


def to_aggregated_macadmins(summary: MacadminsSummary) -> AggregatedMacadminsResponse:
    status = summary.mdm_status
    return AggregatedMacadminsResponse(macadmins=AggregatedMacadminsBody(
        counts_updated_at=ts(summary.counted_at),
        munki_versions=[MunkiVersionBody(version=v.version, hosts_count=v.hosts_count) for v in summary.munki_versions],
        munki_issues=[MunkiIssueBody(id=i.id, name=i.name, type=i.type, hosts_count=i.hosts_count)
                      for i in summary.munki_issues],
        mobile_device_management_enrollment_status=MDMStatusBody(
            enrolled_manual_hosts_count=status.get("enrolled_manual_hosts_count", 0),
            enrolled_automated_hosts_count=status.get("enrolled_automated_hosts_count", 0),
            unenrolled_hosts_count=status.get("unenrolled_hosts_count", 0),
            hosts_count=status.get("hosts_count", 0),
        ),
        mobile_device_management_solution=[to_mdm_solution(s) for s in summary.mdm_solutions],
    ))


class OSVersionBody(msgspec.Struct, kw_only=True):
    hosts_count: int
    name: str
    name_only: str
    version: str
    platform: str
    os_id: int


def to_os_version(version: OSVersion) -> OSVersionBody:
    return OSVersionBody(hosts_count=version.hosts_count, name=version.name, name_only=version.name_only,
                         version=version.version, platform=version.platform, os_id=version.os_id)


class OSVersionsResponse(msgspec.Struct, kw_only=True):
    counts_updated_at: str
    os_versions: list[OSVersionBody]


# ---- CSV report ----------------------------------------------------------------------------

# Fleet's report columns in its order (Fleet's internal primary_ip_id left out), plus the few
# host fields its example predates.
REPORT_COLUMNS: tuple[str, ...] = (
    "created_at", "updated_at", "id", "detail_updated_at", "label_updated_at", "policy_updated_at",
    "last_enrolled_at", "seen_time", "refetch_requested", "hostname", "uuid", "platform", "osquery_version",
    "os_version", "build", "platform_like", "code_name", "uptime", "memory", "cpu_type", "cpu_subtype",
    "cpu_brand", "cpu_physical_cores", "cpu_logical_cores", "hardware_vendor", "hardware_model",
    "hardware_version", "hardware_serial", "computer_name", "public_ip", "primary_ip", "primary_mac",
    "distributed_interval", "config_tls_refresh", "logger_tls_period", "team_id", "team_name",
    "gigs_disk_space_available", "percent_disk_space_available", "gigs_total_disk_space", "issues",
    "device_mapping", "status", "display_text", "display_name",
)


def report_columns(value: str | None) -> tuple[str, ...]:
    """The ``columns`` parameter: every column when absent or blank.

    Raises:
        InvalidArgument: a column is not one of REPORT_COLUMNS.
    """
    names = tuple(dict.fromkeys(c.strip() for c in (value or "").split(",") if c.strip()))
    unknown = [c for c in names if c not in REPORT_COLUMNS]
    if unknown:
        raise InvalidArgument(("columns", f"unknown column {unknown[0]!r}; must be among {', '.join(REPORT_COLUMNS)}"))
    return names or REPORT_COLUMNS


def go_duration(seconds: int) -> str:
    """A whole number of seconds the way Go prints a time.Duration (Fleet's CSV uptime)."""
    if seconds <= 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return f"{text}{secs}s"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def report_row(listed: ListedHost, now: dt.datetime) -> dict[str, str]:
    host = listed.host
    fields = _host_fields(host, now)
    fields["uptime"] = go_duration(host.uptime_seconds)
    fields["issues"] = fields["issues"].total_issues_count
    # Fleet puts every device-mapping email, comma-separated, in the one cell.
    fields["device_mapping"] = ",".join(m.email for m in listed.device_mapping or ())
    return {column: _cell(fields[column]) for column in REPORT_COLUMNS}


def render_csv(rows: Iterable[Mapping[str, str]], columns: Sequence[str], *, header: bool = True) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([row[c] for c in columns])
    return out.getvalue()


async def csv_report_chunks(report: HostReport, columns: Sequence[str]) -> AsyncIterator[str]:
    """The report as CSV, one chunk per batch of hosts, so it is never whole in memory. The first
    batch is read before this returns: a failing read is still an error response, not a cut-off 200."""
    first: list[ListedHost] = await anext(report.batches, [])

    async def chunks() -> AsyncIterator[str]:
        yield render_csv((report_row(listed, report.as_of) for listed in first), columns)
        async for batch in report.batches:
            yield render_csv((report_row(listed, report.as_of) for listed in batch), columns, header=False)

    return chunks()
