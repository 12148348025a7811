"""In-memory HostInventoryRepository: the host list and its counts, one host's details, targeting
and search."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection

import attrs

from fleet_adapters.memory.hosts.filters import FilteredHostsRepo, order_value, sortable
from fleet_adapters.memory.software import vulnerabilities_of
from fleet_core.model.hosts import (
    Battery,
    DeviceMapping,
    Host,
    HostFilter,
    HostStatusCounts,
    HostSummary,
    HostUser,
    Label,
    MDMInfo,
    MunkiInfo,
    Software,
)
from fleet_core.rules.detail_queries import LINUX_PLATFORMS
from fleet_core.rules.host_storage import ALL_HOSTS, check_order_key, parse_after, search_text, summary_platforms
from fleet_core.rules.hosts import is_missing, is_new, is_online
from fleet_core.rules.paging import Direction, ListOptions, paginate
from fleet_core.rules.targets import LabelKinds, TargetHost, TargetSelection, is_visible, resolve_targets


@attrs.define
class InMemoryHostInventoryRepository(FilteredHostsRepo):
    async def list(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                   after: str | None = None) -> builtins.list[Host]:
        check_order_key(options)
        hosts = self.matching(filters, now, search_text(filters, options))
        if after is not None and options.order_key is not None:
            key = options.order_key
            bound = sortable(parse_after(key, after))
            descending = options.order_direction is Direction.DESC
            hosts = [h for h in hosts if (v := order_value(h, key)) is not None
                     and (sortable(v) < bound if descending else sortable(v) > bound)]
        return paginate(hosts, options, order_value, tie_breaker=lambda h: h.id)

    async def count(self, filters: HostFilter, *, now: dt.datetime) -> int:
        return len(self.matching(filters, now, filters.query))

    async def count_by_label(self, label_ids: Collection[int], *,
                             visible_team_ids: frozenset[int] | None) -> dict[int, int]:
        # Neither filter depends on the time, so any ``now`` will do.
        return {label_id: await self.count(HostFilter(label_id=label_id, visible_team_ids=visible_team_ids),
                                           now=dt.datetime.now(dt.UTC))
                for label_id in label_ids}

    async def ids(self, filters: HostFilter, *, now: dt.datetime) -> builtins.list[int]:
        return sorted(h.id for h in self.matching(filters, now, filters.query))

    async def summary(self, filters: HostFilter, *, platform: str | None, now: dt.datetime) -> HostSummary:
        hosts = self.matching(filters, now, filters.query)
        platforms = summary_platforms(platform)
        if platforms is not None:
            hosts = [h for h in hosts if h.platform in platforms]
        online = sum(is_online(h.seen_time, h.distributed_interval, h.config_tls_refresh, now) for h in hosts)
        missing = sum(is_missing(h.seen_time, now) for h in hosts)
        counts: dict[str, int] = {}
        for host in hosts:
            counts[host.platform] = counts.get(host.platform, 0) + 1
        return HostSummary(
            team_id=filters.team_id,
            totals_hosts_count=len(hosts),
            online_count=online,
            offline_count=len(hosts) - online,
            mia_count=missing,
            missing_30_days_count=missing,
            new_count=sum(is_new(h.created_at, now) for h in hosts),
            all_linux_count=sum(h.platform in LINUX_PLATFORMS for h in hosts),
            platforms=tuple(sorted(counts.items())),
            builtin_labels=tuple(self.tables.builtin_labels()),
        )

    async def users(self, host_id: int) -> builtins.list[HostUser]:
        return builtins.list(self.tables.users.get(host_id, ()))

    async def software(self, host_id: int) -> builtins.list[Software]:
        t = self.tables
        found = [attrs.evolve(t.software_by_id[software_id], last_opened_at=opened,
                              vulnerabilities=vulnerabilities_of(self.state.software, software_id))
                 for software_id, opened in t.host_software.get(host_id, ())]
        return sorted(found, key=lambda s: (s.name, s.version, s.source))

    async def software_by_id(self, software_id: int) -> Software | None:
        software = self.tables.software_by_id.get(software_id)
        if software is None:
            return None
        # The fleet-wide count of the last refresh, as software_host_counts holds it.
        count = self.state.software.host_counts.get((software_id, 0, True), 0)
        return attrs.evolve(software, last_opened_at=None, hosts_count=count,
                            vulnerabilities=vulnerabilities_of(self.state.software, software_id))

    async def device_mapping(self, host_id: int) -> builtins.list[DeviceMapping]:
        return builtins.list(self.tables.emails.get(host_id, ()))

    async def mdm(self, host_id: int) -> MDMInfo | None:
        entry = self.tables.mdm.get(host_id)
        return None if entry is None else entry[0]

    async def munki(self, host_id: int) -> MunkiInfo | None:
        return self.tables.munki.get(host_id)

    async def batteries(self, host_id: int) -> builtins.list[Battery]:
        return builtins.list(self.tables.batteries.get(host_id, ()))

    async def labels(self, host_id: int) -> builtins.list[Label]:
        t = self.tables
        return [t.labels[i] for i in sorted(t.label_membership.get(host_id, ())) if i in t.labels]

    async def target_host_ids(self, selection: TargetSelection, *,
                              visible_team_ids: frozenset[int] | None) -> builtins.list[int]:
        t = self.tables
        labels = t.labels.values()
        kinds = LabelKinds(
            builtin=(label.id for label in labels if label.label_type == "builtin"),
            custom=(label.id for label in labels if label.label_type != "builtin"),
            all_hosts=next((label.id for label in labels if label.label_type == "builtin" and label.name == ALL_HOSTS),
                           None),
        )
        hosts = (TargetHost(id=h.id, team_id=h.team_id, label_ids=t.label_membership.get(h.id, frozenset()))
                 for h in map(self.fresh, t.hosts.values()))
        return resolve_targets(selection, hosts, kinds, visible_team_ids=visible_team_ids)

    async def target_status_counts(self, selection: TargetSelection, *, visible_team_ids: frozenset[int] | None,
                                   now: dt.datetime) -> HostStatusCounts:
        ids = await self.target_host_ids(selection, visible_team_ids=visible_team_ids)
        summary = await self.summary(HostFilter(ids=frozenset(ids)), platform=None, now=now) if ids else None
        if summary is None:
            return HostStatusCounts()
        return HostStatusCounts(total=summary.totals_hosts_count, online=summary.online_count,
                                missing=summary.mia_count)

    async def search(self, text: str, *, excluded_ids: frozenset[int], limit: int,
                     visible_team_ids: frozenset[int] | None) -> builtins.list[Host]:
        needle = text.lower()
        found = [h for h in map(self.fresh, self.tables.hosts.values())
                 if h.id not in excluded_ids and is_visible(h.team_id, visible_team_ids)
                 and (not needle or any(needle in value.lower() for value in (
                     h.hostname, h.computer_name, h.uuid, h.hardware_serial, h.primary_ip)))]
        found.sort(key=lambda h: h.id)
        if not needle:
            found.sort(key=lambda h: h.seen_time, reverse=True)
        return found[:max(limit, 0)]
