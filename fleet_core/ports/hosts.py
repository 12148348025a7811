"""Hosts: identity, enrollment and check-in."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from fleet_core.model.enrollment import Enrollment
from fleet_core.model.hosts import (
    Host,
    HostFacts,
)


class HostRepository(Protocol):
    """Hosts: their identity, enrollment, check-ins, and the facts detail queries collect about them
    (read back through HostInventoryRepository).

    Timestamps passed in are stored as given. ``seen_time`` of a host is the latest of its
    enrollment and every mark_seen; it never moves backwards.
    """

    async def enroll(self, *, osquery_host_id: str, node_key_hash: str, team_id: int | None,
                     at: dt.datetime, fields: Mapping[str, Any]) -> Enrollment:
        """Insert a host (created), or re-enroll the one with this osquery_host_id.

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

    async def seen_before(self, cutoff: dt.datetime) -> builtins.list[int]:
        """Ids of hosts whose seen_time is earlier than the cutoff (for host expiry)."""
        ...
