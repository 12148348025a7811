"""Saved queries: list, read, create, modify and delete (running them is the live-query capability).

A query is global (team_id None) or belongs to one team. Team users read the global queries
and their teams' queries, and write only their teams' queries as team admins or maintainers.
Queries with an interval run on agents (in the Global or team-<id> pack), and packs schedule
queries, so every write announces a configuration change after its commit. Deleting a query
unschedules it from every pack.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize, is_allowed
from fleet_core.errors import InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.queries import LOGGING_TYPES, QueryFields, SavedQuery
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.ports import Clock, InvalidationBus, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce_config_change

log = structlog.get_logger(__name__)

MAX_QUERY_NAME_LENGTH = 255
# Stored as a 32-bit integer.
MAX_INTERVAL = 2**31 - 1
# Fleet's platform targets; a query's platform is a comma-separated subset, "" meaning all.
QUERY_PLATFORMS = frozenset({"darwin", "windows", "linux", "chrome"})
PLATFORM_REASON = f"must be a comma-separated list of {', '.join(sorted(QUERY_PLATFORMS))}"


@attrs.frozen
class QueryChanges:
    """A PATCH: every field left as UNSET_FIELD stays as it is."""

    name: Any = UNSET_FIELD
    query: Any = UNSET_FIELD
    description: Any = UNSET_FIELD
    observer_can_run: Any = UNSET_FIELD
    interval: Any = UNSET_FIELD
    platform: Any = UNSET_FIELD
    min_osquery_version: Any = UNSET_FIELD
    automations_enabled: Any = UNSET_FIELD
    logging: Any = UNSET_FIELD

    def apply(self, fields: QueryFields) -> QueryFields:
        given = {f.name: getattr(self, f.name) for f in attrs.fields(QueryChanges)
                 if getattr(self, f.name) is not UNSET_FIELD}
        return attrs.evolve(fields, **given)


def checked_fields(fields: QueryFields) -> QueryFields:
    """The fields with the name trimmed.

    Raises:
        InvalidArgument: a blank or too long name, an empty query, an unknown logging type or
            platform, or a negative interval; every problem at once.
    """
    problems: list[tuple[str, str]] = []
    name = fields.name.strip()
    if not name:
        problems.append(("name", "may not be empty"))
    elif len(name) > MAX_QUERY_NAME_LENGTH:
        problems.append(("name", f"must be at most {MAX_QUERY_NAME_LENGTH} characters"))
    if not fields.query.strip():
        problems.append(("query", "may not be empty"))
    if fields.logging not in LOGGING_TYPES:
        problems.append(("logging", f"must be one of {', '.join(LOGGING_TYPES)}"))
    if not 0 <= fields.interval <= MAX_INTERVAL:
        problems.append(("interval", f"must be between 0 and {MAX_INTERVAL}"))
    platform = normalized_platform(fields.platform)
    if platform is None:
        problems.append(("platform", PLATFORM_REASON))
    if problems:
        raise InvalidArgument(*problems)
    return attrs.evolve(fields, name=name, platform=platform or "")


def normalized_platform(platform: str) -> str | None:
    """The comma-separated platforms without blanks ("" for all), or None if one is unknown."""
    platforms = [p.strip() for p in platform.split(",")] if platform.strip() else []
    if any(p not in QUERY_PLATFORMS for p in platforms):
        return None
    return ",".join(platforms)


def _scope(saved: SavedQuery) -> list[int] | None:
    return None if saved.team_id is None else [saved.team_id]


@attrs.frozen
class QueryService:
    uow: UnitOfWorkFactory
    clock: Clock
    bus: InvalidationBus

    async def list(self, viewer: Viewer, options: ListOptions, *,
                   team_id: int | None = None) -> builtins.list[SavedQuery]:
        """The team's queries, or the global ones when team_id is None.

        Raises:
            NotFound: no such team.
            PermissionDenied: a team user asks for a team they are not on.
        """
        authorize(viewer, Action.READ_QUERIES, team_ids=None if team_id is None else [team_id])
        async with self.uow() as uow:
            if team_id is not None:
                await _require_team(uow, team_id)
            return await _with_packs(uow, await uow.queries.list(options, team_id=team_id))

    async def get(self, viewer: Viewer, query_id: int) -> SavedQuery:
        """One query.

        Raises:
            NotFound: no such query.
            PermissionDenied: the query belongs to a team the viewer is not on.
        """
        async with self.uow() as uow:
            saved = await _require(uow, query_id)
            authorize(viewer, Action.READ_QUERIES, team_ids=_scope(saved))
            [saved] = await _with_packs(uow, [saved])
        return saved

    async def create(self, viewer: Viewer, fields: QueryFields, *, team_id: int | None = None) -> SavedQuery:
        """Save a query authored by the viewer and record ``created_saved_query``.

        Raises:
            InvalidArgument: see checked_fields.
            PermissionDenied: the viewer may not write queries of that scope.
            NotFound: no such team.
            AlreadyExists: the name is taken in that scope.
        """
        authorize(viewer, Action.WRITE_QUERIES, team_ids=None if team_id is None else [team_id])
        fields = checked_fields(fields)
        async with self.uow() as uow:
            now = self.clock.now()
            saved = await uow.queries.add(fields, team_id=team_id, author_id=viewer.user.id, at=now)
            await record_activity(uow, viewer.user, "created_saved_query",
                                  {"query_id": saved.id, "query_name": saved.name}, now)
            await uow.commit()
        await announce_config_change(self.bus)
        log.info("query_created", query_id=saved.id)
        return saved

    async def modify(self, viewer: Viewer, query_id: int, changes: QueryChanges) -> SavedQuery:
        """Apply a PATCH and record ``edited_saved_query``.

        Raises:
            NotFound: no such query.
            PermissionDenied: the viewer may not write this query.
            InvalidArgument: see checked_fields.
            AlreadyExists: another query of the scope has the new name.
        """
        async with self.uow() as uow:
            saved = await _require(uow, query_id)
            authorize(viewer, Action.WRITE_QUERIES, team_ids=_scope(saved))
            fields = checked_fields(changes.apply(saved.fields))
            now = self.clock.now()
            saved = await uow.queries.update(query_id, fields, now)
            await record_activity(uow, viewer.user, "edited_saved_query",
                                  {"query_id": saved.id, "query_name": saved.name}, now)
            [saved] = await _with_packs(uow, [saved])
            await uow.commit()
        await announce_config_change(self.bus)
        log.info("query_modified", query_id=query_id)
        return saved

    async def delete(self, viewer: Viewer, query_id: int) -> None:
        """Delete a query by id and record ``deleted_saved_query``.

        Raises:
            NotFound: no such query.
            PermissionDenied: the viewer may not write this query.
        """
        async with self.uow() as uow:
            await self._delete(uow, viewer, await _require(uow, query_id))
        await announce_config_change(self.bus)

    async def delete_by_name(self, viewer: Viewer, name: str, *, team_id: int | None = None) -> None:
        """Delete the query with exactly this name in the scope (global when team_id is None).

        Raises:
            NotFound: no such query.
            PermissionDenied: the viewer may not write this query.
        """
        async with self.uow() as uow:
            saved = await uow.queries.get_by_name(name, team_id=team_id)
            if saved is None:
                raise NotFound(f"Query {name!r} was not found in the datastore")
            await self._delete(uow, viewer, saved)
        await announce_config_change(self.bus)

    async def delete_many(self, viewer: Viewer, query_ids: Sequence[int]) -> int:
        """Delete these queries, all or none, and record ``deleted_multiple_saved_query``.

        Returns how many existed and were deleted; unknown ids are skipped.

        Raises:
            InvalidArgument: no ids.
            PermissionDenied: the viewer may not write one of the queries (nothing is deleted).
        """
        if not query_ids:
            raise InvalidArgument(("ids", "may not be empty"))
        # Checked before looking anything up, so a reader learns nothing about which ids exist.
        scopes: builtins.list[builtins.list[int] | None] = [None, *([m.team_id] for m in viewer.user.teams)]
        if not any(is_allowed(viewer.user, Action.WRITE_QUERIES, team_ids=scope) for scope in scopes):
            raise PermissionDenied("forbidden")
        async with self.uow() as uow:
            for query_id in sorted(set(query_ids)):
                saved = await uow.queries.get(query_id)
                if saved is not None:
                    authorize(viewer, Action.WRITE_QUERIES, team_ids=_scope(saved))
            deleted = await uow.queries.delete_many(query_ids)
            if deleted:
                await record_activity(uow, viewer.user, "deleted_multiple_saved_query", {"query_ids": deleted},
                                      self.clock.now())
            await uow.commit()
        if deleted:
            await announce_config_change(self.bus)
        log.info("queries_deleted", count=len(deleted))
        return len(deleted)

    async def _delete(self, uow: UnitOfWork, viewer: Viewer, saved: SavedQuery) -> None:
        authorize(viewer, Action.WRITE_QUERIES, team_ids=_scope(saved))
        await uow.queries.delete(saved.id)
        await record_activity(uow, viewer.user, "deleted_saved_query", {"query_name": saved.name},
                              self.clock.now())
        await uow.commit()
        log.info("query_deleted", query_id=saved.id)


async def _with_packs(uow: UnitOfWork, queries: builtins.list[SavedQuery]) -> builtins.list[SavedQuery]:
    """The queries with the user packs that schedule them."""
    packs = await uow.packs.user_packs_of([q.id for q in queries]) if queries else {}
    return [attrs.evolve(q, packs=tuple(packs.get(q.id, ()))) for q in queries]


async def _require(uow: UnitOfWork, query_id: int) -> SavedQuery:
    saved = await uow.queries.get(query_id)
    if saved is None:
        raise NotFound(f"Query with id={query_id} was not found in the datastore")
    return saved


async def _require_team(uow: UnitOfWork, team_id: int) -> None:
    if await uow.teams.get(team_id) is None:
        raise NotFound(f"Team with id={team_id} was not found in the datastore")

