"""What is known about hosts, read: listing, details, targeting and search."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection
from typing import Protocol

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
from fleet_core.rules.paging import ListOptions
from fleet_core.rules.targets import TargetSelection


class HostInventoryRepository(Protocol):
    """What is known about hosts, read: the host list and its filters, one host's details
    (collected by detail queries, written through HostRepository.apply_facts), and the hosts a
    target selection or a search picks."""

    async def list(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                   after: str | None = None) -> builtins.list[Host]:
        """Hosts matching every filter, ordered by options.order_key (HOST_ORDER_KEYS) then id,
        paged; ``after`` keeps only hosts whose order-key value sorts after it. ``query`` matches
        hostname, computer_name, uuid, hardware_serial, primary_ip (substring, case-insensitive)
        and, when it looks like an email, the host's device-mapping emails exactly. Status filters
        follow fleet_core.rules.hosts.matches_status at ``now``."""
        ...

    async def count(self, filters: HostFilter, *, now: dt.datetime) -> int:
        """How many hosts list() would return without paging."""
        ...

    async def count_by_label(self, label_ids: Collection[int], *,
                             visible_team_ids: frozenset[int] | None) -> dict[int, int]:
        """For each of ``label_ids``, how many hosts count() finds with
        HostFilter(label_id=..., visible_team_ids=visible_team_ids): one read for many labels."""
        ...

    async def ids(self, filters: HostFilter, *, now: dt.datetime) -> builtins.list[int]:
        """The ids of every host matching the filters, ascending."""
        ...

    async def summary(self, filters: HostFilter, *, platform: str | None, now: dt.datetime) -> HostSummary:
        """Counts by status and platform over the hosts matching the (team/visibility) filters."""
        ...

    async def users(self, host_id: int) -> builtins.list[HostUser]:
        """The host's users, by uid."""
        ...

    async def software(self, host_id: int) -> builtins.list[Software]:
        """The host's software, by name, version, source, each with its generated_cpe and
        vulnerabilities (ordered by CVE id)."""
        ...

    async def software_by_id(self, software_id: int) -> Software | None:
        """One software with its vulnerabilities and hosts_count = the fleet-wide count of the
        last SoftwareRepository.refresh_host_counts (0 before it), or None."""
        ...

    async def device_mapping(self, host_id: int) -> builtins.list[DeviceMapping]:
        """The host's emails with their sources, by email."""
        ...

    async def mdm(self, host_id: int) -> MDMInfo | None:
        """The host's MDM enrollment, or None if never reported."""
        ...

    async def munki(self, host_id: int) -> MunkiInfo | None:
        """The host's Munki state, or None if never reported."""
        ...

    async def batteries(self, host_id: int) -> builtins.list[Battery]:
        """The host's batteries."""
        ...

    async def labels(self, host_id: int) -> builtins.list[Label]:
        """The labels the host is a member of, by id."""
        ...

    async def target_host_ids(self, selection: TargetSelection, *,
                              visible_team_ids: frozenset[int] | None) -> builtins.list[int]:
        """The ids of the hosts the selection picks, ascending: fleet_core.rules.targets.resolve_targets
        over every stored host (its team and label memberships), with the labels whose label_type is
        "builtin" as the built-in ones (the one named "All Hosts" selecting every host) and every
        other stored label as custom. ``visible_team_ids`` as in HostFilter."""
        ...

    async def target_status_counts(self, selection: TargetSelection, *, visible_team_ids: frozenset[int] | None,
                                   now: dt.datetime) -> HostStatusCounts:
        """How many hosts target_host_ids() picks, and how many of them are online and missing at
        ``now`` (fleet_core.rules.hosts), counted where they are stored."""
        ...

    async def search(self, text: str, *, excluded_ids: frozenset[int], limit: int,
                     visible_team_ids: frozenset[int] | None) -> builtins.list[Host]:
        """Up to ``limit`` hosts (team_name filled) outside ``excluded_ids`` and visible as in
        HostFilter, whose hostname, computer_name, uuid, hardware_serial or primary_ip contains
        ``text`` (case-insensitive), by id; an empty text matches every host, most recently seen
        first (then by id)."""
        ...
