"""The rules of a team's failing-policy automations (fleet_core.rules.integrations): one
automation at most, integrations that exist globally, the team's own policies; and which global
integration a team's queued ticket goes to."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.config import (
    AppConfig,
    FailingPoliciesWebhook,
    Integrations,
    JiraIntegration,
    ZendeskIntegration,
)
from fleet_core.model.teams import TeamAutomations, TeamJiraIntegration, TeamZendeskIntegration
from fleet_core.model.webhooks import WebhookKind
from fleet_core.rules.integrations import (
    team_automation_problems,
    team_failing_policy_integration,
    team_integration_for,
)

GLOBAL = Integrations(
    jira=[JiraIntegration(url="https://jira.example.com", username="bot", api_token="secret", project_key=k)
          for k in ("OPS", "SEC")],
    zendesk=[ZendeskIntegration(url="https://zd.example.com", email="bot@example.com", api_token="zsecret",
                                group_id=g) for g in (1, 2)],
)


def _automations(hook_on: bool, jira_on: list[bool], zendesk_on: list[bool]) -> TeamAutomations:
    return TeamAutomations(
        failing_policies_webhook=FailingPoliciesWebhook(enable_failing_policies_webhook=hook_on,
                                                        destination_url="https://hooks.example.com"),
        jira=tuple(TeamJiraIntegration(url="https://jira.example.com", project_key=k, enable_failing_policies=on)
                   for k, on in zip(("OPS", "SEC"), jira_on, strict=False)),
        zendesk=tuple(TeamZendeskIntegration(url="https://zd.example.com", group_id=g, enable_failing_policies=on)
                      for g, on in zip((1, 2), zendesk_on, strict=False)),
    )


@given(st.booleans(), st.lists(st.booleans(), max_size=2), st.lists(st.booleans(), max_size=2))
def test_more_than_one_enabled_automation_is_refused_and_one_is_chosen_otherwise(
        hook_on: bool, jira_on: list[bool], zendesk_on: list[bool]) -> None:
    automations = _automations(hook_on, jira_on, zendesk_on)
    enabled = hook_on + sum(jira_on) + sum(zendesk_on)
    names = [name for name, _ in team_automation_problems(automations, GLOBAL, [])]
    assert ("enable_failing_policies" in names) == (enabled > 1)
    assert names in ([], ["enable_failing_policies"])
    if enabled == 1 and not hook_on:
        chosen = team_failing_policy_integration(automations)
        assert chosen is not None and chosen.enable_failing_policies
    if enabled == 0:
        assert team_failing_policy_integration(automations) is None


@given(st.lists(st.integers(min_value=1, max_value=20), max_size=6),
       st.sets(st.integers(min_value=1, max_value=20), max_size=6))
def test_only_the_teams_own_policies_may_be_watched(watched: list[int], own: set[int]) -> None:
    automations = TeamAutomations(failing_policies_webhook=FailingPoliciesWebhook(policy_ids=watched))
    problems = team_automation_problems(automations, GLOBAL, sorted(own))
    assert bool(problems) == bool(set(watched) - own)
    assert all(name == "policy_ids" for name, _ in problems)


def test_integrations_missing_globally_are_named() -> None:
    automations = TeamAutomations(
        jira=(TeamJiraIntegration(url="https://jira.example.com", project_key="NOPE"),),
        zendesk=(TeamZendeskIntegration(url="https://other.example.com", group_id=1),))
    problems = team_automation_problems(automations, GLOBAL, [])
    assert [name for name, _ in problems] == ["integrations", "integrations"]
    assert all("secret" not in reason for _, reason in problems)


def test_a_teams_ticket_goes_to_the_global_integration_the_team_still_enables() -> None:
    config = AppConfig(integrations=GLOBAL)
    payload = {"integration": {"url": "https://jira.example.com", "project_key": "SEC"}, "team_id": 3}
    enabled = _automations(False, [False, True], [])
    found = team_integration_for(config, enabled, WebhookKind.JIRA, payload)
    assert found is not None and (found.project_key, found.api_token) == ("SEC", "secret")
    # Turned off by the team, switched to another integration, or gone globally: dropped.
    assert team_integration_for(config, _automations(False, [False, False], []), WebhookKind.JIRA, payload) is None
    assert team_integration_for(config, _automations(False, [True, False], []), WebhookKind.JIRA, payload) is None
    assert team_integration_for(AppConfig(), enabled, WebhookKind.JIRA, payload) is None
