"""Saved queries: list, get, create, modify, delete by name, by id and in bulk.

``/queries/run`` belongs to live queries and is not registered here.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.queries import QueryFields
from fleet_core.rules.ordering import QUERY_ORDER_KEYS
from fleet_core.services.queries import QueryChanges, QueryService
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import EmptyResponse, patch_field
from fleet_http.schemas.queries import (
    CreateQueryRequest,
    DeleteQueriesRequest,
    DeleteQueriesResponse,
    ListQueriesResponse,
    ModifyQueryRequest,
    QueryResponse,
    to_query,
)


class QueryController(Controller):
    path = "/queries"
    tags = ["Queries"]
    guards = [strict_json_body]

    @get("/")
    async def list_queries(
        self, viewer: NamedDependency[Viewer], queries: NamedDependency[QueryService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        search: Annotated[str | None, QueryParameter(name="query")] = None,
        team_id: FromQuery[int | None] = None,
    ) -> ListQueriesResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=search, allowed_keys=QUERY_ORDER_KEYS)
        found = await queries.list(viewer, options, team_id=team_id)
        return ListQueriesResponse(queries=[to_query(q) for q in found])

    @get("/{query_id:int}")
    async def get_query(self, query_id: FromPath[int], viewer: NamedDependency[Viewer],
                        queries: NamedDependency[QueryService]) -> QueryResponse:
        return QueryResponse(query=to_query(await queries.get(viewer, query_id)))

    @post("/", status_code=200)
    async def create_query(self, data: JSONBody[CreateQueryRequest], viewer: NamedDependency[Viewer],
                           queries: NamedDependency[QueryService]) -> QueryResponse:
        missing = [(name, "is required") for name in ("name", "query") if getattr(data, name) is None]
        if missing:
            raise InvalidArgument(*missing)
        assert data.name is not None and data.query is not None
        fields = QueryFields(
            name=data.name, query=data.query, description=data.description, observer_can_run=data.observer_can_run,
            interval=data.interval, platform=data.platform, min_osquery_version=data.min_osquery_version,
            automations_enabled=data.automations_enabled, logging=data.logging,
        )
        return QueryResponse(query=to_query(await queries.create(viewer, fields, team_id=data.team_id)))

    @patch("/{query_id:int}")
    async def modify_query(self, query_id: FromPath[int], data: JSONBody[ModifyQueryRequest],
                           viewer: NamedDependency[Viewer], queries: NamedDependency[QueryService]) -> QueryResponse:
        changes = QueryChanges(
            name=patch_field(data.name), query=patch_field(data.query), description=patch_field(data.description),
            observer_can_run=patch_field(data.observer_can_run), interval=patch_field(data.interval),
            platform=patch_field(data.platform), min_osquery_version=patch_field(data.min_osquery_version),
            automations_enabled=patch_field(data.automations_enabled), logging=patch_field(data.logging),
        )
        return QueryResponse(query=to_query(await queries.modify(viewer, query_id, changes)))

    @post("/delete", status_code=200)
    async def delete_queries(self, data: JSONBody[DeleteQueriesRequest], viewer: NamedDependency[Viewer],
                             queries: NamedDependency[QueryService]) -> DeleteQueriesResponse:
        if data.ids is None:
            raise InvalidArgument(("ids", "is required"))
        return DeleteQueriesResponse(deleted=await queries.delete_many(viewer, data.ids))

    @delete("/id/{query_id:int}", status_code=200)
    async def delete_query_by_id(self, query_id: FromPath[int], viewer: NamedDependency[Viewer],
                                 queries: NamedDependency[QueryService]) -> EmptyResponse:
        await queries.delete(viewer, query_id)
        return EmptyResponse()

    @delete("/{name:str}", status_code=200)
    async def delete_query(self, name: FromPath[str], viewer: NamedDependency[Viewer],
                           queries: NamedDependency[QueryService],
                           team_id: FromQuery[int | None] = None) -> EmptyResponse:
        await queries.delete_by_name(viewer, name, team_id=team_id)
        return EmptyResponse()
