"""Request and response bodies of the teams API (Fleet's teamResponse, listTeamsResponse, ...)."""

from __future__ import annotations

from typing import Any

import msgspec

from fleet_core.services.teams import TeamView
from fleet_http.schemas.common import UNSET, UnsetType, ts
from fleet_http.schemas.config import SecretBody, to_secret


class FailingPoliciesWebhook(msgspec.Struct, kw_only=True):
    enable_failing_policies_webhook: bool = False
    destination_url: str = ""
    policy_ids: list[int] | None = None
    host_batch_size: int = 0


class TeamWebhookSettings(msgspec.Struct, kw_only=True):
    failing_policies_webhook: FailingPoliciesWebhook = msgspec.field(default_factory=FailingPoliciesWebhook)


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
    # Team webhooks are not stored yet, so every team shows Fleet's defaults.
    webhook_settings: TeamWebhookSettings = msgspec.field(default_factory=TeamWebhookSettings)


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
    # Team automations are not stored yet; they are named so a request using them is refused
    # clearly instead of being ignored.
    webhook_settings: Any | UnsetType = UNSET
    integrations: Any | UnsetType = UNSET


def to_team(view: TeamView) -> TeamBody:
    team = view.team
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
    )
