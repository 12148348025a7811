"""In-memory LabelRepository (labels and their memberships live in the host tables)."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fleet_adapters.memory.hosts.tables import HostTablesRepo
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound
from fleet_core.model.hosts import Label
from fleet_core.rules.ordering import LABEL_ORDER_KEYS
from fleet_core.rules.paging import ListOptions, paginate


@attrs.define
class InMemoryLabelRepository(HostTablesRepo):
    async def builtin(self) -> builtins.list[Label]:
        return self.tables.builtin_labels()

    async def get(self, label_id: int) -> Label | None:
        return self.tables.labels.get(label_id)

    async def dynamic(self) -> builtins.list[Label]:
        return [label for _, label in sorted(self.tables.labels.items())
                if label.label_membership_type == "dynamic"]

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime) -> None:
        t = self.tables
        if host_id not in t.hosts:
            return
        members = set(t.label_membership.get(host_id, ()))
        for label_id, result in results.items():
            if result is True and label_id in t.labels:
                members.add(label_id)
            else:
                members.discard(label_id)
        t.label_membership[host_id] = frozenset(members)


    async def get_by_name(self, name: str) -> Label | None:
        return next((label for label in self.tables.labels.values() if label.name == name), None)

    async def list(self, options: ListOptions) -> builtins.list[Label]:
        if options.order_key is not None and options.order_key not in LABEL_ORDER_KEYS:
            raise InvalidArgument(("order_key", f"must be one of {', '.join(sorted(LABEL_ORDER_KEYS))}"))
        return paginate(self.tables.labels.values(), options, _label_sort_value, tie_breaker=lambda label: label.id,
                        matches=lambda label, q: q in label.name.lower())

    async def add(self, *, name: str, description: str, query: str, platform: str, membership_type: str,
                  at: dt.datetime) -> Label:
        t = self.tables
        if any(label.name == name for label in t.labels.values()):
            raise AlreadyExists("a label with this name already exists")
        label = Label(id=self._next_label_id(), name=name, description=description, query=query, platform=platform,
                      label_type="regular", label_membership_type=membership_type, created_at=at, updated_at=at)
        t.labels[label.id] = label
        return label

    async def update(self, label_id: int, *, name: str, description: str, query: str, platform: str,
                     at: dt.datetime) -> Label:
        t = self.tables
        old = t.labels.get(label_id)
        if old is None:
            raise NotFound(f"Label with id={label_id} was not found in the datastore")
        if any(label.name == name and label.id != label_id for label in t.labels.values()):
            raise AlreadyExists("a label with this name already exists")
        label = attrs.evolve(old, name=name, description=description, query=query, platform=platform, updated_at=at)
        t.labels[label_id] = label
        if (old.query, old.platform) != (query, platform):
            self._drop_memberships(label_id)
        return label

    async def delete(self, label_id: int) -> bool:
        if self.tables.labels.pop(label_id, None) is None:
            return False
        self._drop_memberships(label_id)
        return True

    async def member_ids(self, label_id: int) -> builtins.list[int]:
        return sorted(host_id for host_id, labels in self.tables.label_membership.items() if label_id in labels)

    async def set_members(self, label_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        t = self.tables
        if label_id not in t.labels:
            raise NotFound(f"Label with id={label_id} was not found in the datastore")
        wanted = set(host_ids)
        for host_id in t.hosts:
            members = t.label_membership.get(host_id, frozenset())
            if host_id in wanted:
                t.label_membership[host_id] = members | {label_id}
            elif label_id in members:
                t.label_membership[host_id] = members - {label_id}

    def _drop_memberships(self, label_id: int) -> None:
        t = self.tables
        for host_id, labels in builtins.list(t.label_membership.items()):
            if label_id in labels:
                t.label_membership[host_id] = labels - {label_id}

    def _next_label_id(self) -> int:
        # The built-in labels take the first ids; like a Postgres sequence, ids are never reused.
        counter = self.store.ids["labels"]
        return next(counter)


def _label_sort_value(label: Label, key: str) -> Any:
    return getattr(label, key)
