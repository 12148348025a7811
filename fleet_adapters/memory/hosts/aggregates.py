"""In-memory HostAggregateRepository: fleet-wide counts over the hosts a filter matches (status
filters do not apply)."""

from __future__ import annotations

import builtins

import attrs

from fleet_adapters.memory.hosts.filters import FilteredHostsRepo
from fleet_core.model.host_aggregates import MDMSolution, MunkiIssue, MunkiVersion
from fleet_core.model.hosts import HostFilter, OSVersion


@attrs.define
class InMemoryHostAggregateRepository(FilteredHostsRepo):
    async def os_versions(self, filters: HostFilter) -> builtins.list[OSVersion]:
        t = self.tables
        counts: dict[int, int] = {}
        for host in self.matching(filters, None, filters.query):
            os_id = t.os_id(host)
            if os_id is not None:
                counts[os_id] = counts.get(os_id, 0) + 1
        keys = {os_id: key for key, os_id in t.operating_systems.items()}
        found = []
        for os_id in sorted(counts):
            name, version, platform = keys[os_id]
            found.append(OSVersion(os_id=os_id, name=f"{name} {version}".strip(), name_only=name, version=version,
                                   platform=platform, hosts_count=counts[os_id]))
        return found

    async def mdm_solutions(self, filters: HostFilter) -> builtins.list[MDMSolution]:
        t = self.tables
        counts: dict[int, int] = {}
        for host in self.matching(filters, None, filters.query):
            info, mdm_id = t.mdm.get(host.id, (None, None))
            if info is not None and info.enrolled and mdm_id is not None:
                counts[mdm_id] = counts.get(mdm_id, 0) + 1
        keys = {mdm_id: key for key, mdm_id in t.mdm_solutions.items()}
        return [MDMSolution(id=mdm_id, name=keys[mdm_id][0], server_url=keys[mdm_id][1], hosts_count=counts[mdm_id])
                for mdm_id in sorted(counts)]

    async def mdm_status_counts(self, filters: HostFilter) -> dict[str, int]:
        t = self.tables
        infos = [t.mdm[h.id][0] for h in self.matching(filters, None, filters.query) if h.id in t.mdm]
        return {
            "enrolled_manual_hosts_count": sum(i.enrolled and not i.installed_from_dep for i in infos),
            "enrolled_automated_hosts_count": sum(i.enrolled and i.installed_from_dep for i in infos),
            "unenrolled_hosts_count": sum(not i.enrolled for i in infos),
            "hosts_count": len(infos),
        }

    async def munki_versions(self, filters: HostFilter) -> builtins.list[MunkiVersion]:
        t = self.tables
        counts: dict[str, int] = {}
        for host in self.matching(filters, None, filters.query):
            munki = t.munki.get(host.id)
            if munki is not None:
                counts[munki.version] = counts.get(munki.version, 0) + 1
        return [MunkiVersion(version=version, hosts_count=count)
                for version, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]

    async def munki_issues(self, filters: HostFilter) -> builtins.list[MunkiIssue]:
        t = self.tables
        counts: dict[int, int] = {}
        for host in self.matching(filters, None, filters.query):
            for issue_id in t.munki_issue_ids(host.id):
                counts[issue_id] = counts.get(issue_id, 0) + 1
        keys = {issue_id: key for key, issue_id in t.munki_issues.items()}
        return [MunkiIssue(id=i, name=keys[i][0], type=keys[i][1], hosts_count=counts[i]) for i in sorted(counts)]
