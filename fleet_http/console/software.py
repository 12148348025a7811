"""Software: the inventory with host counts (search, vulnerable only, per team, paged) and each
title's CVEs with their CVSS and EPSS scores, the CISA known-exploited flag and a link to NVD."""

from __future__ import annotations

from typing import Any

import attrs
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from fleet_core.authz import Viewer
from fleet_core.model.software import SoftwareFilter
from fleet_core.rules.paging import Direction
from fleet_core.services.software import SoftwareService
from fleet_core.services.teams import TeamService
from fleet_http.console.pages import available_teams, page_info, paging, render, selected_team_id
from fleet_http.console.scopes import checked


class SoftwarePagesController(Controller):
    path = "/software"

    @get("")
    async def software_list(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                            software: NamedDependency[SoftwareService],
                            teams: NamedDependency[TeamService]) -> Response[Any]:
        choices = await available_teams(viewer, teams)
        team_id = selected_team_id(request, choices)
        vulnerable = checked(request.query_params.get("vulnerable"))
        options = attrs.evolve(paging(request), order_key="hosts_count", order_direction=Direction.DESC)
        filters = SoftwareFilter(team_id=team_id, query=options.query, vulnerable=vulnerable)
        result = await software.list(viewer, filters, options)
        total = await software.count(viewer, filters)
        return render(request, "software/list.html", {
            "software": result.software, "counts_updated_at": result.counts_updated_at,
            "query": options.query, "vulnerable": vulnerable,
            "page": page_info(request, options, len(result.software), total),
        }, viewer=viewer, teams=choices, team_id=team_id)
