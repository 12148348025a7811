"""Request and response bodies of the saved-queries API (Fleet's getQueryResponse, ...)."""

from __future__ import annotations

import msgspec

from fleet_core.model.queries import SavedQuery
from fleet_http.schemas.common import UNSET, UnsetType, ts


class QueryPackBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    id: int
    name: str
    description: str
    platform: str
    disabled: bool


class QueryBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    id: int
    team_id: int | None
    name: str
    description: str
    query: str
    interval: int
    platform: str
    min_osquery_version: str
    automations_enabled: bool
    logging: str
    saved: bool
    observer_can_run: bool
    author_id: int | None
    author_name: str
    author_email: str
    # The user packs that schedule the query.
    packs: list[QueryPackBody]


class QueryResponse(msgspec.Struct, kw_only=True):
    query: QueryBody


class ListQueriesResponse(msgspec.Struct, kw_only=True):
    queries: list[QueryBody]


class DeleteQueriesResponse(msgspec.Struct, kw_only=True):
    deleted: int


class CreateQueryRequest(msgspec.Struct, kw_only=True):
    name: str | None = None
    query: str | None = None
    description: str = ""
    team_id: int | None = None
    observer_can_run: bool = False
    interval: int = 0
    platform: str = ""
    min_osquery_version: str = ""
    automations_enabled: bool = False
    logging: str = "snapshot"


class ModifyQueryRequest(msgspec.Struct, kw_only=True):
    name: str | UnsetType = UNSET
    query: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    observer_can_run: bool | UnsetType = UNSET
    interval: int | UnsetType = UNSET
    platform: str | UnsetType = UNSET
    min_osquery_version: str | UnsetType = UNSET
    automations_enabled: bool | UnsetType = UNSET
    logging: str | UnsetType = UNSET


class DeleteQueriesRequest(msgspec.Struct, kw_only=True):
    ids: list[int] | None = None


def to_query(saved: SavedQuery) -> QueryBody:
    return QueryBody(
        created_at=ts(saved.created_at),
        updated_at=ts(saved.updated_at),
        id=saved.id,
        team_id=saved.team_id,
        name=saved.name,
        description=saved.description,
        query=saved.query,
        interval=saved.interval,
        platform=saved.platform,
        min_osquery_version=saved.min_osquery_version,
        automations_enabled=saved.automations_enabled,
        logging=saved.logging,
        saved=True,
        observer_can_run=saved.observer_can_run,
        author_id=saved.author_id,
        author_name=saved.author_name,
        author_email=saved.author_email,
        packs=[QueryPackBody(created_at=ts(p.created_at), updated_at=ts(p.updated_at), id=p.id, name=p.name,
                             description=p.description, platform="", disabled=p.disabled) for p in saved.packs],
    )
