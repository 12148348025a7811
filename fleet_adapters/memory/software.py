"""In-memory SoftwareRepository, the twin of postgres/software.py: listing reads the counts that
refresh_host_counts() stored, never the hosts' software."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs

from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import Software
from fleet_core.model.software import SoftwareFilter
from fleet_core.model.vulnerabilities import CVEMeta, SoftwareVulnerability
from fleet_core.model.vulnerability_job import VulnerabilityJobState
from fleet_core.rules.ordering import SOFTWARE_ORDER_KEYS
from fleet_core.rules.paging import ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import _State

# (software id, team id or 0, fleet-wide?) as the Postgres table's key.
CountKey = tuple[int, int, bool]


@attrs.frozen
class StoredCVE:
    resolved_in_version: str | None
    created_at: dt.datetime


@attrs.define
class SoftwareTables:
    """software_host_counts, software_cve, cve_meta and software_jobs_state; values are immutable."""

    host_counts: dict[CountKey, int] = attrs.field(factory=dict)
    counts_updated_at: dt.datetime | None = None
    software_cve: dict[tuple[int, str], StoredCVE] = attrs.field(factory=dict)
    cve_meta: dict[str, CVEMeta] = attrs.field(factory=dict)
    job_state: VulnerabilityJobState = attrs.field(factory=VulnerabilityJobState)

    def copy(self) -> SoftwareTables:
        return attrs.evolve(self, host_counts=dict(self.host_counts), software_cve=dict(self.software_cve),
                            cve_meta=dict(self.cve_meta))


def vulnerabilities_of(tables: SoftwareTables, software_id: int) -> tuple[SoftwareVulnerability, ...]:
    """The CVEs found on the software, ordered by CVE id (as the Postgres adapter reads them)."""
    found = []
    for (owner, cve), stored in tables.software_cve.items():
        if owner != software_id:
            continue
        meta = tables.cve_meta.get(cve, CVEMeta(cve=cve))
        found.append(SoftwareVulnerability(
            cve=cve, cvss_score=meta.cvss_score, epss_probability=meta.epss_probability,
            cisa_known_exploit=meta.cisa_known_exploit, cve_published=meta.published,
            resolved_in_version=stored.resolved_in_version, created_at=stored.created_at))
    return tuple(sorted(found, key=lambda v: v.cve))


def _in_scope(key: CountKey, f: SoftwareFilter) -> bool:
    _, team_id, fleet_wide = key
    if f.team_id is not None:
        return not fleet_wide and team_id == f.team_id and (f.visible_team_ids is None
                                                            or f.team_id in f.visible_team_ids)
    if f.no_team:
        return not fleet_wide and team_id == 0 and f.visible_team_ids is None
    if f.visible_team_ids is not None:
        return not fleet_wide and team_id in f.visible_team_ids
    return fleet_wide


def _order_value(software: Software, key: str) -> Any:
    if key in ("name", "hosts_count"):
        return getattr(software, key)
    values = [getattr(v, key) for v in software.vulnerabilities if getattr(v, key) is not None]
    if not values:
        return None
    return any(values) if key == "cisa_known_exploit" else max(values)


@attrs.define
class InMemorySoftwareRepository:
    state: _State

    def _matching(self, f: SoftwareFilter) -> builtins.list[Software]:
        tables = self.state.software
        counts: dict[int, int] = {}
        for key, count in tables.host_counts.items():
            if _in_scope(key, f):
                counts[key[0]] = counts.get(key[0], 0) + count
        needle = f.query.lower()
        found = []
        for software_id, count in counts.items():
            if count <= 0:
                continue
            software = self.state.host_tables.software_by_id[software_id]
            vulnerabilities = vulnerabilities_of(tables, software_id)
            if needle and needle not in software.name.lower() and needle not in software.version.lower() \
                    and not any(needle in v.cve.lower() for v in vulnerabilities):
                continue
            if f.vulnerable and not vulnerabilities:
                continue
            found.append(attrs.evolve(software, last_opened_at=None, hosts_count=count,
                                      vulnerabilities=vulnerabilities))
        return found

    async def list(self, filters: SoftwareFilter, options: ListOptions) -> builtins.list[Software]:
        if options.order_key is not None and options.order_key not in SOFTWARE_ORDER_KEYS:
            raise InvalidArgument(("order_key", f"must be one of {', '.join(sorted(SOFTWARE_ORDER_KEYS))}"))
        return paginate(self._matching(filters), attrs.evolve(options, query=""), _order_value,
                        tie_breaker=lambda s: s.id)

    async def count(self, filters: SoftwareFilter) -> int:
        return len(self._matching(filters))

    async def refresh_host_counts(self, at: dt.datetime) -> None:
        t = self.state.host_tables
        counts: dict[CountKey, int] = {}
        for host_id, installed in t.host_software.items():
            host = t.hosts.get(host_id)
            if host is None:
                continue
            for software_id, _ in installed:
                for key in ((software_id, host.team_id or 0, False), (software_id, 0, True)):
                    counts[key] = counts.get(key, 0) + 1
        self.state.software.host_counts = counts
        self.state.software.counts_updated_at = at

    async def counts_updated_at(self) -> dt.datetime | None:
        return self.state.software.counts_updated_at
