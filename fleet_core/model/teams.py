"""Teams: the unit that scopes hosts, secrets and team roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from fleet_core.model.config import FailingPoliciesWebhook


@attrs.frozen
class Team:
    id: int
    name: str
    created_at: dt.datetime
    description: str = ""
    # The team's osquery agent options; None: the team's hosts get the global ones.
    agent_options: Mapping[str, Any] | None = None


@attrs.frozen
class TeamCounts:
    user_count: int = 0
    host_count: int = 0


@attrs.frozen
class TeamMembers:
    """The ids of a team's users and hosts, each ascending."""

    user_ids: tuple[int, ...] = ()
    host_ids: tuple[int, ...] = ()


@attrs.frozen
class TeamJiraIntegration:
    """A team's use of a global Jira integration, named by Fleet's identity (URL and project
    key); the credentials stay in the global settings."""

    url: str
    project_key: str
    enable_failing_policies: bool = False


@attrs.frozen
class TeamZendeskIntegration:
    """A team's use of a global Zendesk integration, named by URL and group id."""

    url: str
    group_id: int
    enable_failing_policies: bool = False


@attrs.frozen
class TeamAutomations:
    """Where the failures of a team's policies go: the team's failing-policies webhook or one
    of its integrations (one at most is enabled)."""

    failing_policies_webhook: FailingPoliciesWebhook = attrs.field(factory=FailingPoliciesWebhook)
    jira: tuple[TeamJiraIntegration, ...] = ()
    zendesk: tuple[TeamZendeskIntegration, ...] = ()
