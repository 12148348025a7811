"""Fleet-wide aggregates over hosts: OS versions, MDM and Munki."""

from __future__ import annotations

import builtins
from typing import Protocol

from fleet_core.model.host_aggregates import MDMSolution, MunkiIssue, MunkiVersion
from fleet_core.model.hosts import (
    HostFilter,
    OSVersion,
)


class HostAggregateRepository(Protocol):
    """Fleet-wide aggregates over the hosts matching a filter (the hosts pages' summaries).
    Status filters do not apply here."""

    async def os_versions(self, filters: HostFilter) -> builtins.list[OSVersion]:
        """Distinct (name, version, platform) over matching hosts with host counts; os_id stable."""
        ...

    async def mdm_solutions(self, filters: HostFilter) -> builtins.list[MDMSolution]:
        """The MDM solutions of the matching enrolled hosts with their host counts, by id."""
        ...

    async def mdm_status_counts(self, filters: HostFilter) -> dict[str, int]:
        """Counts of matching hosts by "enrolled_manual_hosts_count", "enrolled_automated_hosts_count",
        "unenrolled_hosts_count" and "hosts_count"."""
        ...

    async def munki_versions(self, filters: HostFilter) -> builtins.list[MunkiVersion]:
        """The Munki versions of the matching hosts that report Munki, with their host counts, most
        common first (then by version)."""
        ...

    async def munki_issues(self, filters: HostFilter) -> builtins.list[MunkiIssue]:
        """The Munki issues (type "error" or "warning") of the matching hosts with their host
        counts, by id."""
        ...
