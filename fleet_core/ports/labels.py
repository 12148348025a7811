"""Labels and their memberships."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol

from fleet_core.model.hosts import Label
from fleet_core.rules.paging import ListOptions


class LabelRepository(Protocol):
    async def builtin(self) -> builtins.list[Label]:
        """The built-in labels, by id."""
        ...

    async def get(self, label_id: int) -> Label | None:
        """The label with this id, or None."""
        ...

    async def dynamic(self) -> builtins.list[Label]:
        """Every dynamic label (built-in and custom; manual labels are never sent to agents), by id."""
        ...

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime) -> None:
        """Apply a host's label query results: True makes it a member (updated_at = at); False or
        None (the query failed) removes the membership. Unknown labels and hosts are ignored."""
        ...

    async def get_by_name(self, name: str) -> Label | None:
        """The label with exactly this name, or None."""
        ...

    async def list(self, options: ListOptions) -> builtins.list[Label]:
        """Labels whose name contains ``options.query`` (case-insensitive), ordered by
        options.order_key (LABEL_ORDER_KEYS) then id, paged."""
        ...

    async def add(self, *, name: str, description: str, query: str, platform: str, membership_type: str,
                  at: dt.datetime) -> Label:
        """Insert a regular label ("dynamic" or "manual"). AlreadyExists if the name is taken."""
        ...

    async def update(self, label_id: int, *, name: str, description: str, query: str, platform: str,
                     at: dt.datetime) -> Label:
        """Change a label (updated_at = at). A changed query or platform ends every membership of
        the label, so hosts are re-evaluated rather than keeping stale results. NotFound if the
        label does not exist, AlreadyExists if another label has the name."""
        ...

    async def delete(self, label_id: int) -> bool:
        """Delete the label and its memberships; False if it did not exist."""
        ...

    async def member_ids(self, label_id: int) -> builtins.list[int]:
        """The ids of the label's member hosts, ascending."""
        ...

    async def set_members(self, label_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        """Make exactly these hosts the label's members (for manual labels); unknown hosts are
        ignored. NotFound if the label does not exist."""
        ...
