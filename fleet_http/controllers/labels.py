"""Labels: create, modify, get, summary, list, hosts in a label, delete by name or id."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import HostFilter
from fleet_core.rules.ordering import HOST_ORDER_KEYS, LABEL_ORDER_KEYS
from fleet_core.services.hosts import HostService
from fleet_core.services.labels import LabelChanges, LabelService
from fleet_http.controllers.hosts import provide_host_filter
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import EmptyResponse, patch_field
from fleet_http.schemas.hosts import ListHostsResponse, to_list_hosts
from fleet_http.schemas.labels import (
    CreateLabelRequest,
    LabelResponse,
    LabelsSummaryResponse,
    ListLabelsResponse,
    ModifyLabelRequest,
    to_label_detail,
    to_label_summary,
)


class LabelController(Controller):
    path = "/labels"
    tags = ["Labels"]
    guards = [strict_json_body]

    @post("/", status_code=200)
    async def create_label(self, data: JSONBody[CreateLabelRequest], viewer: NamedDependency[Viewer],
                           labels: NamedDependency[LabelService]) -> LabelResponse:
        missing = [("name", "is required")] if data.name is None else []
        if data.query is None and data.host_ids is None:
            missing.append(("query", "is required"))
        if missing:
            raise InvalidArgument(*missing)
        assert data.name is not None
        view = await labels.create(viewer, name=data.name, description=data.description, query=data.query,
                                            platform=data.platform, host_ids=data.host_ids)
        return LabelResponse(label=to_label_detail(view))

    @patch("/{label_id:int}")
    async def modify_label(self, label_id: FromPath[int], data: JSONBody[ModifyLabelRequest],
                           viewer: NamedDependency[Viewer], labels: NamedDependency[LabelService]) -> LabelResponse:
        changes = LabelChanges(name=patch_field(data.name), description=patch_field(data.description),
                               query=patch_field(data.query), platform=patch_field(data.platform),
                               host_ids=patch_field(data.host_ids))
        return LabelResponse(label=to_label_detail(await labels.modify(viewer, label_id, changes)))

    @get("/{label_id:int}")
    async def get_label(self, label_id: FromPath[int], viewer: NamedDependency[Viewer],
                        labels: NamedDependency[LabelService]) -> LabelResponse:
        return LabelResponse(label=to_label_detail(await labels.get(viewer, label_id)))

    @get("/summary")
    async def labels_summary(self, viewer: NamedDependency[Viewer],
                             labels: NamedDependency[LabelService]) -> LabelsSummaryResponse:
        return LabelsSummaryResponse(labels=[to_label_summary(lb) for lb in await labels.summary(viewer)])

    @get("/")
    async def list_labels(
        self, viewer: NamedDependency[Viewer], labels: NamedDependency[LabelService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        search: Annotated[str | None, QueryParameter(name="query")] = None,
    ) -> ListLabelsResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=search, allowed_keys=LABEL_ORDER_KEYS)
        return ListLabelsResponse(labels=[to_label_detail(v) for v in await labels.list(viewer, options)])

    # The path parameter is `id`, as in Fleet's route: the host filter has a `label_id` query
    # parameter of its own, and one name in two places breaks the OpenAPI document.
    @get("/{id:int}/hosts", dependencies={"filters": Provide(provide_host_filter, sync_to_thread=False)})
    async def list_label_hosts(
        self, id: FromPath[int], viewer: NamedDependency[Viewer], hosts: NamedDependency[HostService],
        filters: NamedDependency[HostFilter],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
    ) -> ListHostsResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=filters.query,
                                     allowed_keys=HOST_ORDER_KEYS)
        return to_list_hosts(await hosts.label_page(viewer, id, filters, options))

    @delete("/id/{label_id:int}", status_code=200)
    async def delete_label_by_id(self, label_id: FromPath[int], viewer: NamedDependency[Viewer],
                                 labels: NamedDependency[LabelService]) -> EmptyResponse:
        await labels.delete(viewer, label_id)
        return EmptyResponse()

    @delete("/{name:str}", status_code=200)
    async def delete_label(self, name: FromPath[str], viewer: NamedDependency[Viewer],
                           labels: NamedDependency[LabelService]) -> EmptyResponse:
        await labels.delete_by_name(viewer, name)
        return EmptyResponse()
