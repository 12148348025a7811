"""GET /: the dashboard -- hosts by status and platform, failing policies, recently seen hosts
and recent activity, for all the viewer's teams or the one picked in the team switcher."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from fleet_core.authz import Action, Viewer
from fleet_core.errors import PermissionDenied
from fleet_core.model.hosts import HostFilter
from fleet_core.rules.hosts import host_status
from fleet_core.rules.paging import Direction, ListOptions
from fleet_core.services.activities import ActivityService
from fleet_core.services.hosts import HostService
from fleet_core.services.policies import PolicyService
from fleet_core.services.teams import TeamService
from fleet_http.console.pages import available_teams, can, render, selected_team_id

RECENT_ITEMS: Final = 10


class DashboardController(Controller):
    path = "/"

    @get("")
    async def dashboard(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                        hosts: NamedDependency[HostService], policies: NamedDependency[PolicyService],
                        activities: NamedDependency[ActivityService],
                        teams: NamedDependency[TeamService]) -> Response[Any]:
        choices = await available_teams(viewer, teams)
        team_id = selected_team_id(request, choices)
        summary = await hosts.summary(viewer, team_id=team_id, platform=None)
        recent = await hosts.list_page(viewer, HostFilter(team_id=team_id),
                                       ListOptions(per_page=RECENT_ITEMS, order_key="seen_time",
                                                   order_direction=Direction.DESC),
                                       failing_policies=False)
        try:
            policy_list = await policies.list(viewer, team_id=team_id)
        except PermissionDenied:
            policy_list = []
        failing = sorted((p for p in policy_list if p.failing_host_count), key=lambda p: -p.failing_host_count)
        activity = []
        if can(viewer, Action.READ_ACTIVITIES):
            activity = await activities.list(viewer, ListOptions(per_page=RECENT_ITEMS, order_key="created_at",
                                                                 order_direction=Direction.DESC))
        return render(request, "dashboard.html", {
            "summary": summary,
            "statuses": [("Online", summary.online_count, "online"), ("Offline", summary.offline_count, "offline"),
                         ("New", summary.new_count, "new"), ("Missing", summary.mia_count, "missing")],
            "recent_hosts": [(row.host, host_status(row.host.seen_time, row.host.distributed_interval,
                                                    row.host.config_tls_refresh, recent.as_of).value)
                             for row in recent.hosts],
            "failing_policies": failing[:RECENT_ITEMS],
            "activities": activity,
        }, viewer=viewer, teams=choices, team_id=team_id)
