"""Team roles held by users and by invites, with the team names read at write time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from fleet_core.errors import NotFound
from fleet_core.model.users import TeamRole

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import _State


def with_team_names(state: _State, teams: Sequence[TeamRole]) -> tuple[TeamRole, ...]:
    """The memberships with their teams' names, ordered by team; NotFound for an unknown team,
    as the foreign key on ``user_teams`` / ``invite_teams`` does in Postgres."""
    named = []
    for membership in teams:
        team = state.teams.get(membership.team_id)
        if team is None:
            raise NotFound(f"Team with id={membership.team_id} was not found in the datastore")
        named.append(attrs.evolve(membership, team_name=team.name))
    return tuple(sorted(named, key=lambda m: m.team_id))
