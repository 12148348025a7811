"""The failing-policies and host-status webhooks: plan requests into a queue, then deliver it.

Planning runs in one unit of work under the planning lock, so processes take turns and a
(policy, host) pair is queued once: the pairs announced are recorded in the same transaction
as the queued requests. Delivery claims one queued request at a time with a lease (committed
before sending), posts it, then deletes it (success) or schedules a retry with backoff
(failure). A process that dies mid-request leaves the claim to expire, and the request is sent
again: delivery is at least once, with the queue id in the X-Fleet-Delivery-Id header so a
receiver can drop a repeat. Nothing is dropped: a request is retried until it is accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
import structlog

from fleet_core.errors import Unavailable
from fleet_core.model.config import AppConfig, FailingPoliciesWebhook
from fleet_core.model.hosts import HostFilter
from fleet_core.model.teams import TeamAutomations
from fleet_core.model.webhooks import Delivery, WebhookKind, WebhookSchedule
from fleet_core.ports import Clock, TicketSender, UnitOfWork, UnitOfWorkFactory, WebhookSender
from fleet_core.rules import integrations
from fleet_core.rules import webhooks as rules
from fleet_core.services.deliveries import UNCONFIGURED_TICKETS, deliver_due, ticket_sender

log = structlog.get_logger(__name__)


@attrs.define
class WebhookService:
    uow: UnitOfWorkFactory
    clock: Clock
    sender: WebhookSender
    schedule: WebhookSchedule = attrs.field(factory=WebhookSchedule)
    # Failing-policy tickets, when a Jira or Zendesk integration has that automation enabled.
    tickets: TicketSender = UNCONFIGURED_TICKETS

    async def run(self) -> None:
        """One pass of both webhooks (the periodic job); one failing does not stop the other."""
        for job in (self.run_host_status, self.run_failing_policies):
            try:
                await job()
            except Exception:
                log.exception("webhook_job_failed", job=job.__name__)

    async def run_failing_policies(self) -> int:
        """Queue a request per batch of hosts newly failing a watched policy (or, when a Jira or
        Zendesk integration has the failing-policy automation instead, one ticket per policy with
        all of them), then deliver what is due: for the global policies by the global settings,
        for each team's policies by that team's settings. Returns how many were accepted."""
        async with self.uow() as uow:
            config = await uow.app_config.get()
            targets = _failing_policy_targets(config, await uow.teams.all_automations())
            if targets:
                await self._plan_failing_policies(uow, config, targets)
        # Tickets queued before the automation was turned off are still sent (or dropped).
        tickets = await self._deliver_tickets()
        hook = config.webhook_settings.failing_policies_webhook
        webhook_on = hook.enable_failing_policies_webhook and bool(hook.destination_url)
        sent = await self._deliver(WebhookKind.FAILING_POLICIES) if webhook_on else 0
        return tickets + sent + await self._deliver_team_requests()

    async def _plan_failing_policies(self, uow: UnitOfWork, config: AppConfig,
                                     targets: list[_FailingPolicyTarget]) -> None:
        now = self.clock.now()
        server_url = config.server_settings.server_url
        await uow.webhooks.lock_planning()
        await uow.webhooks.forget_recovered()
        for target in targets:
            hook = target.hook
            for policy in await uow.webhooks.policies(hook.policy_ids):
                if policy.team_id != target.team_id:
                    continue
                failing = await uow.webhooks.newly_failing(policy.id)
                if target.ticketing is not None:
                    if failing:
                        kind = integrations.ticket_kind(target.ticketing)
                        summary, description = integrations.failing_policy_ticket(kind, policy, failing,
                                                                                  server_url=server_url)
                        payload = integrations.ticket_payload(target.ticketing, "failing_policy", summary=summary,
                                                              description=description)
                        if target.team_id is not None:
                            payload["team_id"] = target.team_id
                        await uow.webhooks.enqueue(kind, payload, now)
                        await uow.webhooks.mark_announced(policy.id, [h.id for h in failing], now)
                    continue
                for batch in rules.batches(failing, hook.host_batch_size):
                    body = rules.failing_policy_payload(policy, batch, server_url=server_url, now=now)
                    if target.team_id is None:
                        await uow.webhooks.enqueue(WebhookKind.FAILING_POLICIES, body, now)
                    else:
                        await uow.webhooks.enqueue(WebhookKind.TEAM_FAILING_POLICIES,
                                                   {"team_id": target.team_id, "request": body}, now)
                    await uow.webhooks.mark_announced(policy.id, [h.id for h in batch], now)
        await uow.commit()

    async def run_host_status(self) -> int:
        """Queue the host-status request if enough hosts are unseen and none was queued within
        the period, then deliver what is due. Returns how many requests were accepted."""
        async with self.uow() as uow:
            hook = (await uow.app_config.get()).webhook_settings.host_status_webhook
            if not hook.enable_host_status_webhook or not hook.destination_url:
                return 0
            now = self.clock.now()
            await uow.webhooks.lock_planning()
            last = await uow.webhooks.last_planned(WebhookKind.HOST_STATUS)
            if rules.host_status_due(last, now, self.schedule.host_status_period):
                total = await uow.host_inventory.count(HostFilter(), now=now)
                unseen = await uow.hosts.seen_before(now - dt.timedelta(days=hook.days_count))
                if rules.host_status_triggered(total_hosts=total, unseen_hosts=len(unseen),
                                               host_percentage=hook.host_percentage):
                    payload = rules.host_status_payload(total_hosts=total, unseen_host_ids=unseen,
                                                        days_count=hook.days_count)
                    await uow.webhooks.enqueue(WebhookKind.HOST_STATUS, payload, now)
                    await uow.webhooks.set_last_planned(WebhookKind.HOST_STATUS, now)
                    await uow.commit()
        return await self._deliver(WebhookKind.HOST_STATUS)

    async def _deliver(self, kind: WebhookKind) -> int:
        """Send the due requests of this kind to the URL configured now."""
        async def post(config: AppConfig, delivery: Delivery) -> None:
            settings = config.webhook_settings
            url = (settings.failing_policies_webhook.destination_url if kind is WebhookKind.FAILING_POLICIES
                   else settings.host_status_webhook.destination_url)
            await self.sender.post(url, delivery.payload, delivery_id=str(delivery.id))
        return await deliver_due(self.uow, self.clock, self.schedule, kind, post)

    async def _deliver_team_requests(self) -> int:
        """Send the due requests of teams' webhooks to each team's URL configured now; a request
        whose team has since turned its webhook off (or is gone) is dropped, as a ticket is."""
        async def post(config: AppConfig, delivery: Delivery) -> None:
            team_id = int(delivery.payload["team_id"])
            async with self.uow() as uow:
                hook = (await uow.teams.automations(team_id)).failing_policies_webhook
            if not (hook.enable_failing_policies_webhook and hook.destination_url):
                log.info("team_webhook_request_dropped", team_id=team_id, delivery_id=delivery.id)
                return
            await self.sender.post(hook.destination_url, delivery.payload["request"], delivery_id=str(delivery.id))
        return await deliver_due(self.uow, self.clock, self.schedule, WebhookKind.TEAM_FAILING_POLICIES, post)

    async def _deliver_tickets(self) -> int:
        send = ticket_sender(self.tickets, self.uow)
        return sum([await deliver_due(self.uow, self.clock, self.schedule, kind, send)
                    for kind in (WebhookKind.JIRA, WebhookKind.ZENDESK)])


@attrs.frozen
class _FailingPolicyTarget:
    """Where failures of the policies of one scope go: the global policies (team_id None) or one
    team's."""

    team_id: int | None
    hook: FailingPoliciesWebhook
    # Tickets instead of webhook requests, to this (global, credentialed) integration.
    ticketing: integrations.TicketIntegration | None


def _failing_policy_targets(config: AppConfig,
                            teams: Mapping[int, TeamAutomations]) -> list[_FailingPolicyTarget]:
    """The scopes with a failing-policy automation switched on."""
    targets = []
    scopes: list[tuple[int | None, FailingPoliciesWebhook, integrations.TicketIntegration | None]] = [
        (None, config.webhook_settings.failing_policies_webhook,
         integrations.failing_policy_integration(config.integrations))]
    for team_id, automations in teams.items():
        chosen = integrations.team_failing_policy_integration(automations)
        scopes.append((team_id, automations.failing_policies_webhook,
                       None if chosen is None else integrations.resolve_team_integration(config.integrations, chosen)))
    for scope, hook, ticketing in scopes:
        if (hook.enable_failing_policies_webhook and hook.destination_url) or ticketing is not None:
            targets.append(_FailingPolicyTarget(team_id=scope, hook=hook, ticketing=ticketing))
    return targets


class _UnconfiguredSender:
    """For assemblies without a way to send: every delivery fails, so it stays queued."""

    async def post(self, url: str, payload: Mapping[str, Any], *, delivery_id: str) -> None:
        raise Unavailable("no webhook sender is configured in this process")


UNCONFIGURED_SENDER: WebhookSender = _UnconfiguredSender()
