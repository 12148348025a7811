"""The fleet-wide software inventory."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Protocol

from fleet_core.model.hosts import Software
from fleet_core.model.software import SoftwareFilter
from fleet_core.rules.paging import ListOptions


class SoftwareRepository(Protocol):
    """The software inventory as the fleet sees it (detail queries write the host links through
    HostRepository.apply_facts; the counts are refreshed by refresh_host_counts)."""

    async def list(self, filters: SoftwareFilter, options: ListOptions) -> builtins.list[Software]:
        """Software counted on at least one host matching ``filters`` (team, no team, visible
        teams) as of the last refresh_host_counts, with hosts_count = that count and
        last_opened_at None; a title reported since is not listed until the next refresh.
        ``filters.query`` matches name, version or the id of a CVE found on it (substring,
        case-insensitive); ``vulnerable`` keeps titles with at least one CVE. Each title carries
        its vulnerabilities (ordered by CVE id) and generated_cpe. Ordered by
        ``options.order_key`` (one of SOFTWARE_ORDER_KEYS: name compares case-insensitively;
        cvss_score and epss_probability are the highest of the title's CVEs,
        cisa_known_exploit whether any is known exploited, NULL without CVEs or data) NULLS
        LAST, then id ascending; paged. ``options.query`` is ignored."""
        ...

    async def count(self, filters: SoftwareFilter) -> int:
        """How many titles list() would return without paging."""
        ...

    async def refresh_host_counts(self, at: dt.datetime) -> None:
        """Recount the hosts of every software, fleet-wide, per team and in no team, from the
        hosts' software now, and record ``at`` as counts_updated_at."""
        ...

    async def counts_updated_at(self) -> dt.datetime | None:
        """When refresh_host_counts last ran (None: never)."""
        ...
