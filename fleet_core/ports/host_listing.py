"""The read model behind a page of hosts."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Protocol

from fleet_core.model.hosts import HostFilter, ListedHost
from fleet_core.rules.paging import ListOptions


class HostListing(Protocol):
    """The read model behind a page of hosts (the hosts list, a label's hosts, the CSV report)."""

    async def page(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime, after: str | None = None,
                   device_mapping: bool = False, failing_policies: bool = False) -> builtins.list[ListedHost]:
        """The hosts HostInventoryRepository.list(filters, options, now=now, after=after) returns,
        in its order and with its errors, each with what its row shows: its device mapping
        (ordered by email then source) when ``device_mapping``, else None; how many policies it
        fails when ``failing_policies``, else 0. A fixed number of statements whatever the page
        size."""
        ...
