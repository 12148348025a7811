"""Packs (/packs), scheduled queries of any pack (/schedule), the global schedule (/global/schedule)
and team schedules (/teams/{id}/schedule)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.packs import PackFields, PackTargets, ScheduleFields
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.rules.ordering import PACK_ORDER_KEYS
from fleet_core.services.packs import SCHEDULE_ORDER_KEYS, PackChanges, PackService, ScheduleChanges
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import UNSET, EmptyResponse, patch_field
from fleet_http.schemas.packs import (
    CreatePackRequest,
    GlobalScheduleResponse,
    ListPacksResponse,
    ModifyPackRequest,
    ModifyScheduledRequest,
    PackResponse,
    ScheduledListResponse,
    ScheduledResponse,
    ScheduleQueryRequest,
    to_pack,
    to_scheduled,
)


def _ids(value: object) -> object:
    """A target list: absent stays unset, null means none."""
    if value is UNSET:
        return UNSET_FIELD
    return tuple(value) if isinstance(value, list) else ()


def _schedule_fields(data: ScheduleQueryRequest, *required: str) -> tuple[int, ScheduleFields]:
    """(query_id, fields) of a request to schedule a query.

    Raises:
        InvalidArgument: a required field is missing or null, every one at once.
    """
    missing = [(name, "is required") for name in ("query_id", *required, "interval", "snapshot")
               if getattr(data, name) is None]
    if missing:
        raise InvalidArgument(*missing)
    assert data.query_id is not None and data.interval is not None
    return data.query_id, ScheduleFields(
        interval=data.interval, snapshot=data.snapshot, removed=data.removed, platform=data.platform,
        version=data.version, shard=data.shard, denylist=data.denylist)


def _schedule_changes(data: ModifyScheduledRequest) -> ScheduleChanges:
    return ScheduleChanges(
        interval=patch_field(data.interval), snapshot=patch_field(data.snapshot), removed=patch_field(data.removed),
        platform=patch_field(data.platform), version=patch_field(data.version), shard=patch_field(data.shard),
        denylist=patch_field(data.denylist))


class PackController(Controller):
    path = "/packs"
    tags = ["Packs"]
    guards = [strict_json_body]

    @get("/")
    async def list_packs(
        self, viewer: NamedDependency[Viewer], packs: NamedDependency[PackService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        search: Annotated[str | None, QueryParameter(name="query")] = None,
    ) -> ListPacksResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=search, allowed_keys=PACK_ORDER_KEYS)
        return ListPacksResponse(packs=[to_pack(p) for p in await packs.list(viewer, options)])

    @get("/{pack_id:int}")
    async def get_pack(self, pack_id: FromPath[int], viewer: NamedDependency[Viewer],
                       packs: NamedDependency[PackService]) -> PackResponse:
        return PackResponse(pack=to_pack(await packs.get(viewer, pack_id)))

    @get("/{pack_id:int}/scheduled")
    async def get_pack_scheduled(self, pack_id: FromPath[int], viewer: NamedDependency[Viewer],
                                 packs: NamedDependency[PackService]) -> ScheduledListResponse:
        entries = await packs.scheduled(viewer, pack_id)
        return ScheduledListResponse(scheduled=[to_scheduled(e) for e in entries])

    @post("/", status_code=200)
    async def create_pack(self, data: JSONBody[CreatePackRequest], viewer: NamedDependency[Viewer],
                          packs: NamedDependency[PackService]) -> PackResponse:
        if data.name is None:
            raise InvalidArgument(("name", "is required"))
        fields = PackFields(name=data.name, description=data.description, disabled=data.disabled, targets=PackTargets(
            host_ids=tuple(data.host_ids or ()), label_ids=tuple(data.label_ids or ()),
            team_ids=tuple(data.team_ids or ())))
        return PackResponse(pack=to_pack(await packs.create(viewer, fields)))

    @patch("/{pack_id:int}")
    async def modify_pack(self, pack_id: FromPath[int], data: JSONBody[ModifyPackRequest],
                          viewer: NamedDependency[Viewer], packs: NamedDependency[PackService]) -> PackResponse:
        changes = PackChanges(
            name=patch_field(data.name), description=patch_field(data.description), disabled=patch_field(data.disabled),
            host_ids=_ids(data.host_ids), label_ids=_ids(data.label_ids), team_ids=_ids(data.team_ids))
        return PackResponse(pack=to_pack(await packs.modify(viewer, pack_id, changes)))

    @delete("/id/{pack_id:int}", status_code=200)
    async def delete_pack_by_id(self, pack_id: FromPath[int], viewer: NamedDependency[Viewer],
                                packs: NamedDependency[PackService]) -> EmptyResponse:
        await packs.delete(viewer, pack_id)
        return EmptyResponse()

    @delete("/{name:str}", status_code=200)
    async def delete_pack(self, name: FromPath[str], viewer: NamedDependency[Viewer],
                          packs: NamedDependency[PackService]) -> EmptyResponse:
        await packs.delete_by_name(viewer, name)
        return EmptyResponse()


class ScheduledQueryController(Controller):
    """A pack's scheduled query by id: `GET /schedule/{id}` means this on every API version."""

    path = "/schedule"
    tags = ["Packs"]
    guards = [strict_json_body]

    @get("/{scheduled_id:int}")
    async def get_scheduled(self, scheduled_id: FromPath[int], viewer: NamedDependency[Viewer],
                            packs: NamedDependency[PackService]) -> ScheduledResponse:
        return ScheduledResponse(scheduled=to_scheduled(await packs.get_scheduled(viewer, scheduled_id)))


class ScheduleController(Controller):
    """Add, edit and remove a pack's scheduled query: `/schedule` on /api/v1 only; /api/latest serves
    the same handlers on `/packs/schedule` (PackScheduleController) because there `/schedule` is the
    global schedule (docs/api-versions.md)."""

    path = "/schedule"
    tags = ["Packs"]
    guards = [strict_json_body]

    @post("/", status_code=200)
    async def schedule_query(self, data: JSONBody[ScheduleQueryRequest], viewer: NamedDependency[Viewer],
                             packs: NamedDependency[PackService]) -> ScheduledResponse:
        query_id, fields = _schedule_fields(data, "pack_id")
        assert data.pack_id is not None
        return ScheduledResponse(scheduled=to_scheduled(
            await packs.schedule(viewer, data.pack_id, query_id, fields)))

    @patch("/{scheduled_id:int}")
    async def modify_scheduled(self, scheduled_id: FromPath[int], data: JSONBody[ModifyScheduledRequest],
                               viewer: NamedDependency[Viewer],
                               packs: NamedDependency[PackService]) -> ScheduledResponse:
        entry = await packs.modify_scheduled(viewer, scheduled_id, _schedule_changes(data))
        return ScheduledResponse(scheduled=to_scheduled(entry))

    @delete("/{scheduled_id:int}", status_code=200)
    async def delete_scheduled(self, scheduled_id: FromPath[int], viewer: NamedDependency[Viewer],
                               packs: NamedDependency[PackService]) -> EmptyResponse:
        await packs.delete_scheduled(viewer, scheduled_id)
        return EmptyResponse()


class PackScheduleController(ScheduleController):
    """/api/latest's path for ScheduleController's handlers."""

    path = "/packs/schedule"


class GlobalScheduleController(Controller):
    path = "/global/schedule"
    tags = ["Schedule"]
    guards = [strict_json_body]

    @get("/")
    async def get_global_schedule(
        self, viewer: NamedDependency[Viewer], packs: NamedDependency[PackService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
    ) -> GlobalScheduleResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=None, allowed_keys=SCHEDULE_ORDER_KEYS)
        entries = await packs.schedule_of(viewer, None, options)
        return GlobalScheduleResponse(global_schedule=[to_scheduled(e) for e in entries])

    @post("/", status_code=200)
    async def add_to_global_schedule(self, data: JSONBody[ScheduleQueryRequest], viewer: NamedDependency[Viewer],
                                     packs: NamedDependency[PackService]) -> ScheduledResponse:
        query_id, fields = _schedule_fields(data)
        return ScheduledResponse(scheduled=to_scheduled(
            await packs.add_to_schedule(viewer, None, query_id, fields)))

    @patch("/{scheduled_id:int}")
    async def modify_global_schedule(self, scheduled_id: FromPath[int], data: JSONBody[ModifyScheduledRequest],
                                     viewer: NamedDependency[Viewer],
                                     packs: NamedDependency[PackService]) -> ScheduledResponse:
        entry = await packs.modify_in_schedule(viewer, None, scheduled_id, _schedule_changes(data))
        return ScheduledResponse(scheduled=to_scheduled(entry))

    @delete("/{scheduled_id:int}", status_code=200)
    async def delete_from_global_schedule(self, scheduled_id: FromPath[int], viewer: NamedDependency[Viewer],
                                          packs: NamedDependency[PackService]) -> EmptyResponse:
        await packs.remove_from_schedule(viewer, None, scheduled_id)
        return EmptyResponse()


class TeamScheduleController(Controller):
    path = "/teams"
    tags = ["Schedule"]
    guards = [strict_json_body]

    @get("/{team_id:int}/schedule")
    async def get_team_schedule(
        self, team_id: FromPath[int], viewer: NamedDependency[Viewer], packs: NamedDependency[PackService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
    ) -> ScheduledListResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=None, allowed_keys=SCHEDULE_ORDER_KEYS)
        entries = await packs.schedule_of(viewer, team_id, options)
        return ScheduledListResponse(scheduled=[to_scheduled(e) for e in entries])

    @post("/{team_id:int}/schedule", status_code=200)
    async def add_to_team_schedule(self, team_id: FromPath[int], data: JSONBody[ScheduleQueryRequest],
                                   viewer: NamedDependency[Viewer],
                                   packs: NamedDependency[PackService]) -> ScheduledResponse:
        query_id, fields = _schedule_fields(data)
        return ScheduledResponse(scheduled=to_scheduled(
            await packs.add_to_schedule(viewer, team_id, query_id, fields)))

    @patch("/{team_id:int}/schedule/{scheduled_id:int}")
    async def modify_team_schedule(self, team_id: FromPath[int], scheduled_id: FromPath[int],
                                   data: JSONBody[ModifyScheduledRequest], viewer: NamedDependency[Viewer],
                                   packs: NamedDependency[PackService]) -> ScheduledResponse:
        entry = await packs.modify_in_schedule(viewer, team_id, scheduled_id, _schedule_changes(data))
        return ScheduledResponse(scheduled=to_scheduled(entry))

    @delete("/{team_id:int}/schedule/{scheduled_id:int}", status_code=200)
    async def delete_from_team_schedule(self, team_id: FromPath[int], scheduled_id: FromPath[int],
                                        viewer: NamedDependency[Viewer],
                                        packs: NamedDependency[PackService]) -> EmptyResponse:
        await packs.remove_from_schedule(viewer, team_id, scheduled_id)
        return EmptyResponse()


class LatestGlobalScheduleController(GlobalScheduleController):
    """/api/latest's path for the global schedule (v1's `/global/schedule`)."""

    path = "/schedule"
