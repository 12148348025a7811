"""Sending what the automations queued: webhook requests and tickets share one queue
(webhook_deliveries, through WebhookRepository) and one delivery loop; only the sender differs.

A delivery is claimed with a lease (committed before sending), sent, then deleted (accepted)
or rescheduled with backoff (refused): at least once, retried until accepted, as the module
docstring of fleet_core.services.webhooks explains.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from fleet_core.errors import Unavailable
from fleet_core.model.config import AppConfig, JiraIntegration, ZendeskIntegration
from fleet_core.model.webhooks import Delivery, WebhookKind, WebhookSchedule
from fleet_core.ports import Clock, TicketSender, UnitOfWorkFactory
from fleet_core.rules import webhooks as rules
from fleet_core.rules.integrations import integration_for, team_integration_for

log = structlog.get_logger(__name__)

# Sends one delivery with the configuration current when it was claimed; raises Unavailable
# to have it retried later.
Send = Callable[[AppConfig, Delivery], Awaitable[None]]


async def deliver_due(uow: UnitOfWorkFactory, clock: Clock, schedule: WebhookSchedule, kind: WebhookKind,
                      send: Send) -> int:
    """Send the due deliveries of this kind until one fails (the receiver is likely down; the
    rest wait for the next run). Returns how many were accepted."""
    sent = 0
    while True:
        async with uow() as work:
            config = await work.app_config.get()
            now = clock.now()
            delivery = await work.webhooks.claim(kind, now=now, lease_until=now + schedule.lease)
            await work.commit()
        if delivery is None:
            return sent
        try:
            await send(config, delivery)
        except Unavailable as exc:
            delay = rules.retry_delay(delivery.attempts, base=schedule.retry_base, cap=schedule.retry_max)
            async with uow() as work:
                await work.webhooks.retry_later(delivery, at=clock.now() + delay, error=str(exc))
                await work.commit()
            log.warning("webhook_delivery_failed", kind=str(kind), delivery_id=delivery.id, attempts=delivery.attempts,
                        retry_in_seconds=delay.total_seconds(), error=str(exc))
            return sent
        async with uow() as work:
            await work.webhooks.complete(delivery)
            await work.commit()
        sent += 1


def ticket_sender(tickets: TicketSender, uow: UnitOfWorkFactory) -> Send:
    """Creates a queued ticket with the integration's current credentials; a ticket whose
    integration was removed or disabled since it was queued (globally, or for a team's ticket by
    that team) is dropped (logged), as Fleet does."""
    async def send(config: AppConfig, delivery: Delivery) -> None:
        team_id = delivery.payload.get("team_id")
        if team_id is None:
            integration = integration_for(config, delivery.kind, delivery.payload)
        else:
            async with uow() as work:
                automations = await work.teams.automations(int(team_id))
            integration = team_integration_for(config, automations, delivery.kind, delivery.payload)
        if integration is None:
            log.info("ticket_dropped_integration_gone", kind=str(delivery.kind), delivery_id=delivery.id)
            return
        summary, description = str(delivery.payload["summary"]), str(delivery.payload["description"])
        if isinstance(integration, JiraIntegration):
            await tickets.create_jira_issue(integration, summary=summary, description=description)
        else:
            await tickets.create_zendesk_ticket(integration, subject=summary, body=description)
    return send


class _UnconfiguredTickets:
    """For assemblies without ticket systems: checks refuse and tickets stay queued."""

    async def create_jira_issue(self, jira: JiraIntegration, *, summary: str, description: str) -> None:
        raise Unavailable("no ticket sender is configured in this process")

    async def create_zendesk_ticket(self, zendesk: ZendeskIntegration, *, subject: str, body: str) -> None:
        raise Unavailable("no ticket sender is configured in this process")


UNCONFIGURED_TICKETS: TicketSender = _UnconfiguredTickets()
