"""The activity feed: who did what and when, newest first, with paging. The table is the partial
templates/activity/_feed.html, which the dashboard can include too."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from fleet_core.authz import Viewer
from fleet_core.rules.paging import Direction, ListOptions
from fleet_core.services.activities import ActivityService
from fleet_core.services.config import ConfigService
from fleet_http.console.pages import page_info, paging, render


class ActivityController(Controller):
    path = "/activity"

    @get("")
    async def activity_feed(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                            activities: NamedDependency[ActivityService],
                            config: NamedDependency[ConfigService]) -> Response[Any]:
        options = paging(request)
        # Newest first by id: activities recorded within one clock tick keep their order.
        items = await activities.list(viewer, ListOptions(page=options.page, per_page=options.per_page,
                                                          order_key="id", order_direction=Direction.DESC))
        return render(request, "activity/list.html", {
            "activities": items, "page": page_info(request, options, len(items)),
        }, viewer=viewer)
