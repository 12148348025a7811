"""Teams: list, create, edit (name, description, agent options as YAML, enroll secrets),
members (add with a role, change a role, remove) and delete."""

from __future__ import annotations

import secrets
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Action, Viewer, is_allowed
from fleet_core.errors import InvalidArgument
from fleet_core.rules.paging import ListOptions
from fleet_core.services.config import ConfigService
from fleet_core.services.teams import TeamChanges, TeamService
from fleet_core.services.users import UserChanges, UserService
from fleet_http.console.org_forms import (
    ROLE_CHOICES,
    options_errors,
    options_yaml,
    parse_options_yaml,
)
from fleet_http.console.pages import field_errors, form_data, page_info, paging, redirect, render

# Enough for every member of a team on one page; a bigger team is listed through the Users page.
MEMBER_PAGE: Final = 500
ENROLL_SECRET_BYTES: Final = 24


class TeamsController(Controller):
    path = "/teams"

    @get("")
    async def list_teams(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                         teams: NamedDependency[TeamService], config: NamedDependency[ConfigService]) -> Response[Any]:
        options = paging(request)
        views = await teams.list(viewer, ListOptions(page=options.page, per_page=options.per_page,
                                                     query=options.query, order_key="name"))
        return render(request, "teams/list.html", {
            "teams_page": views, "page": page_info(request, options, len(views)), "form": {}, "errors": {},
        }, viewer=viewer)

    @post("")
    async def create_team(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                          teams: NamedDependency[TeamService], config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        try:
            view = await teams.create(viewer, name=form.get("name", ""), description=form.get("description", ""))
        except InvalidArgument as exc:
            options = paging(request)
            views = await teams.list(viewer, ListOptions(per_page=options.per_page, order_key="name"))
            return render(request, "teams/list.html", {
                "teams_page": views, "page": page_info(request, options, len(views)), "form": form,
                "errors": field_errors(exc.problems),
            }, viewer=viewer, status_code=422)
        return redirect(request, f"/teams/{view.team.id}", flash=f"Team {view.team.name} created.")

    async def _detail(self, request: Request[Any, Any, Any], viewer: Viewer, team_id: int, teams: TeamService,
                      users: UserService, config: ConfigService, *, status_code: int = 200,
                      **context: Any) -> Response[Any]:
        view = await teams.get(viewer, team_id)
        may_write = is_allowed(viewer.user, Action.WRITE_TEAM, team_ids=[team_id])
        may_list_members = is_allowed(viewer.user, Action.LIST_USERS, team_ids=[team_id])
        members = (await users.list(viewer, ListOptions(per_page=MEMBER_PAGE, order_key="name"), team_id=team_id)
                   if may_list_members else [])
        member_ids = {u.id for u in members}
        candidates = []
        if may_write:
            # Users who could join: no global role (a global role covers every team already).
            everyone = await users.list(viewer, ListOptions(per_page=MEMBER_PAGE, order_key="name"))
            candidates = [u for u in everyone if u.id not in member_ids and u.global_role is None]
        full = {
            "team": view.team, "view": view, "may_write": may_write, "may_list_members": may_list_members,
            "members": [(u, next((m.role.value for m in u.teams if m.team_id == team_id), "")) for u in members],
            "candidates": candidates, "roles": ROLE_CHOICES,
            "form": {"name": view.team.name, "description": view.team.description},
            "options_text": options_yaml(view.team.agent_options),
            "uses_global_options": view.team.agent_options is None,
            "errors": {},
        }
        full.update(context)
        return render(request, "teams/detail.html", full, viewer=viewer, status_code=status_code)

    @get("/{team_id:int}")
    async def team_page(self, request: Request[Any, Any, Any], team_id: FromPath[int], viewer: NamedDependency[Viewer],
                        teams: NamedDependency[TeamService], users: NamedDependency[UserService],
                        config: NamedDependency[ConfigService]) -> Response[Any]:
        return await self._detail(request, viewer, team_id, teams, users, config)

    @post("/{team_id:int}")
    async def edit_team(self, request: Request[Any, Any, Any], team_id: FromPath[int], viewer: NamedDependency[Viewer],
                        teams: NamedDependency[TeamService], users: NamedDependency[UserService],
                        config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        try:
            await teams.modify(viewer, team_id, TeamChanges(name=form.get("name", ""),
                                                            description=form.get("description", "")))
        except InvalidArgument as exc:
            return await self._detail(request, viewer, team_id, teams, users, config, status_code=422,
                                      form=form, errors=field_errors(exc.problems))
        return redirect(request, f"/teams/{team_id}", flash="Team saved.")

    @post("/{team_id:int}/agent-options")
    async def edit_agent_options(self, request: Request[Any, Any, Any], team_id: FromPath[int],
                                 viewer: NamedDependency[Viewer], teams: NamedDependency[TeamService],
                                 users: NamedDependency[UserService],
                                 config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        text = form.get("agent_options", "")
        try:
            await teams.modify(viewer, team_id, TeamChanges(agent_options=parse_options_yaml(text)))
        except InvalidArgument as exc:
            return await self._detail(request, viewer, team_id, teams, users, config, status_code=422,
                                      options_text=text, errors=options_errors(exc.problems))
        return redirect(request, f"/teams/{team_id}", flash="Agent options saved.")

    @post("/{team_id:int}/secrets/rotate")
    async def rotate_secret(self, request: Request[Any, Any, Any], team_id: FromPath[int],
                            viewer: NamedDependency[Viewer], config: NamedDependency[ConfigService]) -> Response[Any]:
        # Rotating replaces every secret of the team with one new one: hosts already enrolled keep
        # their node keys; new hosts need the new secret.
        await config.replace_enroll_secrets(viewer, [secrets.token_urlsafe(ENROLL_SECRET_BYTES)], team_id)
        return redirect(request, f"/teams/{team_id}", flash="Enroll secret rotated.")

    @post("/{team_id:int}/members")
    async def add_member(self, request: Request[Any, Any, Any], team_id: FromPath[int],
                         viewer: NamedDependency[Viewer], teams: NamedDependency[TeamService],
                         users: NamedDependency[UserService], config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        try:
            user_id = int(form.get("user_id", ""))
        except ValueError:
            return await self._detail(request, viewer, team_id, teams, users, config, status_code=422,
                                      errors={"user_id": "choose a user"})
        return await self._set_role(request, viewer, team_id, user_id, form.get("role", ""), teams, users, config,
                                    done="Member added.")

    @post("/{team_id:int}/members/{user_id:int}")
    async def change_member(self, request: Request[Any, Any, Any], team_id: FromPath[int], user_id: FromPath[int],
                            viewer: NamedDependency[Viewer], teams: NamedDependency[TeamService],
                            users: NamedDependency[UserService],
                            config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        return await self._set_role(request, viewer, team_id, user_id, form.get("role", ""), teams, users, config,
                                    done="Role changed.")

    async def _set_role(self, request: Request[Any, Any, Any], viewer: Viewer, team_id: int, user_id: int, role: str,
                        teams: TeamService, users: UserService, config: ConfigService, *, done: str) -> Response[Any]:
        user = await users.get(viewer, user_id)
        others = [(m.team_id, m.role.value) for m in user.teams if m.team_id != team_id]
        try:
            await users.modify(viewer, user_id, UserChanges(teams=[*others, (team_id, role)]))
        except InvalidArgument as exc:
            return await self._detail(request, viewer, team_id, teams, users, config, status_code=422,
                                      errors=field_errors(exc.problems))
        return redirect(request, f"/teams/{team_id}", flash=done)

    @post("/{team_id:int}/members/{user_id:int}/remove")
    async def remove_member(self, request: Request[Any, Any, Any], team_id: FromPath[int], user_id: FromPath[int],
                            viewer: NamedDependency[Viewer], teams: NamedDependency[TeamService]) -> Response[Any]:
        view = await teams.get(viewer, team_id)
        remaining = [uid for uid in view.user_ids or () if uid != user_id]
        await teams.modify(viewer, team_id, TeamChanges(user_ids=remaining))
        return redirect(request, f"/teams/{team_id}", flash="Member removed.")

    @post("/{team_id:int}/delete")
    async def delete_team(self, request: Request[Any, Any, Any], team_id: FromPath[int],
                          viewer: NamedDependency[Viewer], teams: NamedDependency[TeamService]) -> Response[Any]:
        view = await teams.get(viewer, team_id)
        await teams.delete(viewer, team_id)
        return redirect(request, "/teams", flash=f"Team {view.team.name} deleted.")
