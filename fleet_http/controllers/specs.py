"""Configuration files (fleetctl get/apply): query, label, team and policy specs."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.queries import QueryFields
from fleet_core.services.pack_specs import PackSpecService
from fleet_core.services.specs import LabelSpec, QuerySpec, SpecService
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import EmptyResponse
from fleet_http.schemas.specs import (
    ApplyLabelSpecsRequest,
    ApplyPackSpecsRequest,
    ApplyPolicySpecsRequest,
    ApplyQuerySpecsRequest,
    ApplyTeamSpecsRequest,
    ApplyTeamSpecsResponse,
    LabelSpecResponse,
    LabelSpecsResponse,
    PackSpecResponse,
    PackSpecsResponse,
    QuerySpecResponse,
    QuerySpecsResponse,
    from_pack_spec,
    to_label_spec,
    to_pack_spec,
    to_query_spec,
    to_team_spec,
)


def _specs_required() -> InvalidArgument:
    return InvalidArgument(("specs", "is required"))


class SpecController(Controller):
    path = "/spec"
    tags = ["Specs"]
    guards = [strict_json_body]

    @get("/queries")
    async def get_query_specs(self, viewer: NamedDependency[Viewer],
                              specs: NamedDependency[SpecService]) -> QuerySpecsResponse:
        return QuerySpecsResponse(specs=[to_query_spec(q) for q in await specs.queries(viewer)])

    @get("/queries/{name:str}")
    async def get_query_spec(self, name: FromPath[str], viewer: NamedDependency[Viewer],
                             specs: NamedDependency[SpecService]) -> QuerySpecResponse:
        return QuerySpecResponse(specs=to_query_spec(await specs.query(viewer, name)))

    @post("/queries", status_code=200)
    async def apply_query_specs(self, data: JSONBody[ApplyQuerySpecsRequest], viewer: NamedDependency[Viewer],
                                specs: NamedDependency[SpecService]) -> EmptyResponse:
        if data.specs is None:
            raise _specs_required()
        parsed = [
            QuerySpec(team=s.team, fields=QueryFields(
                name=s.name, query=s.query, description=s.description, observer_can_run=s.observer_can_run,
                interval=s.interval, platform=s.platform, min_osquery_version=s.min_osquery_version,
                automations_enabled=s.automations_enabled, logging=s.logging))
            for s in data.specs
        ]
        await specs.apply_queries(viewer, parsed)
        return EmptyResponse()

    @get("/labels")
    async def get_label_specs(self, viewer: NamedDependency[Viewer],
                              specs: NamedDependency[SpecService]) -> LabelSpecsResponse:
        return LabelSpecsResponse(specs=[to_label_spec(v) for v in await specs.labels(viewer)])

    @get("/labels/{name:str}")
    async def get_label_spec(self, name: FromPath[str], viewer: NamedDependency[Viewer],
                             specs: NamedDependency[SpecService]) -> LabelSpecResponse:
        return LabelSpecResponse(specs=to_label_spec(await specs.label(viewer, name)))

    @post("/labels", status_code=200)
    async def apply_label_specs(self, data: JSONBody[ApplyLabelSpecsRequest], viewer: NamedDependency[Viewer],
                                specs: NamedDependency[SpecService]) -> EmptyResponse:
        if data.specs is None:
            raise _specs_required()
        parsed = [
            LabelSpec(name=s.name, description=s.description, query=s.query, platform=s.platform,
                      label_membership_type=s.label_membership_type,
                      hosts=None if s.hosts is None else tuple(s.hosts))
            for s in data.specs
        ]
        await specs.apply_labels(viewer, parsed)
        return EmptyResponse()

    @get("/packs")
    async def get_pack_specs(self, viewer: NamedDependency[Viewer],
                             pack_specs: NamedDependency[PackSpecService]) -> PackSpecsResponse:
        return PackSpecsResponse(specs=[to_pack_spec(p) for p in await pack_specs.packs(viewer)])

    @get("/packs/{name:str}")
    async def get_pack_spec(self, name: FromPath[str], viewer: NamedDependency[Viewer],
                            pack_specs: NamedDependency[PackSpecService]) -> PackSpecResponse:
        return PackSpecResponse(specs=to_pack_spec(await pack_specs.pack(viewer, name)))

    @post("/packs", status_code=200)
    async def apply_pack_specs(self, data: JSONBody[ApplyPackSpecsRequest], viewer: NamedDependency[Viewer],
                               pack_specs: NamedDependency[PackSpecService]) -> EmptyResponse:
        if data.specs is None:
            raise _specs_required()
        await pack_specs.apply(viewer, [from_pack_spec(s) for s in data.specs])
        return EmptyResponse()

    @post("/teams", status_code=200)
    async def apply_team_specs(self, data: JSONBody[ApplyTeamSpecsRequest], viewer: NamedDependency[Viewer],
                               specs: NamedDependency[SpecService], dry_run: FromQuery[bool] = False,
                               force: FromQuery[bool] = False) -> ApplyTeamSpecsResponse:
        if data.specs is None:
            raise _specs_required()
        parsed = [to_team_spec(index, raw, force=force) for index, raw in enumerate(data.specs)]
        ids = await specs.apply_teams(viewer, parsed, dry_run=dry_run, force=force)
        return ApplyTeamSpecsResponse(team_ids_by_name=ids)

    @post("/policies", status_code=200)
    async def apply_policy_specs(self, data: JSONBody[ApplyPolicySpecsRequest], viewer: NamedDependency[Viewer],
                                 specs: NamedDependency[SpecService]) -> EmptyResponse:
        if data.specs is None:
            raise _specs_required()
        await specs.apply_policies(viewer, [msgspec.structs.asdict(s) for s in data.specs])
        return EmptyResponse()
