"""Vulnerability and failing-policy automations: which one is enabled, the Jira and Zendesk
settings' rules, the webhook body and the tickets' text.

One vulnerability automation at most (the vulnerabilities webhook, or one Jira or Zendesk
integration with enable_software_vulnerabilities), and one failing-policy automation at most
(the failing-policies webhook, or one integration with enable_failing_policies), as the
reference says. Ticket deliveries carry the integration's identity (URL and project key or group
id), never its token: the token is read from the configuration when the ticket is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import urlparse

import attrs

from fleet_core.model.config import (
    MASKED_PASSWORD,
    AppConfig,
    Integrations,
    JiraIntegration,
    VulnerabilitiesWebhook,
    ZendeskIntegration,
)
from fleet_core.model.policies import Policy
from fleet_core.model.teams import TeamAutomations, TeamJiraIntegration, TeamZendeskIntegration
from fleet_core.model.vulnerability_automations import NewVulnerability, VulnerableHost
from fleet_core.model.webhooks import FailingHost, WebhookKind
from fleet_core.rules.webhooks import host_url, rfc3339

TicketIntegration = JiraIntegration | ZendeskIntegration
VulnerabilityTarget = VulnerabilitiesWebhook | JiraIntegration | ZendeskIntegration
Automation = Literal["vulnerability", "failing_policy"]

# A ticket lists this many hosts at most; the rest are one search away in Fleet.
TICKET_HOSTS_LIMIT = 50


def vulnerability_automation(config: AppConfig) -> VulnerabilityTarget | None:
    """The enabled vulnerability automation, if any (validation keeps it to one)."""
    hook = config.webhook_settings.vulnerabilities_webhook
    if hook.enable_vulnerabilities_webhook and hook.destination_url:
        return hook
    for integration in _all(config.integrations):
        if integration.enable_software_vulnerabilities:
            return integration
    return None


def failing_policy_integration(integrations: Integrations) -> TicketIntegration | None:
    """The integration failing-policy tickets go to, if one is enabled for them."""
    for integration in _all(integrations):
        if integration.enable_failing_policies:
            return integration
    return None


def _all(integrations: Integrations) -> list[TicketIntegration]:
    return [*(integrations.jira or []), *(integrations.zendesk or [])]


def destination(target: VulnerabilityTarget) -> str:
    """The key announcements are recorded under: where they go, without any credential."""
    if isinstance(target, VulnerabilitiesWebhook):
        return f"webhook {target.destination_url}"
    if isinstance(target, JiraIntegration):
        return f"jira {target.url} {target.project_key}"
    return f"zendesk {target.url} {target.group_id}"


def ticket_kind(integration: TicketIntegration) -> WebhookKind:
    return WebhookKind.JIRA if isinstance(integration, JiraIntegration) else WebhookKind.ZENDESK


# --- configuration rules ---------------------------------------------------------------------


def _same(a: TicketIntegration, b: TicketIntegration) -> bool:
    """Whether two settings name the same integration (Fleet's identity: URL and project or group)."""
    if isinstance(a, JiraIntegration) and isinstance(b, JiraIntegration):
        return (a.url, a.project_key) == (b.url, b.project_key)
    if isinstance(a, ZendeskIntegration) and isinstance(b, ZendeskIntegration):
        return (a.url, a.group_id) == (b.url, b.group_id)
    return False


def keep_stored_tokens(previous: Integrations, updated: Integrations) -> Integrations:
    """An integration sent with the mask (or no token) keeps the token stored for the same
    integration, so a client can echo GET /config back."""
    return Integrations(
        jira=None if updated.jira is None else [_kept(j, previous) for j in updated.jira],
        zendesk=None if updated.zendesk is None else [_kept(z, previous) for z in updated.zendesk],
    )


IntegrationT = TypeVar("IntegrationT", JiraIntegration, ZendeskIntegration)


def _kept(item: IntegrationT, previous: Integrations) -> IntegrationT:
    if item.api_token not in ("", MASKED_PASSWORD):
        return item
    for old in _all(previous):
        if _same(old, item):
            return attrs.evolve(item, api_token=old.api_token)
    return item


def masked(integrations: Integrations) -> Integrations:
    """The integrations with every token shown as the mask."""
    return Integrations(
        jira=None if integrations.jira is None
        else [attrs.evolve(j, api_token=MASKED_PASSWORD) for j in integrations.jira],
        zendesk=None if integrations.zendesk is None
        else [attrs.evolve(z, api_token=MASKED_PASSWORD) for z in integrations.zendesk],
    )


def to_check(previous: Integrations, updated: Integrations) -> list[TicketIntegration]:
    """The integrations whose settings must be tried against the service: new ones, and those
    whose credentials changed."""
    return [item for item in _all(updated) if item not in _all(previous)
            and not any(_same(old, item) and old.api_token == item.api_token
                        and _login(old) == _login(item) for old in _all(previous))]


def is_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _login(item: TicketIntegration) -> str:
    return item.username if isinstance(item, JiraIntegration) else item.email


def integration_problems(config: AppConfig) -> list[tuple[str, str]]:
    """What is wrong with the integrations and the automations' choice, as (field, reason)."""
    problems: list[tuple[str, str]] = []
    jiras = config.integrations.jira or []
    zendesks = config.integrations.zendesk or []
    for i, jira in enumerate(jiras):
        where = f"Jira integration {i + 1}"
        if not is_url(jira.url):
            problems.append(("url", f"{where}: must be a valid URL with scheme and host"))
        if not jira.username.strip():
            problems.append(("username", f"{where}: is required"))
        if jira.api_token in ("", MASKED_PASSWORD):
            problems.append(("api_token", f"{where}: is required (the mask keeps a stored token only)"))
        if not jira.project_key.strip():
            problems.append(("project_key", f"{where}: is required"))
        if any(_same(jira, other) for other in jiras[:i]):
            problems.append(("project_key", f"{where}: duplicate Jira integration for project key {jira.project_key}"))
    for i, zendesk in enumerate(zendesks):
        where = f"Zendesk integration {i + 1}"
        if not is_url(zendesk.url):
            problems.append(("url", f"{where}: must be a valid URL with scheme and host"))
        if not zendesk.email.strip():
            problems.append(("email", f"{where}: is required"))
        if zendesk.api_token in ("", MASKED_PASSWORD):
            problems.append(("api_token", f"{where}: is required (the mask keeps a stored token only)"))
        if zendesk.group_id <= 0:
            problems.append(("group_id", f"{where}: must be a positive Zendesk group id"))
        if any(_same(zendesk, other) for other in zendesks[:i]):
            problems.append(("group_id", f"{where}: duplicate Zendesk integration for group id {zendesk.group_id}"))
    hooks = config.webhook_settings
    vulnerability = [item for item in _all(config.integrations) if item.enable_software_vulnerabilities]
    if len(vulnerability) + hooks.vulnerabilities_webhook.enable_vulnerabilities_webhook > 1:
        problems.append(("enable_software_vulnerabilities",
                         "only one vulnerability automation can be enabled at a time: the vulnerabilities "
                         "webhook or one Jira or Zendesk integration"))
    failing = [item for item in _all(config.integrations) if item.enable_failing_policies]
    if len(failing) + hooks.failing_policies_webhook.enable_failing_policies_webhook > 1:
        problems.append(("enable_failing_policies",
                         "only one failing policy automation can be enabled at a time: the failing policies "
                         "webhook or one Jira or Zendesk integration"))
    return problems


# --- what is sent ----------------------------------------------------------------------------


def vulnerability_payload(vulnerability: NewVulnerability, hosts: Sequence[VulnerableHost], *, server_url: str,
                          now: dt.datetime) -> dict[str, Any]:
    """Fleet's vulnerabilities webhook body: one CVE and (a batch of) the hosts it affects."""
    return {
        "timestamp": rfc3339(now),
        "vulnerability": {
            "cve": vulnerability.cve,
            "details_link": vulnerability.details_link,
            "epss_probability": vulnerability.epss_probability,
            "cvss_score": vulnerability.cvss_score,
            "cisa_known_exploit": vulnerability.cisa_known_exploit,
            "cve_published": None if vulnerability.published is None else rfc3339(vulnerability.published),
            "hosts_affected": [
                {"id": h.id, "display_name": h.display_name, "hostname": h.hostname,
                 "url": host_url(server_url, h.id)}
                for h in hosts
            ],
        },
    }


def ticket_payload(integration: TicketIntegration, automation: Automation, *, summary: str,
                   description: str) -> dict[str, Any]:
    """A queued ticket: which integration (no token), for which automation, and its text."""
    if isinstance(integration, JiraIntegration):
        target: dict[str, Any] = {"url": integration.url, "project_key": integration.project_key}
    else:
        target = {"url": integration.url, "group_id": integration.group_id}
    return {"automation": automation, "integration": target, "summary": summary, "description": description}


def integration_for(config: AppConfig, kind: WebhookKind, payload: Mapping[str, Any]) -> TicketIntegration | None:
    """The configured integration a queued ticket goes to, with its current token; None if it
    was removed or no longer has this automation enabled (the ticket is then dropped, as Fleet
    drops it)."""
    target = payload.get("integration") or {}
    automation = payload.get("automation")
    candidates: Sequence[TicketIntegration] = (
        (config.integrations.jira or []) if kind is WebhookKind.JIRA else (config.integrations.zendesk or []))
    for item in candidates:
        if isinstance(item, JiraIntegration):
            matches = (item.url, item.project_key) == (target.get("url"), target.get("project_key"))
        else:
            matches = (item.url, item.group_id) == (target.get("url"), target.get("group_id"))
        enabled = (item.enable_software_vulnerabilities if automation == "vulnerability"
                   else item.enable_failing_policies)
        if matches and enabled:
            return item
    return None


# --- a team's failing-policy automations ------------------------------------------------------

TeamIntegration = TeamJiraIntegration | TeamZendeskIntegration


def team_automation_problems(automations: TeamAutomations, global_integrations: Integrations,
                             team_policy_ids: Sequence[int]) -> list[tuple[str, str]]:
    """What is wrong with a team's automations, as (field, reason): the webhook's URL, batch
    size and policies (the team's own), integrations that do not exist globally, and more than
    one automation enabled."""
    problems: list[tuple[str, str]] = []
    hook = automations.failing_policies_webhook
    if hook.enable_failing_policies_webhook and not is_url(hook.destination_url):
        problems.append(("destination_url", "failing_policies_webhook destination_url must be a valid URL"))
    if hook.host_batch_size < 0:
        problems.append(("host_batch_size", "failing_policies_webhook host_batch_size must be 0 or greater"))
    foreign = sorted(set(hook.policy_ids) - set(team_policy_ids))
    if foreign:
        problems.append(("policy_ids", f"not policies of this team: {', '.join(map(str, foreign))}"))
    for item in _team_all(automations):
        if resolve_team_integration(global_integrations, item) is None:
            problems.append(("integrations", f"{_describe(item)} does not exist in the global integrations"))
    for items in (automations.jira, automations.zendesk):
        seen = [_identity(i) for i in items]
        if len(set(seen)) < len(seen):
            problems.append(("integrations", "an integration is listed twice"))
    enabled = [i for i in _team_all(automations) if i.enable_failing_policies]
    if len(enabled) + hook.enable_failing_policies_webhook > 1:
        problems.append(("enable_failing_policies",
                         "only one failing policy automation can be enabled at a time: the team's failing "
                         "policies webhook or one Jira or Zendesk integration"))
    return problems


def _identity(item: TeamIntegration) -> tuple[str, str]:
    if isinstance(item, TeamJiraIntegration):
        return item.url, item.project_key
    return item.url, str(item.group_id)


def _describe(item: TeamIntegration) -> str:
    if isinstance(item, TeamJiraIntegration):
        return f"Jira integration {item.url} project {item.project_key}"
    return f"Zendesk integration {item.url} group {item.group_id}"


def resolve_team_integration(global_integrations: Integrations, item: TeamIntegration) -> TicketIntegration | None:
    """The global integration (with its credentials) a team's entry refers to, if it exists."""
    if isinstance(item, TeamJiraIntegration):
        return next((j for j in global_integrations.jira or []
                     if (j.url, j.project_key) == (item.url, item.project_key)), None)
    return next((z for z in global_integrations.zendesk or []
                 if (z.url, z.group_id) == (item.url, item.group_id)), None)


def team_failing_policy_integration(automations: TeamAutomations) -> TeamIntegration | None:
    """The team integration its failing-policy tickets go to, if one is enabled for them."""
    return next((i for i in _team_all(automations) if i.enable_failing_policies), None)


def _team_all(automations: TeamAutomations) -> list[TeamIntegration]:
    return [*automations.jira, *automations.zendesk]


def team_integration_for(config: AppConfig, automations: TeamAutomations, kind: WebhookKind,
                         payload: Mapping[str, Any]) -> TicketIntegration | None:
    """The global integration (current token) a team's queued ticket goes to; None if the team no
    longer has it enabled or it was removed globally (the ticket is then dropped)."""
    target = payload.get("integration") or {}
    enabled = team_failing_policy_integration(automations)
    if enabled is None or ticket_kind_of_team(enabled) is not kind:
        return None
    if isinstance(enabled, TeamJiraIntegration):
        wanted: tuple[Any, Any] = (target.get("url"), target.get("project_key"))
        matches = (enabled.url, enabled.project_key) == wanted
    else:
        matches = (enabled.url, enabled.group_id) == (target.get("url"), target.get("group_id"))
    return resolve_team_integration(config.integrations, enabled) if matches else None


def ticket_kind_of_team(item: TeamIntegration) -> WebhookKind:
    return WebhookKind.JIRA if isinstance(item, TeamJiraIntegration) else WebhookKind.ZENDESK


def _link(kind: WebhookKind, text: str, url: str) -> str:
    # Jira's v2 API takes wiki markup; Zendesk takes Markdown.
    return f"[{text}|{url}]" if kind is WebhookKind.JIRA else f"[{text}]({url})"


def _host_lines(kind: WebhookKind, hosts: Sequence[VulnerableHost | FailingHost], server_url: str) -> list[str]:
    lines = [f"* {_link(kind, h.display_name, host_url(server_url, h.id))}" for h in hosts[:TICKET_HOSTS_LIMIT]]
    if len(hosts) > TICKET_HOSTS_LIMIT:
        lines.append(f"* ... and {len(hosts) - TICKET_HOSTS_LIMIT} more")
    return lines


def vulnerability_ticket(kind: WebhookKind, vulnerability: NewVulnerability, hosts: Sequence[VulnerableHost], *,
                         server_url: str) -> tuple[str, str]:
    """(summary, description) of the ticket announcing a CVE."""
    summary = f"Vulnerability {vulnerability.cve} detected on {len(hosts)} host(s)"
    lines = [f"Details of {vulnerability.cve} in the National Vulnerability Database (NVD): "
             f"{_link(kind, vulnerability.cve, vulnerability.details_link)}", ""]
    if vulnerability.cvss_score is not None:
        lines.append(f"CVSS score (NVD): {vulnerability.cvss_score}")
    if vulnerability.epss_probability is not None:
        lines.append(f"Probability of exploit (FIRST.org EPSS): {vulnerability.epss_probability}")
    if vulnerability.cisa_known_exploit is not None:
        lines.append(f"Known exploited (CISA): {'Yes' if vulnerability.cisa_known_exploit else 'No'}")
    if vulnerability.published is not None:
        lines.append(f"Published (NVD): {rfc3339(vulnerability.published)}")
    lines += ["", "Affected hosts:", "", *_host_lines(kind, hosts, server_url), "",
              f"To see the affected software and every affected host, search for \"{vulnerability.cve}\" on the "
              f"{_link(kind, 'Software', server_url.rstrip('/') + '/software/manage')} page in Fleet.",
              "", "----", "", f"This ticket was created automatically by your Fleet {_service(kind)} integration."]
    return summary, "\n".join(lines) + "\n"


def failing_policy_ticket(kind: WebhookKind, policy: Policy, hosts: Sequence[FailingHost], *,
                          server_url: str) -> tuple[str, str]:
    """(summary, description) of the ticket announcing hosts newly failing a policy."""
    summary = f"{policy.name} policy failed on {len(hosts)} host(s)"
    team = f"team_id={policy.team_id}&" if policy.team_id is not None else ""
    hosts_page = (f"{server_url.rstrip('/')}/hosts/manage/?order_key=hostname&order_direction=asc&{team}"
                  f"policy_id={policy.id}&policy_response=failing")
    lines = []
    if policy.critical:
        lines += ["This policy is marked as critical in Fleet.", ""]
    lines += ["Hosts:", "", *_host_lines(kind, hosts, server_url), "",
              f"Every host failing {policy.name} is listed on the {_link(kind, 'Hosts', hosts_page)} page in Fleet.",
              "", "----", "", f"This ticket was created automatically by your Fleet {_service(kind)} integration."]
    return summary, "\n".join(lines) + "\n"


def _service(kind: WebhookKind) -> str:
    return "Jira" if kind is WebhookKind.JIRA else "Zendesk"
