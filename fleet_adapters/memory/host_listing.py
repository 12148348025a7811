"""In-memory implementation of fleet_core.ports.HostListing, over the unit of work's own repositories."""

from __future__ import annotations

import builtins
import datetime as dt

import attrs

from fleet_adapters.memory.hosts import InMemoryHostRepository
from fleet_adapters.memory.policies import InMemoryPolicyRepository
from fleet_core.model.hosts import HostFilter, ListedHost
from fleet_core.rules.paging import ListOptions


@attrs.define
class InMemoryHostListing:
    # The repositories of the same unit of work, so the page reads the state they read (and
    # follows them when a commit rebinds them to the new state).
    hosts: InMemoryHostRepository
    policies: InMemoryPolicyRepository

    async def page(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime, after: str | None = None,
                   device_mapping: bool = False, failing_policies: bool = False) -> builtins.list[ListedHost]:
        hosts = await self.hosts.list(filters, options, now=now, after=after)
        failing = await self.policies.failing_counts([h.id for h in hosts]) if failing_policies else {}
        return [
            ListedHost(
                host=host,
                device_mapping=tuple(await self.hosts.device_mapping(host.id)) if device_mapping else None,
                failing_policies_count=failing.get(host.id, 0),
            )
            for host in hosts
        ]
