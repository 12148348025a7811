"""In-memory HostRepository and LabelRepository (the shared rules are in fleet_core.rules.host_storage)."""

from __future__ import annotations

import builtins
import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound
from fleet_core.model.hosts import (
    NEVER,
    Battery,
    DeviceMapping,
    Host,
    HostFacts,
    HostFilter,
    HostSummary,
    HostUser,
    Label,
    MDMInfo,
    MunkiInfo,
    OSVersion,
    Software,
    SoftwareItem,
)
from fleet_core.ports import LABEL_ORDER_KEYS
from fleet_core.rules.detail_queries import LINUX_PLATFORMS
from fleet_core.rules.host_storage import (
    ALL_HOSTS,
    BUILTIN_LABELS,
    MDM_ENROLLMENT_STATUSES,
    check_fields,
    check_order_key,
    looks_like_email,
    normalized_munki,
    os_key,
    parse_after,
    search_text,
    summary_platforms,
    unique_mappings,
    unique_users,
)
from fleet_core.rules.hosts import is_missing, is_new, is_online, matches_status
from fleet_core.rules.paging import Direction, ListOptions, paginate
from fleet_core.rules.targets import LabelKinds, TargetHost, TargetSelection, is_visible, resolve_targets

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State

def seed_builtin_labels(at: dt.datetime) -> dict[int, Label]:
    return {
        index: Label(id=index, name=name, description=description, query=query, platform="",
                     label_type="builtin", label_membership_type="dynamic", created_at=at, updated_at=at)
        for index, (name, description, query) in enumerate(BUILTIN_LABELS, start=1)
    }


_SoftwareKey = tuple[str, str, str]


@attrs.define
class HostTables:
    """Everything the host and label repositories store; values are immutable, so a shallow
    copy of each dict is a full snapshot."""

    hosts: dict[int, Host] = attrs.field(factory=dict)
    by_identifier: dict[str, int] = attrs.field(factory=dict)
    node_keys: dict[str, int] = attrs.field(factory=dict)
    host_node_key: dict[int, str] = attrs.field(factory=dict)
    users: dict[int, tuple[HostUser, ...]] = attrs.field(factory=dict)
    software: dict[_SoftwareKey, Software] = attrs.field(factory=dict)
    software_by_id: dict[int, Software] = attrs.field(factory=dict)
    host_software: dict[int, tuple[tuple[int, dt.datetime | None], ...]] = attrs.field(factory=dict)
    emails: dict[int, tuple[DeviceMapping, ...]] = attrs.field(factory=dict)
    mdm: dict[int, tuple[MDMInfo, int | None]] = attrs.field(factory=dict)
    mdm_solutions: dict[tuple[str, str], int] = attrs.field(factory=dict)
    munki: dict[int, MunkiInfo] = attrs.field(factory=dict)
    munki_issues: dict[tuple[str, str], int] = attrs.field(factory=dict)
    batteries: dict[int, tuple[Battery, ...]] = attrs.field(factory=dict)
    operating_systems: dict[tuple[str, str, str], int] = attrs.field(factory=dict)
    # Built-in labels predate every host, as the Postgres migration that seeds them does; a label
    # newer than a host's last label answers is sent to it at once.
    labels: dict[int, Label] = attrs.field(factory=lambda: seed_builtin_labels(NEVER))
    label_membership: dict[int, frozenset[int]] = attrs.field(factory=dict)  # host id -> label ids
    policy_membership: dict[int, tuple[tuple[int, bool | None], ...]] = attrs.field(factory=dict)

    def copy(self) -> HostTables:
        return HostTables(**{f.name: dict(getattr(self, f.name)) for f in attrs.fields(HostTables)})

    def drop_host(self, host_id: int) -> None:
        host = self.hosts.pop(host_id)
        del self.by_identifier[host.osquery_host_id]
        node_key = self.host_node_key.pop(host_id, None)
        if node_key is not None:
            del self.node_keys[node_key]
        for table in (self.users, self.host_software, self.emails, self.mdm, self.munki, self.batteries,
                      self.label_membership, self.policy_membership):
            table.pop(host_id, None)

    def munki_issue_ids(self, host_id: int) -> set[int]:
        munki = self.munki.get(host_id)
        if munki is None:
            return set()
        return ({self.munki_issues[(name, "error")] for name in munki.errors}
                | {self.munki_issues[(name, "warning")] for name in munki.warnings})

    def os_id(self, host: Host) -> int | None:
        key = os_key(host.os_version, host.platform)
        return None if key is None else self.operating_systems.get(key)


# Reading a host's value for an order key; Host attribute names differ for two keys.
def _order_value(host: Host, key: str) -> Any:
    if key == "uptime":
        return host.uptime_seconds
    if key == "display_name":
        return host.display_name
    return getattr(host, key)


def _sortable(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@attrs.define
class _HostsRepo:
    state: _State
    store: InMemoryStore

    @property
    def tables(self) -> HostTables:
        return self.state.host_tables


@attrs.define
class InMemoryHostRepository(_HostsRepo):
    async def enroll(self, *, osquery_host_id: str, node_key_hash: str, team_id: int | None,
                     at: dt.datetime, fields: Mapping[str, Any]) -> tuple[Host, bool]:
        check_fields(fields)
        t = self.tables
        existing_id = t.by_identifier.get(osquery_host_id)
        holder = t.node_keys.get(node_key_hash)
        if holder is not None and holder != existing_id:
            raise AlreadyExists("node key collision")
        if team_id is not None and team_id not in self.state.teams:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        values = _copied(fields)
        if existing_id is None:
            host = Host(id=self.store.next_id("hosts"), osquery_host_id=osquery_host_id, team_id=team_id,
                        created_at=at, updated_at=at, last_enrolled_at=at, seen_time=at, refetch_requested=True,
                        **values)
            t.by_identifier[osquery_host_id] = host.id
        else:
            old = t.hosts[existing_id]
            host = attrs.evolve(old, team_id=team_id, updated_at=at, last_enrolled_at=at,
                                seen_time=max(old.seen_time, at), **values)
            t.node_keys.pop(t.host_node_key.get(host.id, ""), None)
            t.policy_membership.pop(host.id, None)
        t.hosts[host.id] = host
        t.node_keys[node_key_hash] = host.id
        t.host_node_key[host.id] = node_key_hash
        all_hosts = next(label.id for label in t.labels.values() if label.name == ALL_HOSTS)
        t.label_membership[host.id] = t.label_membership.get(host.id, frozenset()) | {all_hosts}
        self._sync_os(host)
        return self._fresh(host), existing_id is None

    async def get(self, host_id: int) -> Host | None:
        host = self.tables.hosts.get(host_id)
        return None if host is None else self._fresh(host)

    async def get_by_node_key(self, node_key_hash: str) -> Host | None:
        host_id = self.tables.node_keys.get(node_key_hash)
        return None if host_id is None else await self.get(host_id)

    async def get_by_osquery_host_id(self, osquery_host_id: str) -> Host | None:
        host_id = self.tables.by_identifier.get(osquery_host_id)
        return None if host_id is None else await self.get(host_id)

    async def find_by_identifier(self, identifier: str, *, node_key_hash: str) -> Host | None:
        t = self.tables
        found = []
        for host in t.hosts.values():
            # A blank identifier would match every host that never reported that column.
            named = identifier != "" and identifier in (host.uuid, host.osquery_host_id, host.hostname,
                                                         host.hardware_serial)
            if named or t.host_node_key.get(host.id) == node_key_hash:
                found.append(host)
        return self._fresh(min(found, key=lambda h: h.id)) if found else None

    async def apply_facts(self, host_id: int, facts: HostFacts, *, at: dt.datetime, details_updated: bool = False,
                          labels_updated: bool = False, policies_updated: bool = False,
                          clear_refetch: bool = False) -> None:
        check_fields(facts.fields)
        t = self.tables
        host = t.hosts.get(host_id)
        if host is None:
            return
        changes: dict[str, Any] = {**_copied(facts.fields), "updated_at": at}
        if details_updated:
            changes["detail_updated_at"] = at
        if labels_updated:
            changes["label_updated_at"] = at
        if policies_updated:
            changes["policy_updated_at"] = at
        if clear_refetch:
            changes["refetch_requested"] = False
        host = attrs.evolve(host, **changes)
        t.hosts[host_id] = host
        if "os_version" in facts.fields or "platform" in facts.fields:
            self._sync_os(host)
        if facts.users is not None:
            t.users[host_id] = tuple(unique_users(facts.users))
        if facts.software is not None:
            t.host_software[host_id] = self._store_software(facts.software)
        if facts.device_mapping is not None:
            t.emails[host_id] = tuple(unique_mappings(facts.device_mapping))
        if facts.mdm is not None:
            t.mdm[host_id] = (facts.mdm, self._mdm_id(facts.mdm))
        if facts.munki is not None:
            munki = normalized_munki(facts.munki)
            for name, kind in [(e, "error") for e in munki.errors] + [(w, "warning") for w in munki.warnings]:
                if (name, kind) not in t.munki_issues:
                    t.munki_issues[(name, kind)] = self.store.next_id("munki_issues")
            t.munki[host_id] = munki
        if facts.batteries is not None:
            t.batteries[host_id] = tuple(facts.batteries)

    async def mark_seen(self, seen: Mapping[int, dt.datetime]) -> None:
        t = self.tables
        for host_id, at in seen.items():
            host = t.hosts.get(host_id)
            if host is not None and at > host.seen_time:
                t.hosts[host_id] = attrs.evolve(host, seen_time=at)

    async def request_refetch(self, host_ids: Sequence[int]) -> int:
        t = self.tables
        found = {i for i in host_ids if i in t.hosts}
        for host_id in found:
            t.hosts[host_id] = attrs.evolve(t.hosts[host_id], refetch_requested=True)
        return len(found)

    async def transfer(self, host_ids: Sequence[int], team_id: int | None) -> builtins.list[int]:
        if team_id is not None and team_id not in self.state.teams:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        t = self.tables
        found = sorted({i for i in host_ids if i in t.hosts})
        for host_id in found:
            t.hosts[host_id] = attrs.evolve(t.hosts[host_id], team_id=team_id, policy_updated_at=NEVER)
            kept = tuple((policy_id, passes) for policy_id, passes in t.policy_membership.get(host_id, ())
                         if (policy := self.state.policies.get(policy_id)) is not None and policy.team_id is None)
            if kept:
                t.policy_membership[host_id] = kept
            else:
                t.policy_membership.pop(host_id, None)
        return found

    async def delete(self, host_ids: Sequence[int]) -> builtins.list[int]:
        t = self.tables
        found = sorted({i for i in host_ids if i in t.hosts})
        for host_id in found:
            t.drop_host(host_id)
        return found

    async def list(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                   after: str | None = None) -> builtins.list[Host]:
        check_order_key(options)
        hosts = self._matching(filters, now, search_text(filters, options))
        if after is not None and options.order_key is not None:
            key = options.order_key
            bound = _sortable(parse_after(key, after))
            descending = options.order_direction is Direction.DESC
            hosts = [h for h in hosts if (v := _order_value(h, key)) is not None
                     and (_sortable(v) < bound if descending else _sortable(v) > bound)]
        return paginate(hosts, options, _order_value, tie_breaker=lambda h: h.id)

    async def count(self, filters: HostFilter, *, now: dt.datetime) -> int:
        return len(self._matching(filters, now, filters.query))

    async def ids(self, filters: HostFilter, *, now: dt.datetime) -> builtins.list[int]:
        return sorted(h.id for h in self._matching(filters, now, filters.query))

    async def summary(self, filters: HostFilter, *, platform: str | None, now: dt.datetime) -> HostSummary:
        hosts = self._matching(filters, now, filters.query)
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
            builtin_labels=tuple(_builtin(self.tables)),
        )

    async def users(self, host_id: int) -> builtins.list[HostUser]:
        return builtins.list(self.tables.users.get(host_id, ()))

    async def software(self, host_id: int) -> builtins.list[Software]:
        t = self.tables
        found = [attrs.evolve(t.software_by_id[software_id], last_opened_at=opened)
                 for software_id, opened in t.host_software.get(host_id, ())]
        return sorted(found, key=lambda s: (s.name, s.version, s.source))

    async def software_by_id(self, software_id: int) -> Software | None:
        software = self.tables.software_by_id.get(software_id)
        if software is None:
            return None
        count = sum(any(s == software_id for s, _ in items) for items in self.tables.host_software.values())
        return attrs.evolve(software, last_opened_at=None, hosts_count=count)

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

    async def os_versions(self, filters: HostFilter) -> builtins.list[OSVersion]:
        t = self.tables
        counts: dict[int, int] = {}
        for host in self._matching(filters, None, filters.query):
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

    async def mdm_solutions(self, filters: HostFilter) -> builtins.list[tuple[int, str, str, int]]:
        t = self.tables
        counts: dict[int, int] = {}
        for host in self._matching(filters, None, filters.query):
            info, mdm_id = t.mdm.get(host.id, (None, None))
            if info is not None and info.enrolled and mdm_id is not None:
                counts[mdm_id] = counts.get(mdm_id, 0) + 1
        keys = {mdm_id: key for key, mdm_id in t.mdm_solutions.items()}
        return [(mdm_id, keys[mdm_id][0], keys[mdm_id][1], counts[mdm_id]) for mdm_id in sorted(counts)]

    async def mdm_status_counts(self, filters: HostFilter) -> dict[str, int]:
        t = self.tables
        infos = [t.mdm[h.id][0] for h in self._matching(filters, None, filters.query) if h.id in t.mdm]
        return {
            "enrolled_manual_hosts_count": sum(i.enrolled and not i.installed_from_dep for i in infos),
            "enrolled_automated_hosts_count": sum(i.enrolled and i.installed_from_dep for i in infos),
            "unenrolled_hosts_count": sum(not i.enrolled for i in infos),
            "hosts_count": len(infos),
        }

    async def munki_versions(self, filters: HostFilter) -> builtins.list[tuple[str, int]]:
        t = self.tables
        counts: dict[str, int] = {}
        for host in self._matching(filters, None, filters.query):
            munki = t.munki.get(host.id)
            if munki is not None:
                counts[munki.version] = counts.get(munki.version, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    async def munki_issues(self, filters: HostFilter) -> builtins.list[tuple[int, str, str, int]]:
        t = self.tables
        counts: dict[int, int] = {}
        for host in self._matching(filters, None, filters.query):
            for issue_id in t.munki_issue_ids(host.id):
                counts[issue_id] = counts.get(issue_id, 0) + 1
        keys = {issue_id: key for key, issue_id in t.munki_issues.items()}
        return [(i, keys[i][0], keys[i][1], counts[i]) for i in sorted(counts)]

    async def seen_before(self, cutoff: dt.datetime) -> builtins.list[int]:
        return sorted(h.id for h in self.tables.hosts.values() if h.seen_time < cutoff)

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
                 for h in map(self._fresh, t.hosts.values()))
        return resolve_targets(selection, hosts, kinds, visible_team_ids=visible_team_ids)

    async def search(self, text: str, *, excluded_ids: frozenset[int], limit: int,
                     visible_team_ids: frozenset[int] | None) -> builtins.list[Host]:
        needle = text.lower()
        found = [h for h in map(self._fresh, self.tables.hosts.values())
                 if h.id not in excluded_ids and is_visible(h.team_id, visible_team_ids)
                 and (not needle or any(needle in value.lower() for value in (
                     h.hostname, h.computer_name, h.uuid, h.hardware_serial, h.primary_ip)))]
        found.sort(key=lambda h: h.id)
        if not needle:
            found.sort(key=lambda h: h.seen_time, reverse=True)
        return found[:max(limit, 0)]

    def _fresh(self, host: Host) -> Host:
        # Team names live with the team; a deleted team leaves the host without one.
        team = self.state.teams.get(host.team_id) if host.team_id is not None else None
        return attrs.evolve(host, team_id=None if team is None else team.id,
                            team_name=None if team is None else team.name)

    def _sync_os(self, host: Host) -> None:
        key = os_key(host.os_version, host.platform)
        if key is not None and key not in self.tables.operating_systems:
            self.tables.operating_systems[key] = self.store.next_id("operating_systems")

    def _mdm_id(self, info: MDMInfo) -> int | None:
        if not (info.name or info.server_url):
            return None
        key = (info.name, info.server_url)
        if key not in self.tables.mdm_solutions:
            self.tables.mdm_solutions[key] = self.store.next_id("mdm_solutions")
        return self.tables.mdm_solutions[key]

    def _store_software(self, items: Sequence[SoftwareItem]) -> tuple[tuple[int, dt.datetime | None], ...]:
        t = self.tables
        opened: dict[int, dt.datetime | None] = {}
        for item in items:
            key = (item.name, item.version, item.source)
            software = t.software.get(key)
            if software is None:
                # The first report of a (name, version, source) fixes its other attributes.
                software = Software(id=self.store.next_id("software"), name=item.name, version=item.version,
                                    source=item.source, bundle_identifier=item.bundle_identifier,
                                    vendor=item.vendor, arch=item.arch, release=item.release)
                t.software[key] = software
                t.software_by_id[software.id] = software
            previous = opened.get(software.id)
            latest = item.last_opened_at
            opened[software.id] = latest if previous is None or (latest is not None and latest > previous) \
                else previous
        return tuple(sorted(opened.items()))

    def _matching(self, filters: HostFilter, now: dt.datetime | None, query: str) -> builtins.list[Host]:
        if filters.mdm_enrollment_status is not None and filters.mdm_enrollment_status not in MDM_ENROLLMENT_STATUSES:
            raise InvalidArgument(("mdm_enrollment_status", "must be one of automatic, manual, unenrolled"))
        hosts = [self._fresh(h) for h in self.tables.hosts.values()]
        return [h for h in hosts if self._matches(h, filters, now, query)]

    def _matches(self, host: Host, f: HostFilter, now: dt.datetime | None, query: str) -> bool:
        t = self.tables
        checks: list[bool] = []
        if f.ids is not None:
            checks.append(host.id in f.ids)
        if f.visible_team_ids is not None:
            checks.append(host.team_id in f.visible_team_ids)
        if f.team_id is not None:
            checks.append(host.team_id == f.team_id)
        if f.no_team:
            checks.append(host.team_id is None)
        if f.status is not None and now is not None:
            checks.append(matches_status(f.status, seen=host.seen_time, created_at=host.created_at,
                                         distributed_interval=host.distributed_interval,
                                         config_tls_refresh=host.config_tls_refresh, now=now))
        if f.label_id is not None:
            checks.append(f.label_id in t.label_membership.get(host.id, ()))
        if f.policy_id is not None:
            results = dict(t.policy_membership.get(host.id, ()))
            if f.policy_id not in results:
                checks.append(False)
            elif f.policy_response == "passing":
                checks.append(results[f.policy_id] is True)
            elif f.policy_response == "failing":
                checks.append(results[f.policy_id] is False)
        if f.software_id is not None:
            checks.append(any(s == f.software_id for s, _ in t.host_software.get(host.id, ())))
        if f.os_id is not None:
            checks.append(t.os_id(host) == f.os_id)
        if f.os_name is not None or f.os_version is not None:
            key = os_key(host.os_version, host.platform)
            checks.append(key is not None and f.os_name in (None, key[0]) and f.os_version in (None, key[1]))
        if f.mdm_id is not None:
            checks.append(host.id in t.mdm and t.mdm[host.id][1] == f.mdm_id)
        if f.mdm_enrollment_status is not None:
            info = t.mdm[host.id][0] if host.id in t.mdm else None
            checks.append(info is not None and {
                "manual": info.enrolled and not info.installed_from_dep,
                "automatic": info.enrolled and info.installed_from_dep,
                "unenrolled": not info.enrolled,
            }[f.mdm_enrollment_status])
        if f.munki_issue_id is not None:
            checks.append(f.munki_issue_id in t.munki_issue_ids(host.id))
        if query:
            needle = query.lower()
            texts = (host.hostname, host.computer_name, host.uuid, host.hardware_serial, host.primary_ip)
            hit = any(needle in text.lower() for text in texts)
            if not hit and looks_like_email(query):
                hit = any(m.email.lower() == needle for m in t.emails.get(host.id, ()))
            checks.append(hit)
        return all(checks)


def _copied(fields: Mapping[str, Any]) -> dict[str, Any]:
    # `additional` is a plain mapping the caller still holds; stored hosts must not change with it.
    return {k: copy.deepcopy(v) if k == "additional" else v for k, v in fields.items()}


def _builtin(tables: HostTables) -> builtins.list[Label]:
    return [label for _, label in sorted(tables.labels.items()) if label.label_type == "builtin"]


@attrs.define
class InMemoryLabelRepository(_HostsRepo):
    async def builtin(self) -> builtins.list[Label]:
        return _builtin(self.tables)

    async def get(self, label_id: int) -> Label | None:
        return self.tables.labels.get(label_id)

    async def dynamic(self) -> builtins.list[Label]:
        return [label for _, label in sorted(self.tables.labels.items())
                if label.label_membership_type == "dynamic"]

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime) -> None:
        t = self.tables
        if host_id not in t.hosts:
            return
        members = set(t.label_membership.get(host_id, ()))
        for label_id, result in results.items():
            if result is True and label_id in t.labels:
                members.add(label_id)
            else:
                members.discard(label_id)
        t.label_membership[host_id] = frozenset(members)


    async def get_by_name(self, name: str) -> Label | None:
        return next((label for label in self.tables.labels.values() if label.name == name), None)

    async def list(self, options: ListOptions) -> builtins.list[Label]:
        if options.order_key is not None and options.order_key not in LABEL_ORDER_KEYS:
            raise InvalidArgument(("order_key", f"must be one of {', '.join(sorted(LABEL_ORDER_KEYS))}"))
        return paginate(self.tables.labels.values(), options, _label_sort_value, tie_breaker=lambda label: label.id,
                        matches=lambda label, q: q in label.name.lower())

    async def add(self, *, name: str, description: str, query: str, platform: str, membership_type: str,
                  at: dt.datetime) -> Label:
        t = self.tables
        if any(label.name == name for label in t.labels.values()):
            raise AlreadyExists("a label with this name already exists")
        label = Label(id=self._next_label_id(), name=name, description=description, query=query, platform=platform,
                      label_type="regular", label_membership_type=membership_type, created_at=at, updated_at=at)
        t.labels[label.id] = label
        return label

    async def update(self, label_id: int, *, name: str, description: str, query: str, platform: str,
                     at: dt.datetime) -> Label:
        t = self.tables
        old = t.labels.get(label_id)
        if old is None:
            raise NotFound(f"Label with id={label_id} was not found in the datastore")
        if any(label.name == name and label.id != label_id for label in t.labels.values()):
            raise AlreadyExists("a label with this name already exists")
        label = attrs.evolve(old, name=name, description=description, query=query, platform=platform, updated_at=at)
        t.labels[label_id] = label
        if (old.query, old.platform) != (query, platform):
            self._drop_memberships(label_id)
        return label

    async def delete(self, label_id: int) -> bool:
        if self.tables.labels.pop(label_id, None) is None:
            return False
        self._drop_memberships(label_id)
        return True

    async def member_ids(self, label_id: int) -> builtins.list[int]:
        return sorted(host_id for host_id, labels in self.tables.label_membership.items() if label_id in labels)

    async def set_members(self, label_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        t = self.tables
        if label_id not in t.labels:
            raise NotFound(f"Label with id={label_id} was not found in the datastore")
        wanted = set(host_ids)
        for host_id in t.hosts:
            members = t.label_membership.get(host_id, frozenset())
            if host_id in wanted:
                t.label_membership[host_id] = members | {label_id}
            elif label_id in members:
                t.label_membership[host_id] = members - {label_id}

    def _drop_memberships(self, label_id: int) -> None:
        t = self.tables
        for host_id, labels in builtins.list(t.label_membership.items()):
            if label_id in labels:
                t.label_membership[host_id] = labels - {label_id}

    def _next_label_id(self) -> int:
        # The built-in labels take the first ids; like a Postgres sequence, ids are never reused.
        counter = self.store.ids["labels"]
        return next(counter)


def _label_sort_value(label: Label, key: str) -> Any:
    return getattr(label, key)
