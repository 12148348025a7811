"""Saved queries."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from fleet_core.model.queries import QueryFields, SavedQuery
from fleet_core.rules.paging import ListOptions


class QueryRepository(Protocol):
    """Saved queries. Names are unique among the global queries and within each team.

    The SQL of an ad-hoc live query is kept as a hidden query (Fleet's unsaved query) so that its
    campaign's query_id names a record: hidden queries share the ids of saved ones but no other
    method sees them (get, get_by_name, list, update and delete act on saved queries only), and
    they take no name from saved ones.
    """

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

    async def add_hidden(self, query: str, *, name: str, author_id: int | None, at: dt.datetime) -> int:
        """Insert a hidden global query with this SQL; its id."""
        ...

    async def delete_unused_hidden(self) -> builtins.list[int]:
        """Delete every hidden query that no unfinished (waiting or running) campaign has as its
        query_id; the ids deleted, ascending."""
        ...
