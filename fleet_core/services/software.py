"""The software inventory: which software is installed across the fleet, and on how many hosts.

Counts are computed when asked (see fleet_adapters/postgres/software.py), so they are current as
of the request; counts_updated_at is therefore the time of the request. There is no
vulnerability feed: every title has no vulnerabilities, and the vulnerable filter finds nothing.
"""

from __future__ import annotations

import builtins
import datetime as dt

import attrs

from fleet_core.authz import Action, Viewer, authorize, is_allowed
from fleet_core.errors import NotFound, PermissionDenied
from fleet_core.model.hosts import Software
from fleet_core.model.software import SoftwareFilter
from fleet_core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions


@attrs.frozen
class SoftwarePage:
    software: builtins.list[Software]
    counts_updated_at: dt.datetime


def _scoped(viewer: Viewer, filters: SoftwareFilter) -> SoftwareFilter:
    """Limit the filter to the hosts the viewer may see, as the hosts list does.

    team_id 0 means hosts in no team, which only global roles reach. A team user without a
    team_id sees the software on their teams' hosts.
    """
    if filters.team_id == 0:
        filters = attrs.evolve(filters, team_id=None, no_team=True)
    if viewer.user.global_role is not None:
        authorize(viewer, Action.READ_SOFTWARE)
        return filters
    if filters.no_team:
        authorize(viewer, Action.READ_SOFTWARE, team_ids=[])
    if filters.team_id is not None:
        authorize(viewer, Action.READ_SOFTWARE, team_ids=[filters.team_id])
    allowed = frozenset(m.team_id for m in viewer.user.teams
                        if is_allowed(viewer.user, Action.READ_SOFTWARE, team_ids=[m.team_id]))
    if not allowed:
        raise PermissionDenied("forbidden")
    return attrs.evolve(filters, visible_team_ids=allowed)


async def _require_team(uow: UnitOfWork, team_id: int | None) -> None:
    if team_id is not None and await uow.teams.get(team_id) is None:
        raise NotFound(f"Team with id={team_id} was not found in the datastore")


@attrs.frozen
class SoftwareService:
    uow: UnitOfWorkFactory
    clock: Clock

    async def list(self, viewer: Viewer, filters: SoftwareFilter, options: ListOptions) -> SoftwarePage:
        """Software installed on the hosts the filter and the viewer's teams keep, each with its
        host count, ordered and paged by ``options``.

        Raises:
            PermissionDenied: a team user asks for another team or for hosts in no team.
            NotFound: no such team.
        """
        scoped = _scoped(viewer, filters)
        async with self.uow() as uow:
            await _require_team(uow, scoped.team_id)
            software = await uow.software.list(scoped, options)
        return SoftwarePage(software=software, counts_updated_at=self.clock.now())

    async def count(self, viewer: Viewer, filters: SoftwareFilter) -> int:
        """How many titles list() would return without paging (same errors)."""
        scoped = _scoped(viewer, filters)
        async with self.uow() as uow:
            await _require_team(uow, scoped.team_id)
            return await uow.software.count(scoped)
