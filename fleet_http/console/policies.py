"""Policies: the global policies and each team's (team switcher), with passing and failing host
counts; add, edit and delete; the failing hosts of a policy (the hosts list filtered by
policy_id/policy_response); and the failing policies automation (webhook): the app config's for the global policies, a
team's own for that team's."""

from __future__ import annotations

from typing import Any, Final

import attrs
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Action, Viewer, is_allowed
from fleet_core.errors import InvalidArgument
from fleet_core.model.config import FailingPoliciesWebhook
from fleet_core.model.policies import Policy, PolicyFields
from fleet_core.services.config import ConfigService
from fleet_core.services.policies import PolicyChanges, PolicyService
from fleet_core.services.teams import TeamChanges, TeamService
from fleet_http.console.pages import available_teams, field_errors, form_data, form_lists, redirect, render
from fleet_http.console.scopes import checked, ids_of, int_or_none, may

PLATFORM_CHOICES: Final = [("", "All platforms"), ("darwin", "macOS"), ("windows", "Windows"),
                           ("linux", "Linux"), ("chrome", "ChromeOS")]


def _scope_query(team_id: int | None) -> str:
    return "" if team_id is None else f"?team_id={team_id}"


def _policy_path(policy: Policy) -> str:
    return f"/policies/{policy.id}{_scope_query(policy.team_id)}"


def _fields(form: dict[str, str], platforms: list[str]) -> PolicyFields:
    return PolicyFields(name=form.get("name", ""), query=form.get("query", ""),
                        description=form.get("description", ""), resolution=form.get("resolution", ""),
                        platform=",".join(p for p in platforms if p), critical=checked(form.get("critical")))


def _form_of(policy: Policy) -> dict[str, Any]:
    return {"name": policy.name, "query": policy.query, "description": policy.description,
            "resolution": policy.resolution, "platforms": policy.platform.split(",") if policy.platform else [],
            "critical": policy.critical}


class PolicyPagesController(Controller):
    path = "/policies"

    @get("")
    async def policy_list(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                          policies: NamedDependency[PolicyService],
                          teams: NamedDependency[TeamService]) -> Response[Any]:
        choices = await available_teams(viewer, teams)
        team_id = int_or_none(request.query_params.get("team_id"))
        if team_id is None and viewer.user.global_role is None and choices:
            # A team user's own policies are their team's; the global ones show below, read-only.
            team_id = choices[0].id
        found = await policies.list(viewer, team_id=team_id)
        inherited = await policies.list(viewer) if team_id is not None else []
        return render(request, "policies/list.html", {
            "policies": found, "inherited": inherited, "scope_query": _scope_query(team_id),
            "can_write": may(viewer, Action.WRITE_POLICIES, team_id),
            "can_automate": _may_automate(viewer, team_id),
        }, viewer=viewer, teams=choices, team_id=team_id)

    @get("/new")
    async def new_policy(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        return render(request, "policies/form.html", {
            "policy": None, "form": {"platforms": []}, "errors": {}, "platforms": PLATFORM_CHOICES,
            "action": "/policies" + _scope_query(team_id), "team_id": team_id,
        }, viewer=viewer)

    @post("")
    async def create_policy(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                            policies: NamedDependency[PolicyService]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        form = await form_data(request)
        platforms = await form_lists(request, "platform")
        try:
            policy = await policies.create(viewer, _fields(form, platforms), team_id=team_id)
        except InvalidArgument as exc:
            return render(request, "policies/form.html", {
                "policy": None, "form": {**form, "platforms": platforms, "critical": checked(form.get("critical"))},
                "errors": field_errors(exc.problems), "platforms": PLATFORM_CHOICES,
                "action": "/policies" + _scope_query(team_id), "team_id": team_id,
            }, viewer=viewer, status_code=422)
        return redirect(request, _policy_path(policy), flash=f"Policy {policy.name} added.")

    @get("/{policy_id:int}")
    async def policy_detail(self, request: Request[Any, Any, Any], policy_id: FromPath[int],
                            viewer: NamedDependency[Viewer], policies: NamedDependency[PolicyService],
                            teams: NamedDependency[TeamService]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        policy = await policies.get(viewer, policy_id, team_id=team_id)
        team_name = next((t.name for t in await available_teams(viewer, teams) if t.id == team_id), None)
        return render(request, "policies/detail.html", {
            "team_name": team_name,
            "policy": policy, "form": _form_of(policy), "errors": {}, "platforms": PLATFORM_CHOICES,
            "action": _policy_path(policy), "scope_query": _scope_query(team_id),
            "can_write": may(viewer, Action.WRITE_POLICIES, team_id),
        }, viewer=viewer)

    @post("/{policy_id:int}")
    async def modify_policy(self, request: Request[Any, Any, Any], policy_id: FromPath[int],
                            viewer: NamedDependency[Viewer], policies: NamedDependency[PolicyService]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        form = await form_data(request)
        platforms = await form_lists(request, "platform")
        fields = _fields(form, platforms)
        changes = PolicyChanges(name=fields.name, query=fields.query, description=fields.description,
                                resolution=fields.resolution, platform=fields.platform, critical=fields.critical)
        try:
            policy = await policies.modify(viewer, policy_id, changes, team_id=team_id)
        except InvalidArgument as exc:
            policy = await policies.get(viewer, policy_id, team_id=team_id)
            return render(request, "policies/detail.html", {
                "policy": policy, "form": {**form, "platforms": platforms, "critical": fields.critical},
                "errors": field_errors(exc.problems), "platforms": PLATFORM_CHOICES,
                "action": _policy_path(policy), "scope_query": _scope_query(team_id), "can_write": True,
            }, viewer=viewer, status_code=422)
        return redirect(request, _policy_path(policy), flash="Policy saved.")

    @post("/{policy_id:int}/delete")
    async def delete_policy(self, request: Request[Any, Any, Any], policy_id: FromPath[int],
                            viewer: NamedDependency[Viewer], policies: NamedDependency[PolicyService]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        await policies.delete_many(viewer, [policy_id], team_id=team_id)
        return redirect(request, "/policies" + _scope_query(team_id), flash="Policy deleted.")

    # --- automations: the failing policies webhook (app config for the global policies, the
    # team's own settings for a team's policies) ---

    @get("/automations")
    async def automations(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                          policies: NamedDependency[PolicyService], config: NamedDependency[ConfigService],
                          teams: NamedDependency[TeamService]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        team_name = None
        if team_id is None:
            current = (await config.get(viewer)).webhook_settings.failing_policies_webhook
        else:
            team = await teams.get(viewer, team_id)
            current, team_name = team.automations.failing_policies_webhook, team.team.name
        return render(request, "policies/automations.html", {
            "webhook": current, "policies": await policies.list(viewer, team_id=team_id), "errors": {},
            "can_write": _may_automate(viewer, team_id), "team_name": team_name,
            "scope_query": _scope_query(team_id),
        }, viewer=viewer)

    @post("/automations")
    async def save_automations(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                               policies: NamedDependency[PolicyService], config: NamedDependency[ConfigService],
                               teams: NamedDependency[TeamService]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        form = await form_data(request)
        webhook = FailingPoliciesWebhook(
            enable_failing_policies_webhook=checked(form.get("enabled")),
            destination_url=form.get("destination_url", "").strip(),
            policy_ids=ids_of(await form_lists(request, "policy_ids")),
            host_batch_size=int_or_none(form.get("host_batch_size")) or 0,
        )
        try:
            if team_id is None:
                await config.modify(viewer, {"webhook_settings": {"failing_policies_webhook": attrs.asdict(webhook)}})
            else:
                await teams.modify(viewer, team_id, TeamChanges(failing_policies_webhook=webhook))
        except InvalidArgument as exc:
            team_name = None if team_id is None else (await teams.get(viewer, team_id)).team.name
            return render(request, "policies/automations.html", {
                "webhook": webhook, "policies": await policies.list(viewer, team_id=team_id),
                "errors": field_errors(exc.problems), "can_write": True, "team_name": team_name,
                "scope_query": _scope_query(team_id),
            }, viewer=viewer, status_code=422)
        return redirect(request, "/policies/automations" + _scope_query(team_id), flash="Automations saved.")


def _may_automate(viewer: Viewer, team_id: int | None) -> bool:
    """Who edits the failing-policy automation: the app config's writers for the global policies,
    the team's writers (global admins, that team's admins) for a team's."""
    if team_id is None:
        return is_allowed(viewer.user, Action.WRITE_APP_CONFIG)
    return is_allowed(viewer.user, Action.WRITE_TEAM, team_ids=[team_id])
