"""In-memory LiveQueryStore, for tests and demo mode (the campaigns' rows are in campaigns.py).

The store may be shared by server "processes" running on different event loops (the tests run
each app on a loop of its own), so its state is guarded by a thread lock and results are handed
to each subscriber on the subscriber's own loop.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import threading
from collections.abc import Sequence

from fleet_core.model.campaigns import LiveResult


class InMemoryResultSubscription:
    def __init__(self, owner: InMemoryLiveQueryStore, campaign_id: int) -> None:
        self._owner = owner
        self.campaign_id = campaign_id
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[LiveResult] = asyncio.Queue()
        self.closed = False

    def deliver(self, result: LiveResult) -> None:
        """Called from any thread: hand the result over on the subscriber's loop."""
        with contextlib.suppress(RuntimeError):  # the subscriber's loop is gone
            self.loop.call_soon_threadsafe(self.queue.put_nowait, result)

    async def next(self, wait: float) -> LiveResult | None:
        try:
            return await asyncio.wait_for(self.queue.get(), wait)
        except TimeoutError:
            return None

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._owner.unsubscribe(self)


class InMemoryLiveQueryStore:
    """Targets as sets of host ids, results delivered straight to subscribers' queues."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sql: dict[int, str] = {}
        self._pending: dict[int, set[int]] = {}
        self._subscribers: dict[int, list[InMemoryResultSubscription]] = {}
        self.available = True

    async def start(self, campaign_id: int, sql: str, host_ids: Sequence[int]) -> None:
        with self._lock:
            self._sql[campaign_id] = sql
            self._pending[campaign_id] = set(host_ids)

    async def stop(self, campaign_ids: Sequence[int]) -> None:
        with self._lock:
            for campaign_id in campaign_ids:
                self._sql.pop(campaign_id, None)
                self._pending.pop(campaign_id, None)

    async def queries_for_host(self, host_id: int) -> dict[int, str]:
        with self._lock:
            return {cid: sql for cid, sql in self._sql.items() if host_id in self._pending.get(cid, ())}

    async def answered(self, campaign_id: int, host_id: int) -> None:
        with self._lock:
            self._pending.get(campaign_id, set()).discard(host_id)

    async def active_ids(self) -> builtins.list[int]:
        with self._lock:
            return sorted(self._sql)

    async def publish(self, result: LiveResult) -> bool:
        with self._lock:
            subscribers = list(self._subscribers.get(result.campaign_id, ()))
        for subscriber in subscribers:
            subscriber.deliver(result)
        return bool(subscribers)

    async def subscribe(self, campaign_id: int) -> InMemoryResultSubscription:
        subscription = InMemoryResultSubscription(self, campaign_id)
        with self._lock:
            self._subscribers.setdefault(campaign_id, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: InMemoryResultSubscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.campaign_id, [])
            if subscription in subscribers:
                subscribers.remove(subscription)
            if not subscribers:
                self._subscribers.pop(subscription.campaign_id, None)

    async def ping(self) -> bool:
        return self.available
