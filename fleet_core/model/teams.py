"""Teams: the unit that scopes hosts, secrets and team roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class Team:
    id: int
    name: str
    created_at: dt.datetime
    description: str = ""
    # The team's osquery agent options; None: the team's hosts get the global ones.
    agent_options: Mapping[str, Any] | None = None


@attrs.frozen
class TeamCounts:
    user_count: int = 0
    host_count: int = 0


@attrs.frozen
class TeamMembers:
    """The ids of a team's users and hosts, each ascending."""

    user_ids: tuple[int, ...] = ()
    host_ids: tuple[int, ...] = ()
