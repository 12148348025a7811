"""Hosts: list, count, summary, details, delete, refetch, transfer, device mapping, macadmins,
OS versions and the CSV report."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import HostFilter
from fleet_core.rules.host_filters import host_filter
from fleet_core.rules.ordering import HOST_ORDER_KEYS
from fleet_core.services.hosts import HostService
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import EmptyResponse, UnsetType, ts
from fleet_http.schemas.hosts import (
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
    csv_report_chunks,
    filter_from_body,
    report_columns,
    to_aggregated_macadmins,
    to_device_mapping,
    to_host_detail,
    to_host_summary,
    to_list_hosts,
    to_macadmins,
    to_os_version,
)


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
        self, viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService],
        filters: NamedDependency[HostFilter],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        after: FromQuery[str | None] = None, additional_info_filters: FromQuery[str | None] = None,
        device_mapping: FromQuery[bool] = False, disable_failing_policies: FromQuery[bool] = False,
    ) -> ListHostsResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=filters.query,
                                     allowed_keys=HOST_ORDER_KEYS)
        # As Fleet: disable_failing_policies skips counting (every host then shows 0 issues).
        host_page = await hosts.list_page(viewer, filters, options, after=after or None,
                                          device_mapping=device_mapping, failing_policies=not disable_failing_policies)
        return to_list_hosts(host_page, additional=additional_fields(additional_info_filters))

    @get("/count")
    async def count_hosts(
        self, viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService],
        filters: NamedDependency[HostFilter],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        additional_info_filters: FromQuery[str | None] = None, disable_failing_policies: FromQuery[bool] = False,
    ) -> CountHostsResponse:
        # Fleet accepts (and ignores) the list parameters here; they are still validated.
        options_from_query(page=page, per_page=per_page, order_key=order_key, order_direction=order_direction,
                           query=None, allowed_keys=HOST_ORDER_KEYS)
        return CountHostsResponse(count=await hosts.count(viewer, filters))

    @get("/report", media_type="text/csv")
    async def hosts_report(
        self, viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService],
        filters: NamedDependency[HostFilter],
        report_format: Annotated[str | None, QueryParameter(name="format")] = None,
        columns: FromQuery[str | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
    ) -> Stream:
        if report_format != "csv":
            raise InvalidArgument(("format", "unsupported or unspecified report format; must be csv"))
        selected = report_columns(columns)
        options = options_from_query(page=None, per_page=None, order_key=order_key, order_direction=order_direction,
                                     query=filters.query, allowed_keys=HOST_ORDER_KEYS)
        report = await hosts.report(viewer, filters, options, device_mapping="device_mapping" in selected)
        return Stream(
            await csv_report_chunks(report, selected),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="Hosts {report.as_of.strftime("%Y-%m-%d")}.csv"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @get("/{host_id:int}")
    async def get_host(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                       hosts: NamedDependency[HostService]) -> HostDetailResponse:
        details = await hosts.get(viewer, host_id)
        return HostDetailResponse(host=to_host_detail(details))

    @get("/identifier/{identifier:str}")
    async def get_host_by_identifier(self, identifier: FromPath[str], viewer: NamedDependency[Viewer],
                                     hosts: NamedDependency[HostService]) -> HostDetailResponse:
        details = await hosts.get_by_identifier(viewer, identifier)
        return HostDetailResponse(host=to_host_detail(details))

    @delete("/{host_id:int}", status_code=200)
    async def delete_host(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                          hosts: NamedDependency[HostService]) -> EmptyResponse:
        await hosts.delete(viewer, host_id)
        return EmptyResponse()

    @post("/{host_id:int}/refetch", status_code=200)
    async def refetch_host(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                           hosts: NamedDependency[HostService]) -> EmptyResponse:
        await hosts.refetch(viewer, host_id)
        return EmptyResponse()

    @post("/transfer", status_code=200)
    async def transfer_hosts(self, data: JSONBody[TransferHostsRequest], viewer: NamedDependency[Viewer],
                             hosts: NamedDependency[HostService]) -> EmptyResponse:
        team_id, host_ids = data.team_id, data.hosts
        if isinstance(team_id, UnsetType) or isinstance(host_ids, UnsetType):
            raise InvalidArgument(*_missing(team_id=team_id, hosts=host_ids))
        await hosts.transfer(viewer, team_id, ids=host_ids)
        return EmptyResponse()

    @post("/transfer/filter", status_code=200)
    async def transfer_hosts_by_filter(self, data: JSONBody[TransferByFilterRequest],
                                       viewer: NamedDependency[Viewer],
                                       hosts: NamedDependency[HostService]) -> EmptyResponse:
        team_id, filters = data.team_id, data.filters
        if isinstance(team_id, UnsetType) or isinstance(filters, UnsetType):
            raise InvalidArgument(*_missing(team_id=team_id, filters=filters))
        await hosts.transfer(viewer, team_id, filters=filter_from_body(filters))
        return EmptyResponse()

    @post("/delete", status_code=200)
    async def delete_hosts(self, data: JSONBody[DeleteHostsRequest], viewer: NamedDependency[Viewer],
                           hosts: NamedDependency[HostService]) -> EmptyResponse:
        ids, filters = data.ids, data.filters
        if isinstance(ids, UnsetType) == isinstance(filters, UnsetType):
            reason = "either ids or filters must be given, not both"
            raise InvalidArgument(("ids", reason), ("filters", reason))
        if not isinstance(ids, UnsetType):
            await hosts.delete_many(viewer, ids=ids)
        elif not isinstance(filters, UnsetType):
            await hosts.delete_many(viewer, filters=filter_from_body(filters))
        return EmptyResponse()

    @get("/{host_id:int}/device_mapping")
    async def device_mapping(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                             hosts: NamedDependency[HostService]) -> DeviceMappingResponse:
        mappings = await hosts.device_mapping(viewer, host_id)
        return DeviceMappingResponse(host_id=host_id, device_mapping=[to_device_mapping(m) for m in mappings])

    @get("/{host_id:int}/macadmins")
    async def macadmins(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                        hosts: NamedDependency[HostService]) -> MacadminsResponse:
        mdm, munki = await hosts.macadmins(viewer, host_id)
        return to_macadmins(mdm, munki)


class HostAggregatesController(Controller):
    """The aggregate views over hosts that live outside /hosts."""

    path = "/"
    tags = ["Hosts"]

    @get("/host_summary")
    async def host_summary(self, viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService],
                           team_id: FromQuery[int | None] = None,
                           platform: FromQuery[str | None] = None) -> HostSummaryResponse:
        return to_host_summary(await hosts.summary(viewer, team_id=team_id, platform=platform))

    @get("/macadmins")
    async def aggregated_macadmins(self, viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService],
                                   team_id: FromQuery[int | None] = None) -> AggregatedMacadminsResponse:
        return to_aggregated_macadmins(await hosts.macadmins_summary(viewer, team_id=team_id))

    @get("/os_versions")
    async def os_versions(self, viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService],
                          team_id: FromQuery[int | None] = None, platform: FromQuery[str | None] = None,
                          os_name: FromQuery[str | None] = None,
                          os_version: FromQuery[str | None] = None) -> OSVersionsResponse:
        counts = await hosts.os_versions(viewer, team_id=team_id, platform=platform, name=os_name or None,
                                         version=os_version or None)
        return OSVersionsResponse(counts_updated_at=ts(counts.counted_at),
                                  os_versions=[to_os_version(v) for v in counts.versions])
