"""The read model behind a page of hosts."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import AsyncIterator
from typing import Final, Protocol

from fleet_core.model.hosts import HostFilter, ListedHost
from fleet_core.rules.paging import ListOptions

# Hosts per batch of a streamed listing (the CSV report): enough to keep round trips few, small
# enough that a batch's rows are a few hundred KiB whatever the fleet's size.
STREAM_BATCH_SIZE: Final = 1000


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

    def stream(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime, device_mapping: bool = False,
               batch_size: int = STREAM_BATCH_SIZE) -> AsyncIterator[builtins.list[ListedHost]]:
        """The hosts page(filters, options, now=now, device_mapping=device_mapping) returns, in its
        order and with its errors, as consecutive batches of at most ``batch_size`` (none empty),
        read as they are consumed: memory does not grow with the number of hosts. Failing policy
        counts are not read (0)."""
        ...
