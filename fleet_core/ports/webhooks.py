"""The failing-policies and host-status webhooks' bookkeeping."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from fleet_core.model.policies import Policy
from fleet_core.model.webhooks import Delivery, FailingHost, WebhookKind


class WebhookRepository(Protocol):
    """What the failing-policies and host-status webhooks need: the failing (policy, host) pairs
    already announced, a queue of deliveries, and when the host-status webhook last fired.

    A failing pair is a policy_membership row with passes = false. Deliveries are claimed with a
    lease (claim, commit, send, then complete or retry_later in a new unit of work); a claimed
    delivery is invisible to other claimers until its lease ends."""

    async def lock_planning(self) -> None:
        """Hold the planning lock until the unit of work ends: planners in every process take
        turns, so each sees what the previous one committed."""
        ...

    async def forget_recovered(self) -> int:
        """Forget the announced pairs that are no longer failing (passing again, result or host or
        policy gone), so that failing again announces them anew; returns how many went."""
        ...

    async def policies(self, policy_ids: Sequence[int]) -> builtins.list[Policy]:
        """The existing policies among ``policy_ids`` by id, with author name and email and their
        passing and failing host counts."""
        ...

    async def newly_failing(self, policy_id: int) -> builtins.list[FailingHost]:
        """The hosts failing the policy whose pair was not announced yet, by id."""
        ...

    async def mark_announced(self, policy_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        """Record these pairs as announced."""
        ...

    async def enqueue(self, kind: WebhookKind, payload: Mapping[str, Any], at: dt.datetime) -> Delivery:
        """Queue a delivery, due at once (created_at = next_attempt_at = at, attempts 0)."""
        ...

    async def claim(self, kind: WebhookKind, *, now: dt.datetime, lease_until: dt.datetime) -> Delivery | None:
        """The due delivery of this kind (next_attempt_at <= now) with the lowest id, claimed:
        attempts + 1 and next_attempt_at = lease_until, as returned. Rows another unit of work is
        claiming are skipped, never waited for. None if nothing is due."""
        ...

    async def complete(self, delivery: Delivery) -> bool:
        """Delete the delivery if ``delivery`` (its attempts) is still the latest claim; whether it did."""
        ...

    async def retry_later(self, delivery: Delivery, *, at: dt.datetime, error: str) -> bool:
        """Make the delivery due at ``at`` with ``error`` as its last error, if ``delivery`` is
        still the latest claim; whether it did."""
        ...

    async def pending(self) -> builtins.list[Delivery]:
        """Every queued delivery, by id."""
        ...

    async def last_planned(self, kind: WebhookKind) -> dt.datetime | None:
        """When set_last_planned last recorded a planned request of this kind, or None."""
        ...

    async def set_last_planned(self, kind: WebhookKind, at: dt.datetime) -> None:
        ...
