"""What the in-memory host and label repositories store, and the base they share."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING

import attrs

from fleet_core.model.hosts import (
    NEVER,
    Battery,
    DeviceMapping,
    Host,
    HostUser,
    Label,
    MDMInfo,
    MunkiInfo,
    Software,
)
from fleet_core.rules.host_storage import BUILTIN_LABELS, os_key
from fleet_core.rules.software_inventory import SoftwareIdentity

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


def seed_builtin_labels(at: dt.datetime) -> dict[int, Label]:
    return {
        index: Label(id=index, name=name, description=description, query=query, platform="",
                     label_type="builtin", label_membership_type="dynamic", created_at=at, updated_at=at)
        for index, (name, description, query) in enumerate(BUILTIN_LABELS, start=1)
    }




@attrs.define
class HostTables:
    """Everything the host and label repositories store; values are immutable, so a shallow
    copy of each dict is a full snapshot."""

    hosts: dict[int, Host] = attrs.field(factory=dict)
    by_identifier: dict[str, int] = attrs.field(factory=dict)
    node_keys: dict[str, int] = attrs.field(factory=dict)
    host_node_key: dict[int, str] = attrs.field(factory=dict)
    users: dict[int, tuple[HostUser, ...]] = attrs.field(factory=dict)
    software: dict[SoftwareIdentity, Software] = attrs.field(factory=dict)
    software_by_id: dict[int, Software] = attrs.field(factory=dict)
    host_software: dict[int, tuple[tuple[int, dt.datetime | None], ...]] = attrs.field(factory=dict)
    software_checksums: dict[int, bytes] = attrs.field(factory=dict)  # host id -> digest of its last answer
    emails: dict[int, tuple[DeviceMapping, ...]] = attrs.field(factory=dict)
    mdm: dict[int, tuple[MDMInfo, int | None]] = attrs.field(factory=dict)
    mdm_solutions: dict[tuple[str, str], int] = attrs.field(factory=dict)
    munki: dict[int, MunkiInfo] = attrs.field(factory=dict)
    munki_issues: dict[tuple[str, str], int] = attrs.field(factory=dict)
    batteries: dict[int, tuple[Battery, ...]] = attrs.field(factory=dict)
    operating_systems: dict[tuple[str, str, str], int] = attrs.field(factory=dict)
    # Built-in labels predate every host, as the Postgres migration that seeds them does; a label
    # newer than a host's last label answers is sent to it at once.
    labels: dict[int, Label] = attrs.field(factory=lambda: seed_builtin_labels(NEVER))
    label_membership: dict[int, frozenset[int]] = attrs.field(factory=dict)  # host id -> label ids
    policy_membership: dict[int, tuple[tuple[int, bool | None], ...]] = attrs.field(factory=dict)

    def copy(self) -> HostTables:
        return HostTables(**{f.name: dict(getattr(self, f.name)) for f in attrs.fields(HostTables)})

    def drop_host(self, host_id: int) -> None:
        host = self.hosts.pop(host_id)
        del self.by_identifier[host.osquery_host_id]
        node_key = self.host_node_key.pop(host_id, None)
        if node_key is not None:
            del self.node_keys[node_key]
        for table in (self.users, self.host_software, self.software_checksums, self.emails, self.mdm, self.munki,
                      self.batteries, self.label_membership, self.policy_membership):
            table.pop(host_id, None)

    def munki_issue_ids(self, host_id: int) -> set[int]:
        munki = self.munki.get(host_id)
        if munki is None:
            return set()
        return ({self.munki_issues[(name, "error")] for name in munki.errors}
                | {self.munki_issues[(name, "warning")] for name in munki.warnings})

    def os_id(self, host: Host) -> int | None:
        key = os_key(host.os_version, host.platform)
        return None if key is None else self.operating_systems.get(key)

    def builtin_labels(self) -> builtins.list[Label]:
        return [label for _, label in sorted(self.labels.items()) if label.label_type == "builtin"]


@attrs.define
class HostTablesRepo:
    """A repository over the host tables of one unit of work's state."""

    state: _State
    store: InMemoryStore

    @property
    def tables(self) -> HostTables:
        return self.state.host_tables

    def fresh(self, host: Host) -> Host:
        """The host as read: team names live with the team; a deleted team leaves the host without one."""
        team = self.state.teams.get(host.team_id) if host.team_id is not None else None
        return attrs.evolve(host, team_id=None if team is None else team.id,
                            team_name=None if team is None else team.name)
