"""Users and invites: the users list with their roles, creating a user, editing roles and
teams, requiring a password reset, deleting; inviting a colleague (the invite service mails the
link to /login/invites/<token>) and revoking pending invites."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Action, Viewer, admin_team_ids
from fleet_core.errors import InvalidArgument
from fleet_core.rules.paging import ListOptions
from fleet_core.services.config import ConfigService
from fleet_core.services.invites import InviteInput, InviteService
from fleet_core.services.teams import TeamService
from fleet_core.services.users import UserChanges, UserInput, UserService
from fleet_http.console.org_forms import ROLE_CHOICES, roles_from_form, team_roles_map
from fleet_http.console.pages import (
    TeamChoice,
    available_teams,
    can,
    field_errors,
    form_data,
    page_info,
    paging,
    redirect,
    render,
)

INVITES_SHOWN: Final = 200


def _grantable_teams(viewer: Viewer, choices: list[TeamChoice]) -> list[TeamChoice]:
    """The teams the viewer may give roles on: all for a global admin, the ones they administer otherwise."""
    if viewer.is_global_admin:
        return choices
    allowed = admin_team_ids(viewer.user)
    return [c for c in choices if c.id in allowed]


class UsersController(Controller):
    path = "/users"

    async def _list(self, request: Request[Any, Any, Any], viewer: Viewer, users: UserService,
                    invites: InviteService, teams: TeamService, config: ConfigService, *,
                    status_code: int = 200, **context: Any) -> Response[Any]:
        options = paging(request)
        people = await users.list(viewer, ListOptions(page=options.page, per_page=options.per_page,
                                                      query=options.query, order_key="name"))
        pending = (await invites.list(viewer, ListOptions(per_page=INVITES_SHOWN))
                   if can(viewer, Action.READ_INVITES) else [])
        choices = _grantable_teams(viewer, await available_teams(viewer, teams))
        full: dict[str, Any] = {
            "people": people, "page": page_info(request, options, len(people)), "invites": pending,
            "query": options.query,
            "team_choices": choices, "roles": ROLE_CHOICES, "may_write": can(viewer, Action.WRITE_USER),
            "may_invite": can(viewer, Action.WRITE_INVITES),
            "invite_form": {}, "invite_errors": {}, "user_form": {}, "user_errors": {},
        }
        full.update(context)
        return render(request, "users/list.html", full, viewer=viewer, status_code=status_code)

    @get("")
    async def list_users(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                         users: NamedDependency[UserService], invites: NamedDependency[InviteService],
                         teams: NamedDependency[TeamService], config: NamedDependency[ConfigService]) -> Response[Any]:
        return await self._list(request, viewer, users, invites, teams, config)

    @post("/invites")
    async def invite(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                     users: NamedDependency[UserService], invites: NamedDependency[InviteService],
                     teams: NamedDependency[TeamService], config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        choices = _grantable_teams(viewer, await available_teams(viewer, teams))
        global_role, team_roles = roles_from_form(form, [c.id for c in choices])
        try:
            invite = await invites.create(viewer, InviteInput(
                email=form.get("email", "").strip(), name=form.get("name", "").strip(), global_role=global_role,
                teams=team_roles, sso_enabled=form.get("sso_enabled") == "on"))
        except InvalidArgument as exc:
            return await self._list(request, viewer, users, invites, teams, config, status_code=422,
                                    invite_form=form, invite_errors=field_errors(exc.problems))
        return redirect(request, "/users", flash=f"Invitation sent to {invite.email}.")

    @post("/invites/{invite_id:int}/delete")
    async def revoke_invite(self, request: Request[Any, Any, Any], invite_id: FromPath[int],
                            viewer: NamedDependency[Viewer], invites: NamedDependency[InviteService]) -> Response[Any]:
        await invites.delete(viewer, invite_id)
        return redirect(request, "/users", flash="Invitation revoked.")

    @post("")
    async def create_user(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                          users: NamedDependency[UserService], invites: NamedDependency[InviteService],
                          teams: NamedDependency[TeamService], config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        choices = _grantable_teams(viewer, await available_teams(viewer, teams))
        global_role, team_roles = roles_from_form(form, [c.id for c in choices])
        sso = form.get("sso_enabled") == "on"
        try:
            user = await users.create(viewer, UserInput(
                name=form.get("name", "").strip(), email=form.get("email", "").strip(),
                password=None if sso else form.get("password", ""), global_role=global_role, teams=team_roles,
                sso_enabled=sso, api_only=form.get("api_only") == "on",
                # A password an admin chose is changed at the first sign-in.
                admin_forced_password_reset=not sso))
        except InvalidArgument as exc:
            kept = {k: v for k, v in form.items() if k != "password"}
            return await self._list(request, viewer, users, invites, teams, config, status_code=422,
                                    user_form=kept, user_errors=field_errors(exc.problems))
        return redirect(request, "/users", flash=f"User {user.email} created.")

    async def _edit(self, request: Request[Any, Any, Any], viewer: Viewer, user_id: int, users: UserService,
                    teams: TeamService, config: ConfigService, *, status_code: int = 200,
                    **context: Any) -> Response[Any]:
        user = await users.get(viewer, user_id)
        full: dict[str, Any] = {
            "user": user, "roles": ROLE_CHOICES,
            "team_choices": _grantable_teams(viewer, await available_teams(viewer, teams)),
            "form": {"global_role": user.global_role.value if user.global_role else "",
                     **{f"team_role_{k}": v for k, v in team_roles_map(user.teams).items()}},
            "errors": {},
        }
        full.update(context)
        return render(request, "users/edit.html", full, viewer=viewer, status_code=status_code)

    @get("/{user_id:int}")
    async def user_page(self, request: Request[Any, Any, Any], user_id: FromPath[int], viewer: NamedDependency[Viewer],
                        users: NamedDependency[UserService], teams: NamedDependency[TeamService],
                        config: NamedDependency[ConfigService]) -> Response[Any]:
        return await self._edit(request, viewer, user_id, users, teams, config)

    @post("/{user_id:int}")
    async def edit_roles(self, request: Request[Any, Any, Any], user_id: FromPath[int], viewer: NamedDependency[Viewer],
                         users: NamedDependency[UserService], teams: NamedDependency[TeamService],
                         config: NamedDependency[ConfigService]) -> Response[Any]:
        form = await form_data(request)
        choices = _grantable_teams(viewer, await available_teams(viewer, teams))
        global_role, team_roles = roles_from_form(form, [c.id for c in choices])
        # Both kinds at once reach the core as they are, which refuses them with a field error.
        changes = UserChanges(global_role=global_role, teams=team_roles)
        try:
            user = await users.modify(viewer, user_id, changes)
        except InvalidArgument as exc:
            return await self._edit(request, viewer, user_id, users, teams, config, status_code=422,
                                    form=form, errors=field_errors(exc.problems))
        return redirect(request, f"/users/{user_id}", flash=f"Roles of {user.email} saved.")

    @post("/{user_id:int}/require-password-reset")
    async def require_reset(self, request: Request[Any, Any, Any], user_id: FromPath[int],
                            viewer: NamedDependency[Viewer], users: NamedDependency[UserService]) -> Response[Any]:
        user = await users.require_password_reset(viewer, user_id, True)
        return redirect(request, f"/users/{user_id}",
                        flash=f"{user.email} must choose a new password at the next sign-in.")

    @post("/{user_id:int}/delete")
    async def delete_user(self, request: Request[Any, Any, Any], user_id: FromPath[int],
                          viewer: NamedDependency[Viewer], users: NamedDependency[UserService]) -> Response[Any]:
        user = await users.get(viewer, user_id)
        await users.delete(viewer, user_id)
        return redirect(request, "/users", flash=f"User {user.email} deleted.")
