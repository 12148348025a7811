"""In-memory SoftwareRepository: the same listing the Postgres adapter computes with one GROUP BY."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import attrs

from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import Host, Software
from fleet_core.model.software import SoftwareFilter
from fleet_core.rules.ordering import SOFTWARE_ORDER_KEYS
from fleet_core.rules.paging import ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import _State


def _host_matches(host: Host, f: SoftwareFilter) -> bool:
    if f.visible_team_ids is not None and host.team_id not in f.visible_team_ids:
        return False
    if f.team_id is not None and host.team_id != f.team_id:
        return False
    return not (f.no_team and host.team_id is not None)


def _order_value(software: Software, key: str) -> Any:
    # No vulnerability data: cvss_score, epss_probability and cisa_known_exploit are NULL.
    return getattr(software, key) if key in ("name", "hosts_count") else None


@attrs.define
class InMemorySoftwareRepository:
    state: _State

    def _matching(self, f: SoftwareFilter) -> builtins.list[Software]:
        if f.vulnerable:
            return []
        t = self.state.host_tables
        counts: dict[int, int] = {}
        for host_id, installed in t.host_software.items():
            host = t.hosts.get(host_id)
            if host is None or not _host_matches(host, f):
                continue
            for software_id, _ in installed:
                counts[software_id] = counts.get(software_id, 0) + 1
        needle = f.query.lower()
        found = []
        for software_id, count in counts.items():
            software = t.software_by_id[software_id]
            if needle and needle not in software.name.lower() and needle not in software.version.lower():
                continue
            found.append(attrs.evolve(software, last_opened_at=None, hosts_count=count))
        return found

    async def list(self, filters: SoftwareFilter, options: ListOptions) -> builtins.list[Software]:
        if options.order_key is not None and options.order_key not in SOFTWARE_ORDER_KEYS:
            raise InvalidArgument(("order_key", f"must be one of {', '.join(sorted(SOFTWARE_ORDER_KEYS))}"))
        return paginate(self._matching(filters), attrs.evolve(options, query=""), _order_value,
                        tie_breaker=lambda s: s.id)

    async def count(self, filters: SoftwareFilter) -> int:
        return len(self._matching(filters))
