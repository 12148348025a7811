"""Saved queries: named osquery SQL, global or owned by a team."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from fleet_core.model.packs import Pack

LOGGING_TYPES = ("snapshot", "differential", "differential_ignore_removals")


@attrs.frozen
class QueryFields:
    """What a writer sets on a saved query (everything but its team, author and timestamps)."""

    name: str
    query: str
    description: str = ""
    observer_can_run: bool = False
    interval: int = 0
    platform: str = ""
    min_osquery_version: str = ""
    automations_enabled: bool = False
    logging: str = "snapshot"


@attrs.frozen
class SavedQuery:
    id: int
    name: str
    query: str
    created_at: dt.datetime
    updated_at: dt.datetime
    description: str = ""
    team_id: int | None = None
    observer_can_run: bool = False
    interval: int = 0
    platform: str = ""
    min_osquery_version: str = ""
    automations_enabled: bool = False
    logging: str = "snapshot"
    author_id: int | None = None
    # Read from the author's user record; empty once the author is deleted.
    author_name: str = ""
    author_email: str = ""
    # The user packs that schedule this query; filled by the service on reads, not stored.
    packs: tuple[Pack, ...] = ()

    @property
    def fields(self) -> QueryFields:
        return QueryFields(
            name=self.name, query=self.query, description=self.description, observer_can_run=self.observer_can_run,
            interval=self.interval, platform=self.platform, min_osquery_version=self.min_osquery_version,
            automations_enabled=self.automations_enabled, logging=self.logging,
        )
