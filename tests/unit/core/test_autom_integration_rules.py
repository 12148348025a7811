"""Rules of the vulnerability and failing-policy automations (fleet_core.rules.integrations)."""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.config import (
    MASKED_PASSWORD,
    AppConfig,
    FailingPoliciesWebhook,
    Integrations,
    JiraIntegration,
    VulnerabilitiesWebhook,
    WebhookSettings,
    ZendeskIntegration,
)
from fleet_core.model.vulnerability_automations import NewVulnerability, VulnerableHost
from fleet_core.model.webhooks import WebhookKind
from fleet_core.rules import integrations as rules
from fleet_core.rules.app_config import keep_masked_secrets, mask_secrets

JIRA = JiraIntegration(url="https://acme.atlassian.net", username="bot@acme.com", api_token="j-token",
                       project_key="VULN")
ZENDESK = ZendeskIntegration(url="https://acme.zendesk.com", email="bot@acme.com", api_token="z-token", group_id=7)
HOOK = VulnerabilitiesWebhook(enable_vulnerabilities_webhook=True, destination_url="https://hooks.acme.com/v")


def config(*, hook: VulnerabilitiesWebhook = VulnerabilitiesWebhook(), failing_hook: bool = False,
           jira: list[JiraIntegration] | None = None, zendesk: list[ZendeskIntegration] | None = None) -> AppConfig:
    return AppConfig(
        webhook_settings=WebhookSettings(
            vulnerabilities_webhook=hook,
            failing_policies_webhook=FailingPoliciesWebhook(enable_failing_policies_webhook=failing_hook,
                                                            destination_url="https://hooks.acme.com/p")),
        integrations=Integrations(jira=jira, zendesk=zendesk))


def fields(problems: list[tuple[str, str]]) -> set[str]:
    return {name for name, _ in problems}


@given(hook=st.booleans(), jira_flags=st.lists(st.booleans(), max_size=3),
       zendesk_flags=st.lists(st.booleans(), max_size=3))
def test_at_most_one_vulnerability_automation_is_accepted(hook: bool, jira_flags: list[bool],
                                                          zendesk_flags: list[bool]) -> None:
    jiras = [attrs.evolve(JIRA, project_key=f"P{i}", enable_software_vulnerabilities=on)
             for i, on in enumerate(jira_flags)]
    zendesks = [attrs.evolve(ZENDESK, group_id=i + 1, enable_software_vulnerabilities=on)
                for i, on in enumerate(zendesk_flags)]
    cfg = config(hook=attrs.evolve(HOOK, enable_vulnerabilities_webhook=hook), jira=jiras, zendesk=zendesks)
    enabled = hook + sum(jira_flags) + sum(zendesk_flags)
    assert ("enable_software_vulnerabilities" in fields(rules.integration_problems(cfg))) == (enabled > 1)
    target = rules.vulnerability_automation(cfg)
    if enabled == 0:
        assert target is None
    elif enabled == 1:
        assert target is not None
        assert target == HOOK if hook else getattr(target, "enable_software_vulnerabilities", False)


@given(hook=st.booleans(), jira_on=st.booleans(), zendesk_on=st.booleans())
def test_at_most_one_failing_policy_automation_is_accepted(hook: bool, jira_on: bool, zendesk_on: bool) -> None:
    cfg = config(failing_hook=hook, jira=[attrs.evolve(JIRA, enable_failing_policies=jira_on)],
                 zendesk=[attrs.evolve(ZENDESK, enable_failing_policies=zendesk_on)])
    assert ("enable_failing_policies" in fields(rules.integration_problems(cfg))) == (hook + jira_on + zendesk_on > 1)


def test_complete_settings_have_no_problem_and_gaps_name_their_field() -> None:
    assert rules.integration_problems(config(jira=[JIRA], zendesk=[ZENDESK])) == []
    broken = config(jira=[attrs.evolve(JIRA, url="acme", username=" ", api_token="", project_key=""), JIRA, JIRA],
                    zendesk=[attrs.evolve(ZENDESK, email="", group_id=0, api_token=MASKED_PASSWORD)])
    assert fields(rules.integration_problems(broken)) == {"url", "username", "api_token", "project_key", "email",
                                                         "group_id"}


def test_the_mask_keeps_the_token_of_the_same_integration_only() -> None:
    previous = config(jira=[JIRA], zendesk=[ZENDESK])
    shown = mask_secrets(previous)
    assert shown.integrations.jira == [attrs.evolve(JIRA, api_token=MASKED_PASSWORD)]
    assert shown.integrations.zendesk == [attrs.evolve(ZENDESK, api_token=MASKED_PASSWORD)]
    echoed = attrs.evolve(shown, smtp_settings=previous.smtp_settings)
    assert keep_masked_secrets(previous, echoed).integrations == previous.integrations
    moved = config(jira=[attrs.evolve(JIRA, project_key="OTHER", api_token=MASKED_PASSWORD)])
    assert keep_masked_secrets(previous, moved).integrations.jira == moved.integrations.jira
    replaced = config(jira=[attrs.evolve(JIRA, api_token="new-token")])
    assert keep_masked_secrets(previous, replaced).integrations.jira == replaced.integrations.jira


def test_only_new_integrations_and_changed_credentials_are_checked() -> None:
    before = Integrations(jira=[JIRA], zendesk=[ZENDESK])
    flags_only = Integrations(jira=[attrs.evolve(JIRA, enable_failing_policies=True)], zendesk=[ZENDESK])
    assert rules.to_check(before, flags_only) == []
    new_token = attrs.evolve(JIRA, api_token="rotated")
    new_user = attrs.evolve(ZENDESK, email="other@acme.com")
    new_project = attrs.evolve(JIRA, project_key="OPS")
    assert rules.to_check(before, Integrations(jira=[new_token, new_project], zendesk=[new_user])) == [
        new_token, new_project, new_user]


def test_destinations_name_where_announcements_go_without_credentials() -> None:
    keys = {rules.destination(HOOK), rules.destination(JIRA), rules.destination(ZENDESK)}
    assert len(keys) == 3
    assert not any(token in key for key in keys for token in ("j-token", "z-token"))
    assert rules.destination(JIRA) == rules.destination(attrs.evolve(JIRA, api_token="rotated"))


def test_a_queued_ticket_finds_its_integration_while_it_has_the_automation_enabled() -> None:
    vuln_jira = attrs.evolve(JIRA, enable_software_vulnerabilities=True)
    payload = rules.ticket_payload(vuln_jira, "vulnerability", summary="s", description="d")
    assert "j-token" not in str(payload)
    assert rules.integration_for(config(jira=[vuln_jira]), WebhookKind.JIRA, payload) == vuln_jira
    rotated = attrs.evolve(vuln_jira, api_token="rotated")
    assert rules.integration_for(config(jira=[rotated]), WebhookKind.JIRA, payload) == rotated
    assert rules.integration_for(config(jira=[JIRA]), WebhookKind.JIRA, payload) is None
    assert rules.integration_for(config(), WebhookKind.JIRA, payload) is None
    policy_zendesk = attrs.evolve(ZENDESK, enable_failing_policies=True)
    ticket = rules.ticket_payload(policy_zendesk, "failing_policy", summary="s", description="d")
    assert rules.integration_for(config(zendesk=[policy_zendesk]), WebhookKind.ZENDESK, ticket) == policy_zendesk


def test_ticket_text_lists_at_most_fifty_hosts_with_links_in_each_services_markup() -> None:
    vulnerability = NewVulnerability(cve="CVE-2021-3711", found_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
                                     cvss_score=9.8, cisa_known_exploit=True)
    hosts = [VulnerableHost(id=i, hostname=f"h{i}", display_name=f"H{i}") for i in range(1, 61)]
    summary, jira_text = rules.vulnerability_ticket(WebhookKind.JIRA, vulnerability, hosts,
                                                    server_url="https://fleet.acme.com/")
    assert summary == "Vulnerability CVE-2021-3711 detected on 60 host(s)"
    assert "* [H1|https://fleet.acme.com/hosts/1]" in jira_text and "[H51|" not in jira_text
    assert "and 10 more" in jira_text and "Known exploited (CISA): Yes" in jira_text
    _, zendesk_text = rules.vulnerability_ticket(WebhookKind.ZENDESK, vulnerability, hosts[:1],
                                                 server_url="https://fleet.acme.com")
    assert "* [H1](https://fleet.acme.com/hosts/1)" in zendesk_text and "Zendesk integration" in zendesk_text
