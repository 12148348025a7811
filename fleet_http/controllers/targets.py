"""Targets: search targets, count targets, search hosts, and the translator."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.services.targets import TargetService, TranslateItem
from fleet_http.deps import strict_json_body
from fleet_http.schemas.hosts import to_host
from fleet_http.schemas.targets import (
    CountTargetsRequest,
    CountTargetsResponse,
    HostTargetsBody,
    SearchHostsRequest,
    SearchHostsResponse,
    SearchTargetsRequest,
    SearchTargetsResponse,
    TranslatedItemBody,
    TranslatedPayloadBody,
    TranslateRequest,
    TranslateResponse,
    to_counts,
    to_search_targets,
    to_selection,
)


class TargetController(Controller):
    path = "/targets"
    tags = ["Targets"]
    guards = [strict_json_body]

    @post("/", status_code=200)
    async def search_targets(self, data: JSONBody[SearchTargetsRequest], viewer: NamedDependency[Viewer],
                             targets: NamedDependency[TargetService]) -> SearchTargetsResponse:
        found = await targets.search_targets(
            viewer, data.query or "", to_selection(data.selected), query_id=data.query_id,
            include_observer=data.include_observer)
        return to_search_targets(found)

    @post("/count", status_code=200)
    async def count_targets(self, data: JSONBody[CountTargetsRequest], viewer: NamedDependency[Viewer],
                            targets: NamedDependency[TargetService]) -> CountTargetsResponse:
        metrics = await targets.count_targets(viewer, to_selection(data.selected), query_id=data.query_id,
                                                       include_observer=data.include_observer)
        return to_counts(metrics)


class HostSearchController(Controller):
    path = "/hosts/search"
    tags = ["Targets"]
    guards = [strict_json_body]

    @post("/", status_code=200)
    async def search_hosts(self, data: JSONBody[SearchHostsRequest], viewer: NamedDependency[Viewer],
                           targets: NamedDependency[TargetService]) -> SearchHostsResponse:
        found = await targets.search_hosts(
            viewer, data.query or "", excluded_host_ids=data.excluded_host_ids or (), query_id=data.query_id,
            include_observer=data.include_observer)
        bodies = [to_host(h, found.as_of) for h in found.hosts]
        return SearchHostsResponse(hosts=bodies, targets=HostTargetsBody(hosts=bodies))


class TranslateController(Controller):
    path = "/translate"
    tags = ["Translator"]
    guards = [strict_json_body]

    @post("/", status_code=200)
    async def translate(self, data: JSONBody[TranslateRequest], viewer: NamedDependency[Viewer],
                        targets: NamedDependency[TargetService]) -> TranslateResponse:
        if data.items is None:
            raise InvalidArgument(("list", "is required"))
        problems = set()
        for item in data.items:
            if item.type is None:
                problems.add(("type", "is required"))
            if item.payload is None or item.payload.identifier is None:
                problems.add(("identifier", "is required"))
        if problems:
            raise InvalidArgument(*sorted(problems))
        items = [TranslateItem(type=item.type or "", identifier=item.payload.identifier or "")
                 for item in data.items if item.payload is not None]
        ids = await targets.translate(viewer, items)
        return TranslateResponse(items=[
            TranslatedItemBody(type=item.type, payload=TranslatedPayloadBody(identifier=item.identifier, id=id_))
            for item, id_ in zip(items, ids, strict=True)
        ])
