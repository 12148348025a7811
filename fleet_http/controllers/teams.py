"""Teams: list, get, create, modify, delete."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.rules.ordering import TEAM_ORDER_KEYS
from fleet_core.services.teams import TeamService
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import EmptyResponse
from fleet_http.schemas.teams import (
    CreateTeamRequest,
    CreateTeamResponse,
    ListTeamsResponse,
    ModifyTeamRequest,
    TeamResponse,
    team_changes,
    to_team,
)


class TeamController(Controller):
    path = "/teams"
    tags = ["Teams"]
    guards = [strict_json_body]

    @get("/")
    async def list_teams(
        self, viewer: NamedDependency[Viewer], teams: NamedDependency[TeamService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        search: Annotated[str | None, QueryParameter(name="query")] = None,
    ) -> ListTeamsResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=search, allowed_keys=TEAM_ORDER_KEYS)
        return ListTeamsResponse(teams=[to_team(t) for t in await teams.list(viewer, options)])

    @get("/{team_id:int}")
    async def get_team(self, team_id: FromPath[int], viewer: NamedDependency[Viewer],
                       teams: NamedDependency[TeamService]) -> TeamResponse:
        return TeamResponse(team=to_team(await teams.get(viewer, team_id)))

    @post("/", status_code=200)
    async def create_team(self, data: JSONBody[CreateTeamRequest], viewer: NamedDependency[Viewer],
                          teams: NamedDependency[TeamService]) -> CreateTeamResponse:
        if data.name is None:
            raise InvalidArgument(("name", "is required"))
        team = to_team(await teams.create(viewer, name=data.name, description=data.description))
        return CreateTeamResponse(team=team, teams=[team])

    @patch("/{team_id:int}")
    async def modify_team(self, team_id: FromPath[int], data: JSONBody[ModifyTeamRequest],
                          viewer: NamedDependency[Viewer], teams: NamedDependency[TeamService]) -> TeamResponse:
        return TeamResponse(team=to_team(await teams.modify(viewer, team_id, team_changes(data))))

    @delete("/{team_id:int}", status_code=200)
    async def delete_team(self, team_id: FromPath[int], viewer: NamedDependency[Viewer],
                          teams: NamedDependency[TeamService]) -> EmptyResponse:
        await teams.delete(viewer, team_id)
        return EmptyResponse()
