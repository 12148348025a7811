"""In-memory HostRepository: enrollment, identity look-ups, check-ins, and storing what detail
queries found."""

from __future__ import annotations

import builtins
import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fleet_adapters.memory.hosts.tables import HostTablesRepo
from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.enrollment import Enrollment
from fleet_core.model.hosts import NEVER, Host, HostFacts, MDMInfo, Software, SoftwareItem
from fleet_core.rules.host_storage import (
    ALL_HOSTS,
    check_fields,
    normalized_munki,
    os_key,
    unique_mappings,
    unique_users,
)
from fleet_core.rules.software_inventory import distinct_software, software_checksum, software_identity


@attrs.define
class InMemoryHostRepository(HostTablesRepo):
    async def enroll(self, *, osquery_host_id: str, node_key_hash: str, team_id: int | None,
                     at: dt.datetime, fields: Mapping[str, Any]) -> Enrollment:
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
        return Enrollment(host=self.fresh(host), created=existing_id is None)

    async def get(self, host_id: int) -> Host | None:
        host = self.tables.hosts.get(host_id)
        return None if host is None else self.fresh(host)

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
        return self.fresh(min(found, key=lambda h: h.id)) if found else None

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
            self._store_software(host_id, facts.software)
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

    async def seen_before(self, cutoff: dt.datetime) -> builtins.list[int]:
        return sorted(h.id for h in self.tables.hosts.values() if h.seen_time < cutoff)

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

    def _store_software(self, host_id: int, reported: Sequence[SoftwareItem]) -> None:
        """The Postgres twin's diff: an unchanged answer (same digest) changes nothing."""
        t = self.tables
        # In the order the Postgres twin creates new rows (by identity), so ids match it.
        items = sorted(distinct_software(reported), key=software_identity)
        checksum = software_checksum(items)
        if t.software_checksums.get(host_id) == checksum:
            return
        links: dict[int, dt.datetime | None] = {}
        for item in items:
            key = software_identity(item)
            software = t.software.get(key)
            if software is None:
                software = Software(id=self.store.next_id("software"), name=item.name, version=item.version,
                                    source=item.source, bundle_identifier=item.bundle_identifier,
                                    vendor=item.vendor, arch=item.arch, release=item.release,
                                    extension_id=item.extension_id, browser=item.browser)
                t.software[key] = software
                t.software_by_id[software.id] = software
            links[software.id] = item.last_opened_at
        t.host_software[host_id] = tuple(sorted(links.items()))
        t.software_checksums[host_id] = checksum


def _copied(fields: Mapping[str, Any]) -> dict[str, Any]:
    # `additional` is a plain mapping the caller still holds; stored hosts must not change with it.
    return {k: copy.deepcopy(v) if k == "additional" else v for k, v in fields.items()}

