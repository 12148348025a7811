"""Request and response bodies of the teams API (Fleet's teamResponse, listTeamsResponse, ...)."""

from __future__ import annotations

from typing import Any

import msgspec

from fleet_core.model.config import FailingPoliciesWebhook as CoreFailingPoliciesWebhook
from fleet_core.model.teams import TeamJiraIntegration, TeamZendeskIntegration
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.services.teams import TeamChanges, TeamView
from fleet_http.schemas.common import UNSET, UnsetType, patch_field, ts
from fleet_http.schemas.config import SecretBody, to_secret


class FailingPoliciesWebhook(msgspec.Struct, kw_only=True):
    enable_failing_policies_webhook: bool = False
    destination_url: str = ""
    policy_ids: list[int] | None = None
    host_batch_size: int = 0


class TeamWebhookSettings(msgspec.Struct, kw_only=True):
    failing_policies_webhook: FailingPoliciesWebhook = msgspec.field(default_factory=FailingPoliciesWebhook)


class TeamJira(msgspec.Struct, kw_only=True):
    url: str
    project_key: str
    enable_failing_policies: bool = False


class TeamZendesk(msgspec.Struct, kw_only=True):
    url: str
    group_id: int
    enable_failing_policies: bool = False


class TeamIntegrations(msgspec.Struct, kw_only=True):
    """The global integrations a team uses, named by URL and project key or group id (the
    credentials are the global ones and are never part of a team)."""

    jira: list[TeamJira] | None = None
    zendesk: list[TeamZendesk] | None = None


class TeamWebhookSettingsRequest(msgspec.Struct, kw_only=True):
    failing_policies_webhook: FailingPoliciesWebhook | UnsetType = UNSET


class TeamBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    created_at: str
    name: str
    description: str
    agent_options: dict[str, Any] | None
    user_count: int
    host_count: int
    user_ids: list[int] | UnsetType = UNSET
    host_ids: list[int] | UnsetType = UNSET
    secrets: list[SecretBody] | UnsetType = UNSET
    webhook_settings: TeamWebhookSettings = msgspec.field(default_factory=TeamWebhookSettings)
    integrations: TeamIntegrations = msgspec.field(default_factory=TeamIntegrations)


class TeamResponse(msgspec.Struct, kw_only=True):
    team: TeamBody


class CreateTeamResponse(msgspec.Struct, kw_only=True):
    team: TeamBody
    # Fleet's docs show the created team in a one-element "teams" list while Fleet itself sends
    # "team"; both are sent so clients written against either find it.
    teams: list[TeamBody]


class ListTeamsResponse(msgspec.Struct, kw_only=True):
    teams: list[TeamBody]


class CreateTeamRequest(msgspec.Struct, kw_only=True):
    name: str | None = None
    description: str = ""


class ModifyTeamRequest(msgspec.Struct, kw_only=True):
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    agent_options: dict[str, Any] | UnsetType | None = UNSET
    user_ids: list[int] | UnsetType = UNSET
    host_ids: list[int] | UnsetType = UNSET
    webhook_settings: TeamWebhookSettingsRequest | UnsetType = UNSET
    # A list replaces the team's list; a missing or null one keeps it.
    integrations: TeamIntegrations | UnsetType = UNSET


def to_team(view: TeamView) -> TeamBody:
    team = view.team
    hook = view.automations.failing_policies_webhook
    return TeamBody(
        id=team.id,
        created_at=ts(team.created_at),
        name=team.name,
        description=team.description,
        agent_options=None if view.agent_options is None else dict(view.agent_options),
        user_count=view.user_count,
        host_count=view.host_count,
        user_ids=UNSET if view.user_ids is None else list(view.user_ids),
        host_ids=UNSET if view.host_ids is None else list(view.host_ids),
        secrets=UNSET if view.secrets is None else [to_secret(s) for s in view.secrets],
        webhook_settings=TeamWebhookSettings(failing_policies_webhook=FailingPoliciesWebhook(
            enable_failing_policies_webhook=hook.enable_failing_policies_webhook,
            destination_url=hook.destination_url, policy_ids=list(hook.policy_ids) or None,
            host_batch_size=hook.host_batch_size)),
        integrations=TeamIntegrations(
            jira=[TeamJira(url=j.url, project_key=j.project_key, enable_failing_policies=j.enable_failing_policies)
                  for j in view.automations.jira] or None,
            zendesk=[TeamZendesk(url=z.url, group_id=z.group_id, enable_failing_policies=z.enable_failing_policies)
                     for z in view.automations.zendesk] or None),
    )


def team_changes(data: ModifyTeamRequest) -> TeamChanges:
    """The core's PATCH from the request: absent fields stay as they are."""
    hook: Any = UNSET_FIELD
    if not isinstance(data.webhook_settings, UnsetType) and not isinstance(
            data.webhook_settings.failing_policies_webhook, UnsetType):
        sent = data.webhook_settings.failing_policies_webhook
        hook = CoreFailingPoliciesWebhook(
            enable_failing_policies_webhook=sent.enable_failing_policies_webhook,
            destination_url=sent.destination_url, policy_ids=list(sent.policy_ids or []),
            host_batch_size=sent.host_batch_size)
    jira: Any = UNSET_FIELD
    zendesk: Any = UNSET_FIELD
    if not isinstance(data.integrations, UnsetType):
        if data.integrations.jira is not None:
            jira = tuple(TeamJiraIntegration(url=j.url, project_key=j.project_key,
                                             enable_failing_policies=j.enable_failing_policies)
                         for j in data.integrations.jira)
        if data.integrations.zendesk is not None:
            zendesk = tuple(TeamZendeskIntegration(url=z.url, group_id=z.group_id,
                                                   enable_failing_policies=z.enable_failing_policies)
                            for z in data.integrations.zendesk)
    return TeamChanges(
        name=patch_field(data.name), description=patch_field(data.description),
        agent_options=patch_field(data.agent_options), user_ids=patch_field(data.user_ids),
        host_ids=patch_field(data.host_ids), failing_policies_webhook=hook, jira=jira, zendesk=zendesk,
    )
