"""In-memory QueryRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound
from fleet_core.model.campaigns import CampaignStatus
from fleet_core.model.queries import QueryFields, SavedQuery
from fleet_core.rules.ordering import QUERY_ORDER_KEYS
from fleet_core.rules.paging import ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State

NAME_TAKEN = "a query with this name already exists"


@attrs.define
class InMemoryQueryRepository:
    state: _State
    store: InMemoryStore

    async def get(self, query_id: int) -> SavedQuery | None:
        return self._with_author(self.state.queries.get(query_id))

    async def get_by_name(self, name: str, *, team_id: int | None) -> SavedQuery | None:
        found = next((q for q in self.state.queries.values() if q.name == name and q.team_id == team_id), None)
        return self._with_author(found)

    async def list(self, options: ListOptions, *, team_id: int | None) -> builtins.list[SavedQuery]:
        if options.order_key is not None and options.order_key not in QUERY_ORDER_KEYS:
            raise InvalidArgument(("order_key", f"must be one of {', '.join(sorted(QUERY_ORDER_KEYS))}"))
        scoped = [q for q in self.state.queries.values() if q.team_id == team_id]
        page = paginate(scoped, options, _sort_value, tie_breaker=lambda q: q.id,
                        matches=lambda q, text: text in q.name.lower())
        return [self._author(q) for q in page]

    async def add(self, fields: QueryFields, *, team_id: int | None, author_id: int | None,
                  at: dt.datetime) -> SavedQuery:
        if team_id is not None and team_id not in self.state.teams:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        if self._taken(fields.name, team_id):
            raise AlreadyExists(NAME_TAKEN)
        saved = SavedQuery(id=self.store.next_id("queries"), team_id=team_id, author_id=author_id, created_at=at,
                           updated_at=at, **attrs.asdict(fields))
        self.state.queries[saved.id] = saved
        return self._author(saved)

    async def update(self, query_id: int, fields: QueryFields, at: dt.datetime) -> SavedQuery:
        old = self.state.queries.get(query_id)
        if old is None:
            raise NotFound(f"Query with id={query_id} was not found in the datastore")
        if self._taken(fields.name, old.team_id, except_id=query_id):
            raise AlreadyExists(NAME_TAKEN)
        saved = attrs.evolve(old, updated_at=at, **attrs.asdict(fields))
        self.state.queries[query_id] = saved
        return self._author(saved)

    async def delete(self, query_id: int) -> bool:
        return bool(await self.delete_many([query_id]))

    async def delete_many(self, query_ids: Sequence[int]) -> builtins.list[int]:
        deleted = sorted(i for i in set(query_ids) if self.state.queries.pop(i, None) is not None)
        # What the foreign key does in Postgres: the query leaves every pack that schedules it.
        gone = set(deleted)
        for entry_id, entry in list(self.state.scheduled_queries.items()):
            if entry.query_id in gone:
                del self.state.scheduled_queries[entry_id]
        return deleted

    async def add_hidden(self, query: str, *, name: str, author_id: int | None, at: dt.datetime) -> int:
        hidden = SavedQuery(id=self.store.next_id("queries"), name=name, query=query, author_id=author_id,
                            created_at=at, updated_at=at)
        self.state.hidden_queries[hidden.id] = hidden
        return hidden.id

    async def delete_unused_hidden(self) -> builtins.list[int]:
        in_use = {c.query_id for c in self.state.campaigns.values() if c.status is not CampaignStatus.COMPLETED}
        unused = sorted(i for i in self.state.hidden_queries if i not in in_use)
        for query_id in unused:
            del self.state.hidden_queries[query_id]
        return unused

    def _taken(self, name: str, team_id: int | None, except_id: int | None = None) -> bool:
        return any(q.name == name and q.team_id == team_id and q.id != except_id
                   for q in self.state.queries.values())

    def _with_author(self, saved: SavedQuery | None) -> SavedQuery | None:
        return None if saved is None else self._author(saved)

    def _author(self, saved: SavedQuery) -> SavedQuery:
        # Joined at read time, as the Postgres adapter does, so renames show up.
        author = self.state.users.get(saved.author_id) if saved.author_id is not None else None
        if author is None:
            return attrs.evolve(saved, author_name="", author_email="")
        return attrs.evolve(saved, author_name=author.name, author_email=author.email)


def _sort_value(saved: SavedQuery, key: str) -> Any:
    return getattr(saved, key)
