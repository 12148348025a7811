"""Hosts: identity, enrollment and check-in."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from fleet_core.model.hosts import (
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
)
from fleet_core.rules.paging import ListOptions
from fleet_core.rules.targets import TargetSelection


class HostRepository(Protocol):
    """Hosts and the data detail queries collect about them.

    Timestamps passed in are stored as given. ``seen_time`` of a host is the latest of its
    enrollment and every mark_seen; it never moves backwards.
    """

    async def enroll(self, *, osquery_host_id: str, node_key_hash: str, team_id: int | None,
                     at: dt.datetime, fields: Mapping[str, Any]) -> tuple[Host, bool]:
        """Insert a host, or re-enroll the one with this osquery_host_id; returns (host, created).

        New: created_at = last_enrolled_at = seen_time = at, detail/label/policy_updated_at =
        NEVER, refetch_requested = True. Existing: same row and id; node key, team_id,
        last_enrolled_at and seen_time replaced, policy results dropped. Both: ``fields`` (a subset
        of HOST_VITAL_FIELDS) applied, and the host is a member of the built-in "All Hosts" label.
        """
        ...

    async def get(self, host_id: int) -> Host | None:
        """The host with this id (team_name filled), or None."""
        ...

    async def get_by_node_key(self, node_key_hash: str) -> Host | None:
        """The host whose node key hashes to this value, or None."""
        ...

    async def get_by_osquery_host_id(self, osquery_host_id: str) -> Host | None:
        """The host enrolled under this identifier, or None."""
        ...

    async def find_by_identifier(self, identifier: str, *, node_key_hash: str) -> Host | None:
        """The host whose uuid, osquery_host_id, hostname, hardware_serial or node key (given as
        its hash) equals the identifier; the lowest id wins if several match; None if none."""
        ...

    async def apply_facts(self, host_id: int, facts: HostFacts, *, at: dt.datetime, details_updated: bool = False,
                          labels_updated: bool = False, policies_updated: bool = False,
                          clear_refetch: bool = False) -> None:
        """Store what detail queries found: ``facts.fields`` on the host row, and each list that
        is not None replaces the host's list of that kind (software by name+version+source,
        creating software rows as needed). The flags set the matching *_updated_at to ``at`` and
        clear refetch_requested. A missing host is ignored."""
        ...

    async def mark_seen(self, seen: Mapping[int, dt.datetime]) -> None:
        """Record check-ins for many hosts in one statement; unknown ids are ignored and a time
        earlier than the stored one changes nothing."""
        ...

    async def request_refetch(self, host_ids: Sequence[int]) -> int:
        """Set refetch_requested on these hosts; returns how many exist."""
        ...

    async def transfer(self, host_ids: Sequence[int], team_id: int | None) -> builtins.list[int]:
        """Move hosts to a team (None: no team), dropping their policy results; returns the ids
        that exist. NotFound if the team does not exist."""
        ...

    async def delete(self, host_ids: Sequence[int]) -> builtins.list[int]:
        """Delete hosts with everything collected about them; returns the ids that existed."""
        ...

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
        """The host's software, by name, version, source."""
        ...

    async def software_by_id(self, software_id: int) -> Software | None:
        """One software title+version with the number of hosts that have it, or None."""
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

    async def os_versions(self, filters: HostFilter) -> builtins.list[OSVersion]:
        """Distinct (name, version, platform) over matching hosts with host counts; os_id stable."""
        ...

    async def mdm_solutions(self, filters: HostFilter) -> builtins.list[tuple[int, str, str, int]]:
        """(mdm_id, name, server_url, hosts_count) over matching enrolled hosts."""
        ...

    async def mdm_status_counts(self, filters: HostFilter) -> dict[str, int]:
        """Counts of matching hosts by "enrolled_manual_hosts_count", "enrolled_automated_hosts_count",
        "unenrolled_hosts_count" and "hosts_count"."""
        ...

    async def munki_versions(self, filters: HostFilter) -> builtins.list[tuple[str, int]]:
        """(version, hosts_count) over matching hosts that report Munki."""
        ...

    async def munki_issues(self, filters: HostFilter) -> builtins.list[tuple[int, str, str, int]]:
        """(issue id, name, "error"/"warning", hosts_count) over matching hosts."""
        ...

    async def seen_before(self, cutoff: dt.datetime) -> builtins.list[int]:
        """Ids of hosts whose seen_time is earlier than the cutoff (for host expiry)."""
        ...

    async def target_host_ids(self, selection: TargetSelection, *,
                              visible_team_ids: frozenset[int] | None) -> builtins.list[int]:
        """The ids of the hosts the selection picks, ascending: fleet_core.rules.targets.resolve_targets
        over every stored host (its team and label memberships), with the labels whose label_type is
        "builtin" as the built-in ones (the one named "All Hosts" selecting every host) and every
        other stored label as custom. ``visible_team_ids`` as in HostFilter."""
        ...

    async def search(self, text: str, *, excluded_ids: frozenset[int], limit: int,
                     visible_team_ids: frozenset[int] | None) -> builtins.list[Host]:
        """Up to ``limit`` hosts (team_name filled) outside ``excluded_ids`` and visible as in
        HostFilter, whose hostname, computer_name, uuid, hardware_serial or primary_ip contains
        ``text`` (case-insensitive), by id; an empty text matches every host, most recently seen
        first (then by id)."""
        ...
