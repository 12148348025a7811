"""Packs and their scheduled queries."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from fleet_core.model.packs import Pack, PackCatalogue, PackFields, PackTargets, ScheduledQuery, ScheduleFields
from fleet_core.rules.paging import ListOptions


class PackRepository(Protocol):
    """User packs, the global and team schedule packs, and their scheduled queries.

    Pack names are unique. A pack's targets and scheduled queries go with it; a deleted host,
    label, team or saved query drops out of every pack (a team's schedule pack goes with its
    team). Packs are read with their targets (ids ascending), query_count and total_hosts_count
    (distinct hosts targeted by id, label membership or team; every host for the global pack,
    the team's hosts for a team pack).
    """

    async def get(self, pack_id: int) -> Pack | None:
        """The pack (of any type) with this id, or None."""
        ...

    async def get_by_name(self, name: str) -> Pack | None:
        """The user pack with exactly this name, or None."""
        ...

    async def list(self, options: ListOptions) -> builtins.list[Pack]:
        """User packs whose name contains ``options.query`` (case-insensitive), ordered by
        options.order_key (PACK_ORDER_KEYS) then id, paged."""
        ...

    async def add(self, fields: PackFields, at: dt.datetime) -> Pack:
        """Insert a user pack (created_at = updated_at = at). AlreadyExists if the name is taken,
        NotFound if a target does not exist."""
        ...

    async def update(self, pack_id: int, fields: PackFields, at: dt.datetime) -> Pack:
        """Replace a pack's name, description, disabled flag and targets (updated_at = at).
        NotFound if the pack or a target does not exist, AlreadyExists if the name is taken."""
        ...

    async def delete(self, pack_id: int) -> bool:
        """Delete the pack with its targets and scheduled queries; False if there was none."""
        ...

    async def schedule_pack(self, team_id: int | None) -> Pack | None:
        """The global schedule's pack (team_id None) or the team's schedule pack, or None if it
        was never created."""
        ...

    async def ensure_schedule_pack(self, team_id: int | None, at: dt.datetime) -> Pack:
        """schedule_pack(), created (named and typed "Global" or "team-<id>") when missing.
        NotFound if the team does not exist."""
        ...

    async def unknown_targets(self, targets: PackTargets) -> PackTargets:
        """The host, label and team ids among ``targets`` that do not exist, ascending."""
        ...

    async def scheduled(self, pack_id: int) -> builtins.list[ScheduledQuery]:
        """The pack's scheduled queries, by id (empty for an unknown pack)."""
        ...

    async def get_scheduled(self, scheduled_id: int) -> ScheduledQuery | None:
        """The scheduled query with this id, or None."""
        ...

    async def add_scheduled(self, pack_id: int, *, query_id: int, name: str, fields: ScheduleFields,
                            at: dt.datetime) -> ScheduledQuery:
        """Schedule a saved query in a pack under ``name`` (created_at = updated_at = at).
        NotFound if the pack or the query does not exist, AlreadyExists if the pack already has
        an entry of that name."""
        ...

    async def update_scheduled(self, scheduled_id: int, fields: ScheduleFields, at: dt.datetime) -> ScheduledQuery:
        """Replace how the entry runs (updated_at = at). NotFound if it does not exist."""
        ...

    async def delete_scheduled(self, scheduled_id: int) -> bool:
        """Delete one scheduled query; False if there was none."""
        ...

    async def user_packs_of(self, query_ids: Sequence[int]) -> dict[int, builtins.list[Pack]]:
        """For each of these saved queries that a user pack schedules, those packs by id (the
        counts are not filled)."""
        ...

    async def catalogue(self) -> PackCatalogue:
        """Every pack (counts not filled), every scheduled query, and every saved query with an
        interval above 0, each by id."""
        ...
