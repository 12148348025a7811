"""Request and response bodies of the packs and schedule APIs (Fleet's getPackResponse, ...)."""

from __future__ import annotations

import msgspec

from fleet_core.model.packs import Pack, ScheduledQuery
from fleet_http.schemas.common import UNSET, UnsetType, ts


class PackBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    id: int
    name: str
    description: str
    disabled: bool
    type: str | None
    query_count: int
    total_hosts_count: int
    host_ids: list[int]
    label_ids: list[int]
    team_ids: list[int]


class PackResponse(msgspec.Struct, kw_only=True):
    pack: PackBody


class ListPacksResponse(msgspec.Struct, kw_only=True):
    packs: list[PackBody]


class ScheduledBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    id: int
    pack_id: int
    name: str
    query_id: int
    query_name: str
    query: str
    interval: int
    snapshot: bool | None
    removed: bool | None
    platform: str | None
    version: str | None
    shard: int | None
    denylist: bool | None


class ScheduledResponse(msgspec.Struct, kw_only=True):
    scheduled: ScheduledBody


class ScheduledListResponse(msgspec.Struct, kw_only=True):
    scheduled: list[ScheduledBody]


class GlobalScheduleResponse(msgspec.Struct, kw_only=True):
    global_schedule: list[ScheduledBody]


class CreatePackRequest(msgspec.Struct, kw_only=True):
    name: str | None = None
    description: str = ""
    disabled: bool = False
    host_ids: list[int] | None = None
    label_ids: list[int] | None = None
    team_ids: list[int] | None = None


class ModifyPackRequest(msgspec.Struct, kw_only=True):
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET
    host_ids: list[int] | UnsetType | None = UNSET
    label_ids: list[int] | UnsetType | None = UNSET
    team_ids: list[int] | UnsetType | None = UNSET


class ScheduleQueryRequest(msgspec.Struct, kw_only=True):
    """POST /schedule (with pack_id), /global/schedule and /teams/{id}/schedule (without)."""

    pack_id: int | None = None
    query_id: int | None = None
    interval: int | None = None
    snapshot: bool | None = None
    removed: bool | None = None
    platform: str | None = None
    version: str | None = None
    shard: int | None = None
    denylist: bool | None = None


class ModifyScheduledRequest(msgspec.Struct, kw_only=True):
    # null is a value here (back to osquery's default), so "absent" is UNSET.
    interval: int | UnsetType = UNSET
    snapshot: bool | UnsetType | None = UNSET
    removed: bool | UnsetType | None = UNSET
    platform: str | UnsetType | None = UNSET
    version: str | UnsetType | None = UNSET
    shard: int | UnsetType | None = UNSET
    denylist: bool | UnsetType | None = UNSET


def to_pack(pack: Pack) -> PackBody:
    return PackBody(
        created_at=ts(pack.created_at), updated_at=ts(pack.updated_at), id=pack.id, name=pack.name,
        description=pack.description, disabled=pack.disabled, type=pack.type, query_count=pack.query_count,
        total_hosts_count=pack.total_hosts_count, host_ids=list(pack.targets.host_ids),
        label_ids=list(pack.targets.label_ids), team_ids=list(pack.targets.team_ids),
    )


def to_scheduled(entry: ScheduledQuery) -> ScheduledBody:
    return ScheduledBody(
        created_at=ts(entry.created_at), updated_at=ts(entry.updated_at), id=entry.id, pack_id=entry.pack_id,
        name=entry.name, query_id=entry.query_id, query_name=entry.query_name, query=entry.query,
        interval=entry.interval, snapshot=entry.snapshot, removed=entry.removed, platform=entry.platform,
        version=entry.version, shard=entry.shard, denylist=entry.denylist,
    )
