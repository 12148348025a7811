"""Hosts: the list (search, every filter of GET /hosts, paging, selectable columns, CSV export),
a host's details (vitals, labels, policies, software with vulnerabilities, users, schedule) and
its actions (refetch, transfer, delete, query this host); and "Add hosts" (enroll secrets,
certificate and the exact osqueryd flags)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlencode

import attrs
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from fleet_core.authz import Action, Viewer
from fleet_core.errors import InvalidArgument, NotConfigured, NotFound, PermissionDenied
from fleet_core.model.hosts import Host, HostFilter
from fleet_core.rules.host_filters import host_filter
from fleet_core.rules.hosts import host_status
from fleet_core.rules.ordering import HOST_ORDER_KEYS
from fleet_core.rules.paging import Direction, ListOptions
from fleet_core.services.config import ConfigService
from fleet_core.services.hosts import HostService
from fleet_core.services.labels import LabelService
from fleet_core.services.packs import PackService
from fleet_core.services.policies import PolicyService
from fleet_core.services.teams import TeamService
from fleet_http.console.pages import (
    available_teams,
    can,
    form_data,
    page_info,
    paging,
    redirect,
    render,
    selected_team_id,
)
from fleet_http.schemas.hosts import csv_report_chunks, report_columns


@attrs.frozen
class HostColumn:
    key: str
    label: str


# The columns the list can show, in order; DEFAULT_COLUMNS when the URL names none.
HOST_COLUMNS: Final = (
    HostColumn("hostname", "Host"),
    HostColumn("status", "Status"),
    HostColumn("issues", "Issues"),
    HostColumn("team_name", "Team"),
    HostColumn("platform", "Platform"),
    HostColumn("os_version", "OS"),
    HostColumn("osquery_version", "osquery"),
    HostColumn("primary_ip", "Private IP"),
    HostColumn("public_ip", "Public IP"),
    HostColumn("hardware_serial", "Serial"),
    HostColumn("hardware_model", "Model"),
    HostColumn("memory", "Memory"),
    HostColumn("uptime", "Uptime"),
    HostColumn("seen_time", "Last seen"),
)
DEFAULT_COLUMNS: Final = ("hostname", "status", "issues", "team_name", "platform", "os_version",
                          "osquery_version", "primary_ip", "seen_time")
COLUMN_KEYS: Final = frozenset(c.key for c in HOST_COLUMNS)
HOST_PAGE_SIZE: Final = 100
# The filters of GET /hosts the page passes through (by their API names), besides ?query=.
FILTER_PARAMS: Final = ("status", "team_id", "label_id", "policy_id", "policy_response", "software_id",
                        "os_name", "os_version", "mdm_id", "mdm_enrollment_status", "munki_issue_id")
INT_PARAMS: Final = frozenset({"team_id", "label_id", "policy_id", "software_id", "mdm_id", "munki_issue_id"})
STATUSES: Final = (("", "Any status"), ("online", "Online"), ("offline", "Offline"), ("new", "New"),
                   ("missing", "Missing"))
MDM_STATUSES: Final = (("", "Any MDM status"), ("manual", "Manual"), ("automatic", "Automatic"),
                       ("unenrolled", "Unenrolled"))
# Fleet's documented agent settings (docs: "Adding hosts", osquery flagfile).
AGENT_INTERVALS: Final = {"config_refresh": 10, "logger_tls_period": 10, "distributed_interval": 10}


def selected_columns(request: Request[Any, Any, Any]) -> list[HostColumn]:
    """?columns=a,b (or repeated ?columns=) naming known columns; else the cookie-free default."""
    raw = ",".join(request.query_params.getall("columns", []))
    wanted = [c.strip() for c in raw.split(",") if c.strip() in COLUMN_KEYS]
    keys = wanted or list(DEFAULT_COLUMNS)
    if "hostname" not in keys:
        keys.insert(0, "hostname")
    return [c for c in HOST_COLUMNS if c.key in keys]


def filter_values(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The filter parameters as given (for the form and for links)."""
    values = {name: request.query_params.get(name, "").strip() for name in FILTER_PARAMS}
    values["query"] = request.query_params.get("query", "").strip()
    return values


def filters_from(values: dict[str, str]) -> HostFilter:
    """The HostFilter of the given values, validated by the same rule as the API (InvalidArgument
    naming the parameter)."""
    numbers: dict[str, int | None] = {}
    for name in INT_PARAMS:
        raw = values.get(name, "")
        if not raw:
            numbers[name] = None
            continue
        try:
            numbers[name] = int(raw)
        except ValueError:
            raise InvalidArgument((name, "must be a whole number")) from None
    text = {name: (values.get(name) or None) for name in FILTER_PARAMS if name not in INT_PARAMS}
    return host_filter(query=values.get("query") or None, **text, **numbers)  # type: ignore[arg-type]


def list_options(request: Request[Any, Any, Any]) -> ListOptions:
    options = paging(request, default_per_page=HOST_PAGE_SIZE)
    order_key = request.query_params.get("order_key", "")
    if order_key not in HOST_ORDER_KEYS:
        return attrs.evolve(options, order_key="hostname", order_direction=Direction.ASC)
    direction = Direction.DESC if request.query_params.get("order_direction") == "desc" else Direction.ASC
    return attrs.evolve(options, order_key=order_key, order_direction=direction)


def status_of(host: Host, as_of: dt.datetime) -> str:
    return host_status(host.seen_time, host.distributed_interval, host.config_tls_refresh, as_of).value


def _uptime(seconds: int) -> str:
    if seconds <= 0:
        return ""
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {(rest % 3600) // 60}m"


def _memory(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size else ""


def cell(host: Host, key: str, status: str, issues: int) -> str:
    """One list cell as text (hostname, status and issues are rendered by the template)."""
    if key == "status":
        return status
    if key == "issues":
        return str(issues)
    if key == "memory":
        return _memory(host.memory)
    if key == "uptime":
        return _uptime(host.uptime_seconds)
    if key == "seen_time":
        return host.seen_time.strftime("%Y-%m-%d %H:%M UTC")
    if key == "team_name":
        return host.team_name or "No team"
    return str(getattr(host, key, "") or "")


async def _label_options(viewer: Viewer, labels: LabelService) -> list[tuple[object, str]]:
    """The label filter's options: names only (the summary, not the per-label host counts)."""
    if not can(viewer, Action.READ_LABELS):
        return []
    return [("", "Any label")] + [(label.id, label.name) for label in await labels.summary(viewer)]


async def _policy_options(viewer: Viewer, policies: PolicyService, team_id: int | None) -> list[tuple[object, str]]:
    try:
        listed = await policies.list(viewer, team_id=team_id)
    except PermissionDenied:
        listed = []
    return [("", "Any policy")] + [(p.id, p.name) for p in listed]


class HostListController(Controller):
    path = "/hosts"

    @get("")
    async def host_list(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                        hosts: NamedDependency[HostService], teams: NamedDependency[TeamService],
                        labels: NamedDependency[LabelService],
                        policies: NamedDependency[PolicyService]) -> Response[Any]:
        choices = await available_teams(viewer, teams)
        values = filter_values(request)
        team_id = selected_team_id(request, choices)
        values["team_id"] = "" if team_id is None else str(team_id)
        filters = filters_from(values)
        options = list_options(request)
        # Independent reads, each in its own unit of work: at 10,000 hosts the page costs the
        # slowest of them rather than their sum (docs/console.md has the figures).
        page, total, label_options, policy_options = await asyncio.gather(
            hosts.list_page(viewer, filters, options), hosts.count(viewer, filters),
            _label_options(viewer, labels), _policy_options(viewer, policies, team_id))
        columns = selected_columns(request)
        rows = []
        for listed in page.hosts:
            status = status_of(listed.host, page.as_of)
            rows.append((listed.host, status, listed.failing_policies_count,
                         [cell(listed.host, c.key, status, listed.failing_policies_count) for c in columns]))
        kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "per_page")]
        export_query = urlencode([(k, v) for k, v in values.items() if v] + [("format", "csv")])
        return render(request, "hosts/list.html", {
            "rows": rows, "columns": columns, "all_columns": HOST_COLUMNS,
            "selected_keys": [c.key for c in columns], "values": values,
            "page": page_info(request, options, len(page.hosts), total), "total": total,
            "statuses": STATUSES, "mdm_statuses": MDM_STATUSES,
            "software": page.software, "mdm_solution": page.mdm_solution,
            "export_url": "/hosts/export?" + export_query,
            "columns_query": urlencode(kept),
            "label_options": label_options, "policy_options": policy_options,
        }, viewer=viewer, teams=choices, team_id=team_id)

    @get("/export")
    async def export_csv(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                         hosts: NamedDependency[HostService]) -> Stream:
        """The CSV of GET /api/v1/fleet/hosts/report, through the same service and columns."""
        filters = filters_from(filter_values(request))
        columns = report_columns(request.query_params.get("columns_csv"))
        report = await hosts.report(viewer, filters, ListOptions(order_key="hostname"),
                                    device_mapping="device_mapping" in columns)
        return Stream(
            await csv_report_chunks(report, columns),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="Hosts {report.as_of.strftime("%Y-%m-%d")}.csv"',
                     "Cache-Control": "no-store"},
        )

    @get("/{host_id:int}")
    async def host_details(self, request: Request[Any, Any, Any], host_id: FromPath[int],
                           viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService],
                           teams: NamedDependency[TeamService],
                           packs: NamedDependency[PackService]) -> Response[Any]:
        details = await hosts.get(viewer, host_id)
        host = details.host
        schedule: list[Any] = []
        with _quietly():
            schedule = await packs.schedule_of(viewer, None)
        team_schedule: list[Any] = []
        if host.team_id is not None:
            with _quietly():
                team_schedule = await packs.schedule_of(viewer, host.team_id)
        transfer_teams = await available_teams(viewer, teams) if can(viewer, Action.WRITE_HOSTS) else []
        return render(request, "hosts/details.html", {
            "d": details, "host": host, "status": status_of(host, details.as_of),
            "vitals": _vitals(host),
            "passing": sum(1 for p in details.policies if p.response == "pass"),
            "schedule": schedule, "team_schedule": team_schedule,
            "transfer_teams": transfer_teams,
        }, viewer=viewer)

    @post("/{host_id:int}/refetch")
    async def refetch(self, request: Request[Any, Any, Any], host_id: FromPath[int],
                      viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService]) -> Response[Any]:
        await hosts.refetch(viewer, host_id)
        return redirect(request, f"/hosts/{host_id}", flash="Refetch requested: the host reports at its next check-in.")

    @post("/{host_id:int}/transfer")
    async def transfer(self, request: Request[Any, Any, Any], host_id: FromPath[int],
                       viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService]) -> Response[Any]:
        form = await form_data(request)
        raw = form.get("team_id", "")
        try:
            team_id = int(raw) if raw else None
        except ValueError:
            raise InvalidArgument(("team_id", "must be a team id or empty for no team")) from None
        await hosts.transfer(viewer, team_id, ids=[host_id])
        return redirect(request, f"/hosts/{host_id}", flash="Host transferred.")

    @post("/{host_id:int}/delete")
    async def delete_host(self, request: Request[Any, Any, Any], host_id: FromPath[int],
                          viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService]) -> Response[Any]:
        details = await hosts.get(viewer, host_id)
        await hosts.delete(viewer, host_id)
        return redirect(request, "/hosts", flash=f"Deleted host {details.host.display_name}.")


class _quietly:
    """Leave a section empty when the viewer may not read it (the rest of the page still shows)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        return isinstance(exc, PermissionDenied | NotConfigured | NotFound)


def _vitals(host: Host) -> list[tuple[str, str]]:
    return [
        ("Hostname", host.hostname), ("Computer name", host.computer_name), ("UUID", host.uuid),
        ("Platform", host.platform), ("Operating system", host.os_version), ("osquery", host.osquery_version),
        ("Team", host.team_name or "No team"), ("Serial", host.hardware_serial),
        ("Hardware", f"{host.hardware_vendor} {host.hardware_model}".strip()),
        ("CPU", host.cpu_brand), ("Cores", f"{host.cpu_physical_cores} physical, {host.cpu_logical_cores} logical"),
        ("Memory", _memory(host.memory)), ("Disk free", f"{host.gigs_disk_space_available:.1f} GB "
                                                         f"({host.percent_disk_space_available:.0f}%)"),
        ("Private IP", host.primary_ip), ("Public IP", host.public_ip), ("MAC", host.primary_mac),
        ("Uptime", _uptime(host.uptime_seconds)),
        ("Enrolled", host.last_enrolled_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("Last seen", host.seen_time.strftime("%Y-%m-%d %H:%M UTC")),
        ("Details updated", host.detail_updated_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]


@attrs.frozen
class EnrollSecretView:
    scope: str
    secret: str
    element_id: str


def osqueryd_flags(server_url: str, tls: bool) -> list[str]:
    """The osqueryd flags of Fleet's "Adding hosts" docs, for this server."""
    hostport = server_url.split("://", 1)[-1].rstrip("/")
    flags = [
        "--enroll_secret_path=/etc/osquery/enroll_secret",
        f"--tls_hostname={hostport}",
        "--host_identifier=uuid",
        "--enroll_tls_endpoint=/api/osquery/enroll",
        "--config_plugin=tls",
        "--config_tls_endpoint=/api/osquery/config",
        f"--config_refresh={AGENT_INTERVALS['config_refresh']}",
        "--disable_distributed=false",
        "--distributed_plugin=tls",
        f"--distributed_interval={AGENT_INTERVALS['distributed_interval']}",
        "--distributed_tls_max_attempts=3",
        "--distributed_tls_read_endpoint=/api/osquery/distributed/read",
        "--distributed_tls_write_endpoint=/api/osquery/distributed/write",
        "--logger_plugin=tls",
        "--logger_tls_endpoint=/api/osquery/log",
        f"--logger_tls_period={AGENT_INTERVALS['logger_tls_period']}",
    ]
    if tls:
        flags.insert(2, "--tls_server_certs=/etc/osquery/fleet.pem")
    return flags


class AddHostsController(Controller):
    path = "/hosts/add"

    @get("")
    async def add_hosts(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                        config: NamedDependency[ConfigService],
                        teams: NamedDependency[TeamService]) -> Response[Any]:
        secrets: list[EnrollSecretView] = []
        if can(viewer, Action.READ_ENROLL_SECRETS) and viewer.user.global_role is not None:
            with _quietly():
                for s in await config.enroll_secrets(viewer):
                    secrets.append(EnrollSecretView("Global (no team)", s.secret, f"secret-{len(secrets)}"))
        for team in await available_teams(viewer, teams):
            with _quietly():
                for s in await config.enroll_secrets(viewer, team.id):
                    secrets.append(EnrollSecretView(f"Team {team.name}", s.secret, f"secret-{len(secrets)}"))
        server_url = str(request.base_url).rstrip("/")
        tls = False
        with _quietly():
            tls = bool(await config.certificate_chain(viewer))
        flags = osqueryd_flags(server_url, tls)
        first = secrets[0].secret if secrets else "YOUR-ENROLL-SECRET"
        sim = (f"FLEET_SIM_ENROLL_SECRET={first} fleet-sim --server-url {server_url} --host-count 10"
               + (" --ca-file fleet.pem" if tls else ""))
        return render(request, "hosts/add.html", {
            "secrets": secrets, "server_url": server_url, "tls": tls, "flags": flags,
            "flagfile": "\n".join(flags), "sim_command": sim,
        }, viewer=viewer)

    @get("/certificate")
    async def certificate(self, viewer: NamedDependency[Viewer],
                          config: NamedDependency[ConfigService]) -> Response[str]:
        """The server's TLS certificate chain (what --tls_server_certs points at); 404 over plain HTTP."""
        chain = await config.certificate_chain(viewer)
        return Response(chain, media_type="application/x-pem-file",
                        headers={"Content-Disposition": 'attachment; filename="fleet.pem"',
                                 "Cache-Control": "no-store"})


def host_targets(host_ids: Sequence[int]) -> str:
    return "/live?" + urlencode([("host_id", str(i)) for i in host_ids])
