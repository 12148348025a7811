"""Hosts: list, count, summary, details, delete, refetch, transfer, device mapping, macadmins,
OS versions and the CSV report."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import DeviceMapping, HostFilter
from fleet_core.ports import HOST_ORDER_KEYS
from fleet_core.services import Services
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.host_schemas import (
    AggregatedMacadminsResponse,
    CountHostsResponse,
    DeleteHostsRequest,
    DeviceMappingResponse,
    HostDetailResponse,
    HostSummaryResponse,
    ListHostsResponse,
    MacadminsResponse,
    OSVersionsResponse,
    TransferByFilterRequest,
    TransferHostsRequest,
    additional_fields,
    filter_from_body,
    host_filter,
    render_csv,
    report_columns,
    report_row,
    to_aggregated_macadmins,
    to_device_mapping,
    to_host,
    to_host_detail,
    to_host_summary,
    to_macadmins,
    to_mdm_solution,
    to_os_version,
    to_software,
)
from fleet_http.schemas.common import EmptyResponse, UnsetType, ts


def provide_host_filter(
    search: Annotated[str | None, QueryParameter(name="query")] = None,
    status: FromQuery[str | None] = None,
    team_id: FromQuery[int | None] = None,
    label_id: FromQuery[int | None] = None,
    policy_id: FromQuery[int | None] = None,
    policy_response: FromQuery[str | None] = None,
    software_id: FromQuery[int | None] = None,
    os_id: FromQuery[int | None] = None,
    os_name: FromQuery[str | None] = None,
    os_version: FromQuery[str | None] = None,
    mdm_id: FromQuery[int | None] = None,
    mdm_enrollment_status: FromQuery[str | None] = None,
    munki_issue_id: FromQuery[int | None] = None,
) -> HostFilter:
    """The host filters of list, count and report, validated (422 naming the parameter)."""
    return host_filter(
        query=search, status=status, team_id=team_id, label_id=label_id, policy_id=policy_id,
        policy_response=policy_response, software_id=software_id, os_id=os_id, os_name=os_name,
        os_version=os_version, mdm_id=mdm_id, mdm_enrollment_status=mdm_enrollment_status,
        munki_issue_id=munki_issue_id,
    )


async def _device_mappings(services: Services, viewer: Viewer, host_ids: list[int]) -> dict[int, list[DeviceMapping]]:
    return {host_id: await services.hosts.device_mapping(viewer, host_id) for host_id in host_ids}


def _missing(**values: object) -> list[tuple[str, str]]:
    reasons = {"team_id": "is required (null moves the hosts to no team)"}
    return [(name, reasons.get(name, "is required")) for name, value in values.items()
            if isinstance(value, UnsetType)]


class HostController(Controller):
    path = "/hosts"
    tags = ["Hosts"]
    guards = [strict_json_body]
    dependencies = {"filters": Provide(provide_host_filter, sync_to_thread=False)}

    @get("/")
    async def list_hosts(
        self, viewer: NamedDependency[Viewer], services: NamedDependency[Services],
        filters: NamedDependency[HostFilter],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        after: FromQuery[str | None] = None, additional_info_filters: FromQuery[str | None] = None,
        device_mapping: FromQuery[bool] = False, disable_failing_policies: FromQuery[bool] = False,
    ) -> ListHostsResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=filters.query,
                                     allowed_keys=HOST_ORDER_KEYS)
        hosts = await services.hosts.list(viewer, filters, options, after=after or None)
        mappings = await _device_mappings(services, viewer, [h.id for h in hosts]) if device_mapping else {}
        additional = additional_fields(additional_info_filters)
        now = services.hosts.clock.now()
        # As Fleet: disable_failing_policies skips counting (every host then shows 0 issues).
        failing = {} if disable_failing_policies else await services.hosts.failing_policy_counts(viewer, hosts)
        response = ListHostsResponse(hosts=[
            to_host(h, now, additional=additional, device_mapping=mappings.get(h.id) if device_mapping else None,
                    failing_policies=failing.get(h.id, 0))
            for h in hosts
        ])
        if filters.software_id is not None:
            # Fleet adds the software object the list is filtered by.
            software = await services.hosts.software(viewer, filters.software_id)
            if software is not None:
                response.software = to_software(software)
        if filters.mdm_id is not None:
            # Fleet adds the solution's aggregate (for the team filter only) when mdm_id is given.
            summary = await services.hosts.macadmins_summary(viewer, team_id=filters.team_id)
            for solution in summary.mdm_solutions:
                if solution[0] == filters.mdm_id:
                    response.mobile_device_management_solution = to_mdm_solution(solution)
        return response

    @get("/count")
    async def count_hosts(
        self, viewer: NamedDependency[Viewer], services: NamedDependency[Services],
        filters: NamedDependency[HostFilter],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        additional_info_filters: FromQuery[str | None] = None, disable_failing_policies: FromQuery[bool] = False,
    ) -> CountHostsResponse:
        # Fleet accepts (and ignores) the list parameters here; they are still validated.
        options_from_query(page=page, per_page=per_page, order_key=order_key, order_direction=order_direction,
                           query=None, allowed_keys=HOST_ORDER_KEYS)
        return CountHostsResponse(count=await services.hosts.count(viewer, filters))

    @get("/report")
    async def hosts_report(
        self, viewer: NamedDependency[Viewer], services: NamedDependency[Services],
        filters: NamedDependency[HostFilter],
        report_format: Annotated[str | None, QueryParameter(name="format")] = None,
        columns: FromQuery[str | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
    ) -> Response[str]:
        if report_format != "csv":
            raise InvalidArgument(("format", "unsupported or unspecified report format; must be csv"))
        selected = report_columns(columns)
        options = options_from_query(page=None, per_page=None, order_key=order_key, order_direction=order_direction,
                                     query=filters.query, allowed_keys=HOST_ORDER_KEYS)
        hosts = await services.hosts.list(viewer, filters, options)
        emails: dict[int, list[DeviceMapping]] = {}
        if "device_mapping" in selected:
            emails = await _device_mappings(services, viewer, [h.id for h in hosts])
        now = services.hosts.clock.now()
        rows = [report_row(h, now, [m.email for m in emails.get(h.id, [])]) for h in hosts]
        return Response(
            render_csv(rows, selected),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="Hosts {now.strftime("%Y-%m-%d")}.csv"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @get("/{host_id:int}")
    async def get_host(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                       services: NamedDependency[Services]) -> HostDetailResponse:
        details = await services.hosts.get(viewer, host_id)
        return HostDetailResponse(host=to_host_detail(details, services.hosts.clock.now()))

    @get("/identifier/{identifier:str}")
    async def get_host_by_identifier(self, identifier: FromPath[str], viewer: NamedDependency[Viewer],
                                     services: NamedDependency[Services]) -> HostDetailResponse:
        details = await services.hosts.get_by_identifier(viewer, identifier)
        return HostDetailResponse(host=to_host_detail(details, services.hosts.clock.now()))

    @delete("/{host_id:int}", status_code=200)
    async def delete_host(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                          services: NamedDependency[Services]) -> EmptyResponse:
        await services.hosts.delete(viewer, host_id)
        return EmptyResponse()

    @post("/{host_id:int}/refetch", status_code=200)
    async def refetch_host(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                           services: NamedDependency[Services]) -> EmptyResponse:
        await services.hosts.refetch(viewer, host_id)
        return EmptyResponse()

    @post("/transfer", status_code=200)
    async def transfer_hosts(self, data: JSONBody[TransferHostsRequest], viewer: NamedDependency[Viewer],
                             services: NamedDependency[Services]) -> EmptyResponse:
        team_id, hosts = data.team_id, data.hosts
        if isinstance(team_id, UnsetType) or isinstance(hosts, UnsetType):
            raise InvalidArgument(*_missing(team_id=team_id, hosts=hosts))
        await services.hosts.transfer(viewer, team_id, ids=hosts)
        return EmptyResponse()

    @post("/transfer/filter", status_code=200)
    async def transfer_hosts_by_filter(self, data: JSONBody[TransferByFilterRequest],
                                       viewer: NamedDependency[Viewer],
                                       services: NamedDependency[Services]) -> EmptyResponse:
        team_id, filters = data.team_id, data.filters
        if isinstance(team_id, UnsetType) or isinstance(filters, UnsetType):
            raise InvalidArgument(*_missing(team_id=team_id, filters=filters))
        await services.hosts.transfer(viewer, team_id, filters=filter_from_body(filters))
        return EmptyResponse()

    @post("/delete", status_code=200)
    async def delete_hosts(self, data: JSONBody[DeleteHostsRequest], viewer: NamedDependency[Viewer],
                           services: NamedDependency[Services]) -> EmptyResponse:
        ids, filters = data.ids, data.filters
        if isinstance(ids, UnsetType) == isinstance(filters, UnsetType):
            reason = "either ids or filters must be given, not both"
            raise InvalidArgument(("ids", reason), ("filters", reason))
        if not isinstance(ids, UnsetType):
            await services.hosts.delete_many(viewer, ids=ids)
        elif not isinstance(filters, UnsetType):
            # An empty filter matches every host; deleting a whole fleet must be asked for by ids.
            if filters.is_empty():
                raise InvalidArgument(("filters", "must contain at least one of query, status, label_id or team_id"))
            await services.hosts.delete_many(viewer, filters=filter_from_body(filters))
        return EmptyResponse()

    @get("/{host_id:int}/device_mapping")
    async def device_mapping(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                             services: NamedDependency[Services]) -> DeviceMappingResponse:
        mappings = await services.hosts.device_mapping(viewer, host_id)
        return DeviceMappingResponse(host_id=host_id, device_mapping=[to_device_mapping(m) for m in mappings])

    @get("/{host_id:int}/macadmins")
    async def macadmins(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                        services: NamedDependency[Services]) -> MacadminsResponse:
        mdm, munki = await services.hosts.macadmins(viewer, host_id)
        return to_macadmins(mdm, munki)


class HostAggregatesController(Controller):
    """The aggregate views over hosts that live outside /hosts."""

    path = "/"
    tags = ["Hosts"]

    @get("/host_summary")
    async def host_summary(self, viewer: NamedDependency[Viewer], services: NamedDependency[Services],
                           team_id: FromQuery[int | None] = None,
                           platform: FromQuery[str | None] = None) -> HostSummaryResponse:
        return to_host_summary(await services.hosts.summary(viewer, team_id=team_id, platform=platform))

    @get("/macadmins")
    async def aggregated_macadmins(self, viewer: NamedDependency[Viewer], services: NamedDependency[Services],
                                   team_id: FromQuery[int | None] = None) -> AggregatedMacadminsResponse:
        summary = await services.hosts.macadmins_summary(viewer, team_id=team_id)
        return to_aggregated_macadmins(summary, services.hosts.clock.now())

    @get("/os_versions")
    async def os_versions(self, viewer: NamedDependency[Viewer], services: NamedDependency[Services],
                          team_id: FromQuery[int | None] = None, platform: FromQuery[str | None] = None,
                          os_name: FromQuery[str | None] = None,
                          os_version: FromQuery[str | None] = None) -> OSVersionsResponse:
        os_name, os_version = os_name or None, os_version or None
        if os_name is not None and os_version is None:
            raise InvalidArgument(("os_version", "is required when os_name is given"))
        if os_version is not None and os_name is None:
            raise InvalidArgument(("os_name", "is required when os_version is given"))
        versions = await services.hosts.os_versions(viewer, team_id=team_id, platform=platform, name=os_name,
                                                    version=os_version)
        return OSVersionsResponse(counts_updated_at=ts(services.hosts.clock.now()),
                                  os_versions=[to_os_version(v) for v in versions])


