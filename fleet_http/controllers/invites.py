"""Invites."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.rules.ordering import INVITE_ORDER_KEYS
from fleet_core.services.invites import InviteChanges, InviteInput, InviteService
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import UNSET, EmptyResponse, patch_field
from fleet_http.schemas.invites import (
    CreateInviteRequest,
    InviteResponse,
    ListInvitesResponse,
    ModifyInviteRequest,
    to_invite,
)
from fleet_http.schemas.users import team_pairs


class InviteController(Controller):
    path = "/invites"
    tags = ["Invites"]
    guards = [strict_json_body]

    @post("/", status_code=200)
    async def create(self, data: JSONBody[CreateInviteRequest], viewer: NamedDependency[Viewer],
                     invites: NamedDependency[InviteService]) -> InviteResponse:
        invite = await invites.create(viewer, InviteInput(
            email=data.email, name=data.name, global_role=data.global_role, teams=team_pairs(data.teams),
            sso_enabled=data.sso_enabled, position=data.position,
        ))
        return InviteResponse(invite=to_invite(invite))

    @get("/")
    async def list_invites(
        self, viewer: NamedDependency[Viewer], invites: NamedDependency[InviteService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        search: Annotated[str | None, QueryParameter(name="query")] = None,
    ) -> ListInvitesResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=search, allowed_keys=INVITE_ORDER_KEYS)
        return ListInvitesResponse(invites=[to_invite(i) for i in await invites.list(viewer, options)])

    @delete("/{invite_id:int}", status_code=200)
    async def delete_invite(self, invite_id: FromPath[int], viewer: NamedDependency[Viewer],
                            invites: NamedDependency[InviteService]) -> EmptyResponse:
        await invites.delete(viewer, invite_id)
        return EmptyResponse()

    @get("/{token:str}")
    async def verify(self, token: FromPath[str], invites: NamedDependency[InviteService]) -> InviteResponse:
        return InviteResponse(invite=to_invite(await invites.verify(token)))

    @patch("/{invite_id:int}")
    async def modify(self, invite_id: FromPath[int], data: JSONBody[ModifyInviteRequest],
                     viewer: NamedDependency[Viewer], invites: NamedDependency[InviteService]) -> InviteResponse:
        changes = InviteChanges(
            email=patch_field(data.email), name=patch_field(data.name), position=patch_field(data.position),
            sso_enabled=patch_field(data.sso_enabled), global_role=patch_field(data.global_role),
            # Fleet reads "teams": null as no teams.
            teams=UNSET_FIELD if data.teams is UNSET else team_pairs(data.teams),
        )
        return InviteResponse(invite=to_invite(await invites.update(viewer, invite_id, changes)))
