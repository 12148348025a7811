"""The fleet-wide software inventory."""

from __future__ import annotations

import builtins
from typing import Protocol

from fleet_core.model.hosts import Software
from fleet_core.model.software import SoftwareFilter
from fleet_core.rules.paging import ListOptions


class SoftwareRepository(Protocol):
    """The software inventory as the fleet sees it (read-only; detail queries write it through
    HostRepository.apply_facts)."""

    async def list(self, filters: SoftwareFilter, options: ListOptions) -> builtins.list[Software]:
        """Software installed on at least one host matching ``filters`` (team, no team, visible
        teams), with hosts_count = how many such hosts have it and last_opened_at None.
        ``filters.query`` matches name or version (substring, case-insensitive); ``vulnerable``
        matches nothing (no vulnerability data). Ordered by ``options.order_key`` (one of
        SOFTWARE_ORDER_KEYS: name compares case-insensitively, the vulnerability keys are NULL
        for every title) NULLS LAST, then id ascending; paged. ``options.query`` is ignored."""
        ...

    async def count(self, filters: SoftwareFilter) -> int:
        """How many titles list() would return without paging."""
        ...
