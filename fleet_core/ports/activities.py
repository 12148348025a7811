"""The activity feed."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from fleet_core.model.activities import Activity, NewActivity
from fleet_core.rules.paging import ListOptions


class ActivityRepository(Protocol):
    async def add(self, activity: NewActivity, at: dt.datetime) -> Activity:
        """Append an activity."""
        ...

    async def list(self, options: ListOptions) -> list[Activity]:
        """Activities ordered (ACTIVITY_ORDER_KEYS) then by id, paged."""
        ...
