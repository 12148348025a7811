"""Hosts as the management API sees them: listing, details, deletion, refetch, transfer, summary."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence

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
    MDMInfo,
    MunkiInfo,
    OSVersion,
    Software,
)
from fleet_core.model.policies import HostPolicy
from fleet_core.ports import Clock, InvalidationBus, TokenGenerator, UnitOfWork, UnitOfWorkFactory
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
    policies: list[HostPolicy] = attrs.field(factory=list)
    failing_policies_count: int = 0


@attrs.frozen
class MacadminsSummary:
    mdm_solutions: list[MDMSolution]
    mdm_status: dict[str, int]
    munki_versions: list[MunkiVersion]
    munki_issues: list[MunkiIssue]


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

    async def list(self, viewer: Viewer, filters: HostFilter, options: ListOptions,
                   *, after: str | None = None) -> list[Host]:
        scoped = _scoped(viewer, filters)
        if after is not None and options.order_key is None:
            raise InvalidArgument(("after", "requires order_key"))
        async with self.uow() as uow:
            return await uow.host_inventory.list(scoped, options, now=self.clock.now(), after=after)

    async def failing_policy_counts(self, viewer: Viewer, hosts: Sequence[Host]) -> dict[int, int]:
        """How many policies each of these hosts fails (hosts failing none are left out)."""
        for host in hosts:
            _check_host(viewer, host, Action.READ_HOSTS)
        if not hosts:
            return {}
        async with self.uow() as uow:
            return await uow.policies.failing_counts([h.id for h in hosts])

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
            return await _details(uow, host)

    async def get_by_identifier(self, viewer: Viewer, identifier: str) -> HostDetails:
        """Find a host by uuid, osquery host id, hostname, serial or node key."""
        async with self.uow() as uow:
            host = await uow.hosts.find_by_identifier(identifier, node_key_hash=self.tokens.digest(identifier))
            if host is None:
                raise NotFound(f"Host with identifier {identifier} was not found in the datastore")
            _check_host(viewer, host, Action.READ_HOSTS)
            return await _details(uow, host)

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
        """Delete by ids or by filter (exactly one of them). Returns how many went."""
        if (ids is None) == (filters is None):
            raise InvalidArgument(("ids", "either ids or filters must be given, not both"))
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
    ) -> builtins.list[OSVersion]:
        scoped = _scoped(viewer, team_filter(team_id))
        async with self.uow() as uow:
            versions = await uow.host_aggregates.os_versions(scoped)
        return [v for v in versions
                if (not platform or v.platform == platform) and (not name or v.name_only == name)
                and (not version or v.version == version)]

    async def software(self, viewer: Viewer, software_id: int) -> Software | None:
        """A software title by id (software is fleet-wide inventory, readable by every role)."""
        authorize(viewer, Action.READ_HOSTS)
        async with self.uow() as uow:
            return await uow.host_inventory.software_by_id(software_id)

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
            )

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


async def _details(uow: UnitOfWork, host: Host) -> HostDetails:
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
    )
