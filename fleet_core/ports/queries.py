"""Saved queries."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from fleet_core.model.queries import QueryFields, SavedQuery
from fleet_core.rules.paging import ListOptions


class QueryRepository(Protocol):
    """Saved queries. Names are unique among the global queries and within each team."""

    async def get(self, query_id: int) -> SavedQuery | None:
        """The query with this id (author name and email from the author's user record), or None."""
        ...

    async def get_by_name(self, name: str, *, team_id: int | None) -> SavedQuery | None:
        """The query with exactly this name among the team's queries (team_id None: the global
        ones), or None."""
        ...

    async def list(self, options: ListOptions, *, team_id: int | None) -> builtins.list[SavedQuery]:
        """The team's queries (team_id None: the global ones) whose name contains
        ``options.query`` (case-insensitive), ordered by options.order_key (QUERY_ORDER_KEYS)
        then id, paged."""
        ...

    async def add(self, fields: QueryFields, *, team_id: int | None, author_id: int | None,
                  at: dt.datetime) -> SavedQuery:
        """Insert a query (created_at = updated_at = at). AlreadyExists if the name is taken in
        its scope, NotFound if the team does not exist."""
        ...

    async def update(self, query_id: int, fields: QueryFields, at: dt.datetime) -> SavedQuery:
        """Replace the query's fields (updated_at = at). NotFound if it does not exist,
        AlreadyExists if another query of its scope has the name."""
        ...

    async def delete(self, query_id: int) -> bool:
        """Delete the query; False if it did not exist."""
        ...

    async def delete_many(self, query_ids: Sequence[int]) -> builtins.list[int]:
        """Delete these queries; the ids that existed, ascending."""
        ...
