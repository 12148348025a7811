"""Hosts as the management API sees them: listing, details, deletion, refetch, transfer, summary."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import AsyncIterator, Sequence

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize, is_allowed
from fleet_core.errors import InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.host_aggregates import MDMSolution, MunkiIssue, MunkiVersion
from fleet_core.model.hosts import (
    Battery,
    DeviceMapping,
    Host,
    HostFilter,
    HostSummary,
    HostUser,
    Label,
    ListedHost,
    MDMInfo,
    MunkiInfo,
    OSVersion,
    Software,
)
from fleet_core.model.policies import HostPolicy
from fleet_core.ports import NO_METRICS, Clock, InvalidationBus, Metrics, TokenGenerator, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.host_filters import check_os_name_and_version, is_unfiltered
from fleet_core.rules.paging import ListOptions
from fleet_core.rules.policies import FAIL
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce
from fleet_core.services.policies import host_policies

log = structlog.get_logger(__name__)


@attrs.frozen
class HostDetails:
    """A host with everything GET /hosts/{id} shows."""

    host: Host
    labels: list[Label]
    users: list[HostUser]
    software: list[Software]
    batteries: list[Battery]
    device_mapping: list[DeviceMapping]
    mdm: MDMInfo | None
    munki: MunkiInfo | None
    # The policies the host answers, with its responses; failing_policies_count counts the fails.
    policies: list[HostPolicy]
    failing_policies_count: int
    # The moment the host's status is computed for.
    as_of: dt.datetime


@attrs.frozen
class HostReport:
    """The CSV report's hosts: one unit of work, opened when the batches are first read and held
    until the last, so the report is one consistent read that never holds every host at once."""

    batches: AsyncIterator[list[ListedHost]]
    # The moment the status filter and every host's status are computed for.
    as_of: dt.datetime


@attrs.frozen
class HostPage:
    """A page of hosts with everything its response shows, read in one unit of work."""

    hosts: list[ListedHost]
    # The moment the status filter and every host's status are computed for.
    as_of: dt.datetime
    # The software title the page is filtered by (software_id), when it exists.
    software: Software | None = None
    # The MDM solution the page is filtered by (mdm_id) with its host count, when any host uses it.
    mdm_solution: MDMSolution | None = None


@attrs.frozen
class MacadminsSummary:
    mdm_solutions: list[MDMSolution]
    mdm_status: dict[str, int]
    munki_versions: list[MunkiVersion]
    munki_issues: list[MunkiIssue]
    # Counted on request, so as fresh as this moment.
    counted_at: dt.datetime


@attrs.frozen
class OSVersionCounts:
    versions: list[OSVersion]
    # Counted on request, so as fresh as this moment.
    counted_at: dt.datetime


def team_filter(team_id: int | None) -> HostFilter:
    """The API's team_id parameter: a team, 0 for hosts in no team, or None for all."""
    return HostFilter(no_team=True) if team_id == 0 else HostFilter(team_id=team_id)


def _scoped(viewer: Viewer, filters: HostFilter, action: Action = Action.READ_HOSTS) -> HostFilter:
    """Limit a filter to the hosts the viewer may act on; a team filter must be one of those."""
    if filters.team_id == 0:
        filters = attrs.evolve(filters, team_id=None, no_team=True)
    if viewer.user.global_role is not None:
        authorize(viewer, action)
        return filters
    # Team users reach only hosts of the teams where their role allows this action; hosts in
    # no team belong to no such team, so a no_team filter finds nothing for them.
    allowed = frozenset(m.team_id for m in viewer.user.teams if is_allowed(viewer.user, action, team_ids=[m.team_id]))
    if filters.team_id is not None:
        authorize(viewer, action, team_ids=[filters.team_id])
    elif not allowed:
        raise PermissionDenied("forbidden")
    return attrs.evolve(filters, visible_team_ids=allowed)


def _check_host(viewer: Viewer, host: Host, action: Action) -> None:
    # A host in no team is reached by global roles only (an empty team list admits no team role).
    authorize(viewer, action, team_ids=[] if host.team_id is None else [host.team_id])


@attrs.frozen
class HostService:
    uow: UnitOfWorkFactory
    clock: Clock
    tokens: TokenGenerator
    bus: InvalidationBus
    metrics: Metrics = NO_METRICS

    async def list_page(self, viewer: Viewer, filters: HostFilter, options: ListOptions, *,
                        after: str | None = None, device_mapping: bool = False,
                        failing_policies: bool = True) -> HostPage:
        """A page of GET /hosts: the hosts (with their device mappings when asked, and their
        failing policy counts unless not asked), plus the software and MDM solution the page
        is filtered by.

        Raises:
            InvalidArgument: ``after`` without an order key, or one the order key cannot take.
            PermissionDenied: the viewer may not read these hosts (or software).
        """
        scoped = _scoped(viewer, filters)
        if after is not None and options.order_key is None:
            raise InvalidArgument(("after", "requires order_key"))
        now = self.clock.now()
        async with self.uow() as uow:
            hosts = await uow.host_listing.page(scoped, options, now=now, after=after,
                                                device_mapping=device_mapping, failing_policies=failing_policies)
            software = None
            if filters.software_id is not None:
                # Software is fleet-wide inventory: readable by every role that reads hosts at all.
                authorize(viewer, Action.READ_HOSTS)
                software = await uow.host_inventory.software_by_id(filters.software_id)
            solution = None
            if filters.mdm_id is not None:
                # As Fleet: the solution's count honours the team filter only, not the others.
                solutions = await uow.host_aggregates.mdm_solutions(_scoped(viewer, team_filter(filters.team_id)))
                solution = next((s for s in solutions if s.id == filters.mdm_id), None)
        return HostPage(hosts=hosts, as_of=now, software=software, mdm_solution=solution)

    async def label_page(self, viewer: Viewer, label_id: int, filters: HostFilter,
                         options: ListOptions) -> HostPage:
        """A page of GET /labels/{id}/hosts: the label's hosts, filtered and paged like the
        hosts list (no device mappings, no failing policy counts).

        Raises:
            NotFound: no such label.
            PermissionDenied: the viewer may not read labels or these hosts.
        """
        authorize(viewer, Action.READ_LABELS)
        now = self.clock.now()
        async with self.uow() as uow:
            if await uow.labels.get(label_id) is None:
                raise NotFound(f"Label with id={label_id} was not found in the datastore")
            scoped = _scoped(viewer, attrs.evolve(filters, label_id=label_id))
            hosts = await uow.host_listing.page(scoped, options, now=now)
        return HostPage(hosts=hosts, as_of=now)

    async def report(self, viewer: Viewer, filters: HostFilter, options: ListOptions, *,
                     device_mapping: bool) -> HostReport:
        """The hosts of the CSV report (with their device mappings when that column is asked for),
        authorized now and read in batches as the report is written.

        Raises:
            PermissionDenied: the viewer may not read these hosts.
        """
        scoped = _scoped(viewer, filters)
        now = self.clock.now()

        async def batches() -> AsyncIterator[list[ListedHost]]:
            async with self.uow() as uow:
                async for batch in uow.host_listing.stream(scoped, options, now=now, device_mapping=device_mapping):
                    yield batch

        return HostReport(batches=batches(), as_of=now)

    async def count(self, viewer: Viewer, filters: HostFilter) -> int:
        scoped = _scoped(viewer, filters)
        async with self.uow() as uow:
            return await uow.host_inventory.count(scoped, now=self.clock.now())

    async def summary(self, viewer: Viewer, *, team_id: int | None, platform: str | None) -> HostSummary:
        scoped = _scoped(viewer, team_filter(team_id))
        async with self.uow() as uow:
            return await uow.host_inventory.summary(scoped, platform=platform or None, now=self.clock.now())

    async def get(self, viewer: Viewer, host_id: int) -> HostDetails:
        async with self.uow() as uow:
            host = await _require(uow, host_id)
            _check_host(viewer, host, Action.READ_HOSTS)
            return await _details(uow, host, self.clock.now())

    async def get_by_identifier(self, viewer: Viewer, identifier: str) -> HostDetails:
        """Find a host by uuid, osquery host id, hostname, serial or node key."""
        async with self.uow() as uow:
            host = await uow.hosts.find_by_identifier(identifier, node_key_hash=self.tokens.digest(identifier))
            if host is None:
                raise NotFound(f"Host with identifier {identifier} was not found in the datastore")
            _check_host(viewer, host, Action.READ_HOSTS)
            return await _details(uow, host, self.clock.now())

    async def delete(self, viewer: Viewer, host_id: int) -> None:
        async with self.uow() as uow:
            host = await _require(uow, host_id)
            _check_host(viewer, host, Action.WRITE_HOSTS)
            await uow.hosts.delete([host_id])
            await uow.commit()
        # The agent's node key must stop working everywhere at once, so it re-enrolls.
        await announce(self.bus, [host_id])

    async def delete_many(self, viewer: Viewer, *, ids: Sequence[int] | None = None,
                          filters: HostFilter | None = None) -> int:
        """Delete by ids or by filter (exactly one of them). Returns how many went.

        Raises:
            InvalidArgument: both or neither given, or a filter that narrows nothing (deleting a
                whole fleet must be asked for by ids).
        """
        if (ids is None) == (filters is None):
            raise InvalidArgument(("ids", "either ids or filters must be given, not both"))
        if filters is not None and is_unfiltered(filters):
            raise InvalidArgument(("filters", "must contain at least one of query, status, label_id or team_id"))
        async with self.uow() as uow:
            targets = await self._resolve(uow, viewer, ids, filters, Action.WRITE_HOSTS)
            deleted = await uow.hosts.delete(targets)
            await uow.commit()
        if deleted:
            await announce(self.bus, deleted)
        return len(deleted)

    async def refetch(self, viewer: Viewer, host_id: int) -> None:
        async with self.uow() as uow:
            host = await _require(uow, host_id)
            _check_host(viewer, host, Action.REFETCH_HOSTS)
            await uow.hosts.request_refetch([host_id])
            await uow.commit()
        await announce(self.bus, [host_id])

    async def transfer(self, viewer: Viewer, team_id: int | None, *, ids: Sequence[int] | None = None,
                       filters: HostFilter | None = None) -> builtins.list[int]:
        """Move hosts (by ids or by filter) to a team, or to no team with None."""
        if team_id is not None:
            authorize(viewer, Action.WRITE_HOSTS, team_ids=[team_id])
        elif not viewer.user.global_role:
            raise PermissionDenied("forbidden")
        async with self.uow() as uow:
            team_name = None
            if team_id is not None:
                team = await uow.teams.get(team_id)
                if team is None:
                    raise NotFound(f"Team with id={team_id} was not found in the datastore")
                team_name = team.name
            targets = await self._resolve(uow, viewer, ids, filters, Action.WRITE_HOSTS)
            hosts = [h for h in [await uow.hosts.get(i) for i in targets] if h is not None]
            moved = await uow.hosts.transfer(targets, team_id)
            if moved:
                await record_activity(uow, viewer.user, "transferred_hosts", {
                    "team_id": team_id, "team_name": team_name, "host_ids": moved,
                    "host_display_names": [h.display_name for h in hosts if h.id in set(moved)],
                }, self.clock.now())
            await uow.commit()
        if moved:
            await announce(self.bus, moved)
        return moved

    async def _resolve(self, uow: UnitOfWork, viewer: Viewer, ids: Sequence[int] | None,
                       filters: HostFilter | None, action: Action) -> builtins.list[int]:
        if ids is not None:
            hosts = []
            for host_id in dict.fromkeys(ids):
                host = await uow.hosts.get(host_id)
                if host is not None:
                    _check_host(viewer, host, action)
                    hosts.append(host.id)
            return hosts
        assert filters is not None
        return await uow.host_inventory.ids(_scoped(viewer, filters, action), now=self.clock.now())

    async def os_versions(
        self, viewer: Viewer, *, team_id: int | None, platform: str | None = None, name: str | None = None,
        version: str | None = None,
    ) -> OSVersionCounts:
        """Raises InvalidArgument unless both or neither of name and version are given."""
        check_os_name_and_version(name, version)
        scoped = _scoped(viewer, team_filter(team_id))
        async with self.uow() as uow:
            versions = await uow.host_aggregates.os_versions(scoped)
        return OSVersionCounts(
            versions=[v for v in versions
                      if (not platform or v.platform == platform) and (not name or v.name_only == name)
                      and (not version or v.version == version)],
            counted_at=self.clock.now(),
        )

    async def device_mapping(self, viewer: Viewer, host_id: int) -> builtins.list[DeviceMapping]:
        async with self.uow() as uow:
            host = await _require(uow, host_id)
            _check_host(viewer, host, Action.READ_HOSTS)
            return await uow.host_inventory.device_mapping(host_id)

    async def macadmins(self, viewer: Viewer, host_id: int) -> tuple[MDMInfo | None, MunkiInfo | None]:
        async with self.uow() as uow:
            host = await _require(uow, host_id)
            _check_host(viewer, host, Action.READ_HOSTS)
            return await uow.host_inventory.mdm(host_id), await uow.host_inventory.munki(host_id)

    async def macadmins_summary(self, viewer: Viewer, *, team_id: int | None) -> MacadminsSummary:
        scoped = _scoped(viewer, team_filter(team_id))
        async with self.uow() as uow:
            return MacadminsSummary(
                mdm_solutions=await uow.host_aggregates.mdm_solutions(scoped),
                mdm_status=await uow.host_aggregates.mdm_status_counts(scoped),
                munki_versions=await uow.host_aggregates.munki_versions(scoped),
                munki_issues=await uow.host_aggregates.munki_issues(scoped),
                counted_at=self.clock.now(),
            )

    async def sample_statuses(self) -> dict[str, int]:
        """Count every host by status and report the counts to the metrics (a background job,
        so that a scrape never runs a query over the hosts table)."""
        async with self.uow() as uow:
            summary = await uow.host_inventory.summary(HostFilter(), platform=None, now=self.clock.now())
        counts = {"total": summary.totals_hosts_count, "online": summary.online_count,
                  "offline": summary.offline_count, "mia": summary.mia_count,
                  "missing_30_days": summary.missing_30_days_count, "new": summary.new_count}
        self.metrics.host_statuses(counts)
        return counts

    async def expire(self, now: dt.datetime | None = None) -> builtins.list[int]:
        """Delete hosts not seen for host_expiry_window days when host expiry is enabled."""
        now = now or self.clock.now()
        async with self.uow() as uow:
            settings = (await uow.app_config.get()).host_expiry_settings
            if not settings.host_expiry_enabled or settings.host_expiry_window <= 0:
                return []
            stale = await uow.hosts.seen_before(now - dt.timedelta(days=settings.host_expiry_window))
            deleted = await uow.hosts.delete(stale)
            if deleted:
                await record_activity(uow, None, "expired_hosts", {
                    "host_ids": deleted, "host_expiry_window": settings.host_expiry_window}, now)
            await uow.commit()
        if deleted:
            await announce(self.bus, deleted)
            log.info("hosts_expired", count=len(deleted))
        return deleted


async def _require(uow: UnitOfWork, host_id: int) -> Host:
    host = await uow.hosts.get(host_id)
    if host is None:
        raise NotFound(f"Host with id={host_id} was not found in the datastore")
    return host


async def _details(uow: UnitOfWork, host: Host, as_of: dt.datetime) -> HostDetails:
    policies = await host_policies(uow, host)
    return HostDetails(
        host=host,
        labels=await uow.host_inventory.labels(host.id),
        users=await uow.host_inventory.users(host.id),
        software=await uow.host_inventory.software(host.id),
        batteries=await uow.host_inventory.batteries(host.id),
        device_mapping=await uow.host_inventory.device_mapping(host.id),
        mdm=await uow.host_inventory.mdm(host.id),
        munki=await uow.host_inventory.munki(host.id),
        policies=policies,
        failing_policies_count=sum(1 for p in policies if p.response == FAIL),
        as_of=as_of,
    )
