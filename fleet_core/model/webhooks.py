"""What the failing-policies and host-status webhooks send, and the queue that delivers it."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs


class WebhookKind(enum.StrEnum):
    FAILING_POLICIES = "failing_policies"
    HOST_STATUS = "host_status"
    VULNERABILITIES = "vulnerabilities"
    # A team's failing-policies webhook: the payload is {"team_id": ..., "request": <body sent>},
    # as the URL is the team's.
    TEAM_FAILING_POLICIES = "team_failing_policies"
    # Ticket creations queued like webhook requests, sent by the Jira or Zendesk client.
    JIRA = "jira"
    ZENDESK = "zendesk"


@attrs.frozen
class FailingHost:
    id: int
    hostname: str
    display_name: str


@attrs.frozen
class Delivery:
    """One queued webhook request. ``attempts`` counts the claims so far; a claim is also the
    token that lets only its holder complete or reschedule the delivery."""

    id: int
    kind: WebhookKind
    payload: dict[str, Any]
    created_at: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str = ""


@attrs.frozen
class WebhookSchedule:
    """How often the jobs run and how deliveries are retried."""

    check_interval: dt.timedelta = dt.timedelta(minutes=1)
    retry_base: dt.timedelta = dt.timedelta(minutes=1)
    retry_max: dt.timedelta = dt.timedelta(hours=1)
    # A claimed delivery whose outcome was never recorded (the process died mid-request) is
    # due again after this long; it must exceed the sender's timeout.
    lease: dt.timedelta = dt.timedelta(minutes=5)
    host_status_period: dt.timedelta = dt.timedelta(days=1)
