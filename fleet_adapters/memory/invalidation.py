"""Host-cache invalidation inside one process (fleet_core.ports.InvalidationBus), for tests and demo mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

log = structlog.get_logger(__name__)


class InMemoryInvalidationBus:
    """Calls every subscriber synchronously during ``publish``; there is no other process to tell."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Sequence[int]], None]] = []
        self._config_callbacks: list[Callable[[], None]] = []

    async def publish(self, host_ids: Sequence[int]) -> None:
        if not host_ids:
            return
        ids = tuple(int(host_id) for host_id in host_ids)
        for callback in list(self._callbacks):
            try:
                callback(ids)
            except Exception:
                # Same as the Redis bus: one broken subscriber must not starve the others.
                log.exception("host invalidation callback failed")

    def subscribe(self, callback: Callable[[Sequence[int]], None]) -> None:
        self._callbacks.append(callback)

    async def publish_config_changed(self) -> None:
        for callback in list(self._config_callbacks):
            try:
                callback()
            except Exception:
                log.exception("config invalidation callback failed")

    def subscribe_config(self, callback: Callable[[], None]) -> None:
        self._config_callbacks.append(callback)

    @property
    def connected(self) -> bool:
        # Delivery is a direct call inside this process: nothing can be missed.
        return True

    async def start(self) -> None:
        """Nothing to start; present so the composition root treats every bus alike."""

    async def stop(self) -> None:
        """Nothing to stop."""
