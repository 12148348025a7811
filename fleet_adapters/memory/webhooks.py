"""In-memory WebhookRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from fleet_adapters.memory.policies import InMemoryPolicyRepository
from fleet_core.model.policies import Policy
from fleet_core.model.webhooks import Delivery, FailingHost, WebhookKind

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class WebhookTables:
    """The announced (policy, host) pairs, the delivery queue and the last planned times; values
    are immutable, so a shallow copy of each dict is a snapshot."""

    announced: dict[tuple[int, int], dt.datetime] = attrs.field(factory=dict)
    deliveries: dict[int, Delivery] = attrs.field(factory=dict)
    last_planned: dict[WebhookKind, dt.datetime] = attrs.field(factory=dict)

    def copy(self) -> WebhookTables:
        return WebhookTables(announced=dict(self.announced), deliveries=dict(self.deliveries),
                             last_planned=dict(self.last_planned))


@attrs.define
class InMemoryWebhookRepository:
    state: _State
    store: InMemoryStore

    @property
    def _tables(self) -> WebhookTables:
        return self.state.webhooks

    def _failing(self) -> set[tuple[int, int]]:
        return {(policy_id, host_id)
                for host_id, answers in self.state.host_tables.policy_membership.items()
                for policy_id, passes in answers
                if passes is False and policy_id in self.state.policies and host_id in self.state.host_tables.hosts}

    async def lock_planning(self) -> None:
        # The store's lock already serialises units of work.
        return None

    async def forget_recovered(self) -> int:
        failing = self._failing()
        gone = [pair for pair in self._tables.announced if pair not in failing]
        for pair in gone:
            del self._tables.announced[pair]
        return len(gone)

    async def policies(self, policy_ids: Sequence[int]) -> builtins.list[Policy]:
        reader = InMemoryPolicyRepository(self.state, self.store)
        found = [await reader.get(i) for i in sorted(set(policy_ids))]
        return [p for p in found if p is not None]

    async def newly_failing(self, policy_id: int) -> builtins.list[FailingHost]:
        hosts = self.state.host_tables.hosts
        ids = sorted(host_id for p, host_id in self._failing()
                     if p == policy_id and (p, host_id) not in self._tables.announced)
        return [FailingHost(id=i, hostname=hosts[i].hostname, display_name=hosts[i].display_name) for i in ids]

    async def mark_announced(self, policy_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        for host_id in host_ids:
            self._tables.announced[(policy_id, host_id)] = at

    async def enqueue(self, kind: WebhookKind, payload: Mapping[str, Any], at: dt.datetime) -> Delivery:
        delivery = Delivery(id=self.store.next_id("webhook_deliveries"), kind=kind, payload=_json_copy(payload),
                            created_at=at, attempts=0, next_attempt_at=at)
        self._tables.deliveries[delivery.id] = delivery
        return delivery

    async def claim(self, kind: WebhookKind, *, now: dt.datetime, lease_until: dt.datetime) -> Delivery | None:
        due = [d for d in self._tables.deliveries.values() if d.kind == kind and d.next_attempt_at <= now]
        if not due:
            return None
        first = min(due, key=lambda d: d.id)
        claimed = attrs.evolve(first, attempts=first.attempts + 1, next_attempt_at=lease_until)
        self._tables.deliveries[claimed.id] = claimed
        return attrs.evolve(claimed, payload=_json_copy(claimed.payload))

    async def complete(self, delivery: Delivery) -> bool:
        if not self._holds(delivery):
            return False
        del self._tables.deliveries[delivery.id]
        return True

    async def retry_later(self, delivery: Delivery, *, at: dt.datetime, error: str) -> bool:
        if not self._holds(delivery):
            return False
        current = self._tables.deliveries[delivery.id]
        self._tables.deliveries[delivery.id] = attrs.evolve(current, next_attempt_at=at, last_error=error)
        return True

    async def pending(self) -> builtins.list[Delivery]:
        return [attrs.evolve(d, payload=_json_copy(d.payload))
                for _, d in sorted(self._tables.deliveries.items())]

    async def last_planned(self, kind: WebhookKind) -> dt.datetime | None:
        return self._tables.last_planned.get(kind)

    async def set_last_planned(self, kind: WebhookKind, at: dt.datetime) -> None:
        self._tables.last_planned[kind] = at

    def _holds(self, delivery: Delivery) -> bool:
        current = self._tables.deliveries.get(delivery.id)
        return current is not None and current.attempts == delivery.attempts


def _json_copy(value: Any) -> Any:
    # Payloads are JSON documents; copying keeps stored ones safe from callers' mutation.
    if isinstance(value, Mapping):
        return {str(k): _json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_copy(v) for v in value]
    return value
