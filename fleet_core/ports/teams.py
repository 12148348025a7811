"""Teams."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from fleet_core.model.teams import Team, TeamAutomations, TeamCounts, TeamMembers
from fleet_core.rules.paging import ListOptions


class TeamRepository(Protocol):
    async def add(self, *, name: str, description: str, at: dt.datetime) -> Team:
        """Insert a team; AlreadyExists if the name is taken (names compare case-insensitively)."""
        ...

    async def get(self, team_id: int) -> Team | None:
        """The team with this id, or None."""
        ...

    async def get_many(self, team_ids: Sequence[int]) -> list[Team]:
        """The teams that exist among ``team_ids``, in id order."""
        ...

    async def get_by_name(self, name: str) -> Team | None:
        """The team with this name (compared case-insensitively, as uniqueness is), or None."""
        ...

    async def set_agent_options(self, team_id: int, agent_options: Mapping[str, Any] | None) -> None:
        """Replace the team's agent options (None: use the global ones); NotFound if no such team."""
        ...

    async def list(self, options: ListOptions, *, team_ids: frozenset[int] | None = None) -> builtins.list[Team]:
        """Teams whose name contains ``options.query`` (case-insensitive), ordered by
        ``options.order_key`` (id, name, description, created_at; names compare
        case-insensitively) then id, paged; ``team_ids`` keeps only those teams."""
        ...

    async def update(self, team_id: int, *, name: str, description: str) -> Team:
        """Rename and redescribe a team; NotFound if it is gone, AlreadyExists if another team
        has the name (case-insensitively)."""
        ...

    async def delete(self, team_id: int) -> builtins.list[int] | None:
        """Delete the team with its enroll secrets and every user's and invite's role on it; its
        hosts move to no team. Returns the ids of those hosts (ascending), or None if there was
        no such team."""
        ...

    async def counts(self, team_ids: Sequence[int]) -> dict[int, TeamCounts]:
        """The user and host counts of each of ``team_ids`` that exists."""
        ...

    async def members(self, team_id: int) -> TeamMembers:
        """The ids of the team's users and hosts, each ascending; both empty for an unknown team."""
        ...

    async def automations(self, team_id: int) -> TeamAutomations:
        """The team's failing-policy automations; the defaults (nothing enabled) for a team that
        has none stored or does not exist."""
        ...

    async def all_automations(self) -> dict[int, TeamAutomations]:
        """The automations of every team that has some stored, by team id."""
        ...

    async def set_automations(self, team_id: int, automations: TeamAutomations) -> None:
        """Replace the team's failing-policy automations; NotFound if no such team."""
        ...
