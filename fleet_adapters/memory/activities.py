"""In-memory ActivityRepository."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from fleet_core.model.activities import Activity, NewActivity
from fleet_core.rules.paging import ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class InMemoryActivityRepository:
    state: _State
    store: InMemoryStore

    async def add(self, activity: NewActivity, at: dt.datetime) -> Activity:
        created = Activity(id=self.store.next_id("activities"), created_at=at, **attrs.asdict(activity, recurse=False))
        self.state.activities[created.id] = created
        return created

    async def list(self, options: ListOptions) -> list[Activity]:
        return paginate(self.state.activities.values(), options, lambda a, k: getattr(a, k),
                        tie_breaker=lambda a: a.id)
