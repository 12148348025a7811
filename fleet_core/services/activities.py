"""The activity feed: recording what users do, and listing it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.model.activities import Activity, NewActivity
from fleet_core.model.users import User
from fleet_core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions


async def record_activity(
    uow: UnitOfWork,
    actor: User | None,
    type_: str,
    details: Mapping[str, Any] | None,
    at: dt.datetime,
) -> Activity:
    """Append an activity inside the caller's unit of work, so it commits with the change."""
    return await uow.activities.add(
        NewActivity(
            actor_id=actor.id if actor else None,
            actor_full_name=actor.name if actor else "",
            actor_email=actor.email if actor else "",
            actor_gravatar=actor.gravatar_url if actor else "",
            type=type_,
            details=dict(details) if details is not None else None,
        ),
        at,
    )


def user_details(user: User) -> dict[str, Any]:
    return {"user_id": user.id, "user_name": user.name, "user_email": user.email}


@attrs.frozen
class ActivityService:
    uow: UnitOfWorkFactory
    clock: Clock

    async def list(self, viewer: Viewer, options: ListOptions) -> list[Activity]:
        authorize(viewer, Action.READ_ACTIVITIES)
        async with self.uow() as uow:
            return await uow.activities.list(options)
