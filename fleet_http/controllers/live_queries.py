"""Live queries: start a campaign (results stream over /results/websocket), run queries and wait
for the answers (the REST endpoints with a deadline), and the live query status checks.

``GET /queries/run`` carries a JSON body, which Litestar does not decode for GET handlers, so
that handler decodes it itself, as strictly as the strict_json_body guard does.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, InvalidArgument
from fleet_core.services.live_queries import LiveQueryService
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import EmptyResponse
from fleet_http.schemas.live_queries import (
    CampaignResponse,
    HostQueryRequest,
    HostQueryResponse,
    RunCampaignByNamesRequest,
    RunCampaignRequest,
    RunQueriesRequest,
    RunQueriesResponse,
    RunQueryRequest,
    RunQueryResponse,
    to_campaign,
    to_host_query,
    to_run_queries,
    to_run_query,
)
from fleet_http.schemas.targets import to_selection


def _require_selected(selected: object) -> None:
    if selected is None:
        raise InvalidArgument(("selected", "is required"))


class LiveQueryController(Controller):
    path = "/queries"
    tags = ["Live queries"]
    guards = [strict_json_body]

    @post("/run", status_code=200)
    async def run_campaign(self, data: JSONBody[RunCampaignRequest], viewer: NamedDependency[Viewer],
                           live_queries: NamedDependency[LiveQueryService]) -> CampaignResponse:
        _require_selected(data.selected)
        started = await live_queries.create_campaign(
            viewer, query=data.query, query_id=data.query_id, selected=to_selection(data.selected))
        return CampaignResponse(campaign=to_campaign(started))

    @post(["/run_by_identifiers", "/run_by_names"], status_code=200)
    async def run_campaign_by_identifiers(self, data: JSONBody[RunCampaignByNamesRequest],
                                          viewer: NamedDependency[Viewer],
                                          live_queries: NamedDependency[LiveQueryService]) -> CampaignResponse:
        _require_selected(data.selected)
        assert data.selected is not None
        started = await live_queries.create_campaign_by_identifiers(
            viewer, query=data.query, query_id=data.query_id, hosts=data.selected.hosts or [],
            labels=data.selected.labels or [])
        return CampaignResponse(campaign=to_campaign(started))

    @get("/run")
    async def run_queries(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                          live_queries: NamedDependency[LiveQueryService]) -> RunQueriesResponse:
        raw = await request.body()
        try:
            data = msgspec.json.decode(raw or b"{}", type=RunQueriesRequest)
        except msgspec.ValidationError as exc:
            raise BadRequest(str(exc).split(" - at ")[0], name=_error_path(str(exc))) from None
        except msgspec.DecodeError:
            raise BadRequest("the request body is not valid JSON") from None
        missing = [(name, "is required") for name in ("query_ids", "host_ids") if not getattr(data, name)]
        if missing:
            raise InvalidArgument(*missing)
        assert data.query_ids is not None and data.host_ids is not None
        runs = await live_queries.run_saved_queries(viewer, data.query_ids, data.host_ids)
        return to_run_queries(data.query_ids, runs)

    @post("/{query_id:int}/run", status_code=200)
    async def run_query(self, query_id: FromPath[int], data: JSONBody[RunQueryRequest],
                        viewer: NamedDependency[Viewer],
                        live_queries: NamedDependency[LiveQueryService]) -> RunQueryResponse:
        if not data.host_ids:
            raise InvalidArgument(("host_ids", "is required"))
        return to_run_query(await live_queries.run_saved_query(viewer, query_id, data.host_ids))


def _error_path(message: str) -> str:
    _, _, path = message.partition(" - at `$.")
    return path.rstrip("`").split("[")[0] or "base"


class HostQueryController(Controller):
    path = "/hosts"
    tags = ["Live queries"]
    guards = [strict_json_body]

    @post("/{host_id:int}/query", status_code=200)
    async def query_host(self, host_id: FromPath[int], data: JSONBody[HostQueryRequest],
                         viewer: NamedDependency[Viewer],
                         live_queries: NamedDependency[LiveQueryService]) -> HostQueryResponse:
        run = await live_queries.run_on_host(viewer, data.query or "", host_id=host_id)
        return to_host_query(run)

    @post("/identifier/{identifier:str}/query", status_code=200)
    async def query_host_by_identifier(self, identifier: FromPath[str], data: JSONBody[HostQueryRequest],
                                       viewer: NamedDependency[Viewer],
                                       live_queries: NamedDependency[LiveQueryService]) -> HostQueryResponse:
        run = await live_queries.run_on_host(viewer, data.query or "", identifier=identifier)
        return to_host_query(run)


class LiveQueryStatusController(Controller):
    path = "/status"
    tags = ["Live queries"]

    @get("/live_query")
    async def live_query_status(self, viewer: NamedDependency[Viewer],
                                live_queries: NamedDependency[LiveQueryService]) -> EmptyResponse:
        await live_queries.check_status()
        return EmptyResponse()

    @get("/result_store")
    async def result_store_status(self, viewer: NamedDependency[Viewer],
                                  live_queries: NamedDependency[LiveQueryService]) -> EmptyResponse:
        await live_queries.check_result_store()
        return EmptyResponse()
