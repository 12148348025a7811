"""The software inventory: which software is installed across the fleet, and on how many hosts.

Host counts are kept by a periodic job (refresh_counts, on the cleanups_then_aggregation
schedule), as Fleet's software_host_counts are: listing reads them and never counts the hosts'
software at request time. counts_updated_at says when they were counted; a title first reported
since then is listed from the next refresh on (Fleet shows only counted titles too). The
vulnerabilities come from the vulnerability job (fleet_core/services/vulnerabilities.py).
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
    # When the host counts were last refreshed; None before the first refresh.
    counts_updated_at: dt.datetime | None


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
            counts_updated_at = await uow.software.counts_updated_at()
        return SoftwarePage(software=software, counts_updated_at=counts_updated_at)

    async def count(self, viewer: Viewer, filters: SoftwareFilter) -> int:
        """How many titles list() would return without paging (same errors)."""
        scoped = _scoped(viewer, filters)
        async with self.uow() as uow:
            await _require_team(uow, scoped.team_id)
            return await uow.software.count(scoped)

    async def refresh_counts(self) -> None:
        """The periodic job: recount the hosts of every software (fleet-wide, per team, no team)."""
        async with self.uow() as uow:
            await uow.software.refresh_host_counts(self.clock.now())
            await uow.commit()
