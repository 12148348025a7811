"""Packs: named sets of scheduled queries, delivered to the hosts they target as osquery packs.

A user pack (type None) targets hosts by id, by label and by team. The global schedule is the
pack of type "global" (named "Global"), which every host runs; a team's schedule is the pack of
type "team-<id>" (named likewise), which the team's hosts run. Those two kinds are created on
first use and are managed through the schedule endpoints, never through /packs.
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

from fleet_core.model.queries import SavedQuery

GLOBAL_PACK_NAME = "Global"
GLOBAL_PACK_TYPE = "global"
TEAM_PACK_NAME = re.compile(r"team-\d+")


def schedule_pack_name(team_id: int | None) -> str:
    """The name (and type) of the global schedule's pack, or of a team schedule's pack."""
    return GLOBAL_PACK_NAME if team_id is None else f"team-{team_id}"


def schedule_pack_type(team_id: int | None) -> str:
    return GLOBAL_PACK_TYPE if team_id is None else f"team-{team_id}"


@attrs.frozen
class PackTargets:
    """Who a user pack goes to: these hosts, the members of these labels, the hosts of these teams."""

    host_ids: tuple[int, ...] = ()
    label_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.host_ids or self.label_ids or self.team_ids)


@attrs.frozen
class PackFields:
    """What a writer sets on a user pack."""

    name: str
    description: str = ""
    disabled: bool = False
    targets: PackTargets = PackTargets()


@attrs.frozen
class Pack:
    id: int
    name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    description: str = ""
    disabled: bool = False
    # None for a user pack, "global" for the global schedule, "team-<id>" for a team schedule.
    type: str | None = None
    # The team whose schedule this is (type "team-<id>"); None otherwise.
    team_id: int | None = None
    targets: PackTargets = PackTargets()
    # Counted at read time.
    query_count: int = 0
    total_hosts_count: int = 0

    @property
    def fields(self) -> PackFields:
        return PackFields(name=self.name, description=self.description, disabled=self.disabled,
                          targets=self.targets)


@attrs.frozen
class ScheduleFields:
    """How a scheduled query runs; None leaves the choice to osquery (or, for platform and
    version, means any)."""

    interval: int
    snapshot: bool | None = None
    removed: bool | None = None
    platform: str | None = None
    version: str | None = None
    shard: int | None = None
    denylist: bool | None = None


@attrs.frozen
class ScheduledQuery:
    id: int
    pack_id: int
    name: str
    query_id: int
    # The saved query's current name, SQL and team, read at read time.
    query_name: str
    query: str
    interval: int
    created_at: dt.datetime
    updated_at: dt.datetime
    snapshot: bool | None = None
    removed: bool | None = None
    platform: str | None = None
    version: str | None = None
    shard: int | None = None
    denylist: bool | None = None
    query_team_id: int | None = None

    @property
    def fields(self) -> ScheduleFields:
        return ScheduleFields(interval=self.interval, snapshot=self.snapshot, removed=self.removed,
                              platform=self.platform, version=self.version, shard=self.shard, denylist=self.denylist)


@attrs.frozen
class PackCatalogue:
    """Everything agents' packs are built from: every pack (user and schedule, enabled or not),
    every scheduled query, and the saved queries that run on their own interval (> 0)."""

    packs: tuple[Pack, ...] = ()
    scheduled: tuple[ScheduledQuery, ...] = ()
    saved: tuple[SavedQuery, ...] = ()
