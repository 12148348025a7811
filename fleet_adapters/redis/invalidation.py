"""Host-cache invalidation across server processes over Redis pub/sub (fleet_core.ports.InvalidationBus)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec
import redis.asyncio
import structlog
from redis.exceptions import RedisError

from fleet_core.errors import Unavailable

log = structlog.get_logger(__name__)

CHANNEL: Final = "fleet:hosts:invalidate"
# What subscribers receive when announcements may have been missed: drop every cached host.
EVERYTHING: Final[Sequence[int]] = ()

# The message that announces a configuration change (host announcements are JSON arrays).
CONFIG_MESSAGE: Final = b'"config"'

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(list[int] | str)


class RedisInvalidationBus:
    """Publishes host ids as a JSON array on ``fleet:hosts:invalidate``; one listener task per process.

    Pub/sub is fire-and-forget: whatever is published while the listener is disconnected is lost.
    So every time the subscription is re-established, each callback is called with EVERYTHING (an
    empty sequence) and must drop all cached hosts; caches never stay stale after a Redis outage.
    A message that cannot be decoded is treated the same way.

    The publishing process's own callbacks are called before ``publish`` returns, so a request that
    deletes or changes a host is never followed, in the same process, by an answer from the stale
    cache (the round trip through Redis takes milliseconds). Its own message then comes back from
    Redis and is recognised by its bytes and skipped, so every announcement is delivered once.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        *,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
        ping_interval: float = 10.0,
    ) -> None:
        self._redis = redis
        self._callbacks: list[Callable[[Sequence[int]], None]] = []
        self._config_callbacks: list[Callable[[], None]] = []
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._ping_interval = ping_interval
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        # True once the first start() returned: any subscription made after that (a reconnect, or a
        # restart after stop()) may have missed messages.
        self._live = False
        # Payloads this process published and delivered itself, whose copies from Redis are still
        # to come. Only counted while subscribed, and cleared at every (re)subscription: an echo
        # that never comes must not make a later identical announcement from elsewhere be skipped.
        self._echoes: Counter[bytes] = Counter()

    async def publish(self, host_ids: Sequence[int]) -> None:
        if not host_ids:
            return
        ids = tuple(int(host_id) for host_id in host_ids)
        self._deliver(ids)
        await self._send(_encoder.encode(ids), "host invalidation bus unavailable")

    async def _send(self, payload: bytes, unavailable: str) -> None:
        # Counted before the await: the echo may be read by the listener before publish returns.
        echo_expected = self._ready.is_set()
        if echo_expected:
            self._echoes[payload] += 1
        try:
            await self._redis.publish(CHANNEL, payload)
        except RedisError as exc:
            if echo_expected:
                self._take_echo(payload)
            raise Unavailable(unavailable) from exc

    def _take_echo(self, payload: bytes) -> bool:
        """Consume one expected copy of ``payload``; False when none was expected."""
        pending = self._echoes.get(payload, 0)
        if pending <= 0:
            return False
        if pending == 1:
            del self._echoes[payload]
        else:
            self._echoes[payload] = pending - 1
        return True

    def subscribe(self, callback: Callable[[Sequence[int]], None]) -> None:
        self._callbacks.append(callback)

    async def publish_config_changed(self) -> None:
        self._deliver_config()
        await self._send(CONFIG_MESSAGE, "invalidation bus unavailable")

    def subscribe_config(self, callback: Callable[[], None]) -> None:
        self._config_callbacks.append(callback)

    @property
    def subscribed(self) -> bool:
        """Whether the listener currently holds a subscription."""
        return self._ready.is_set()

    @property
    def connected(self) -> bool:
        # Cleared as soon as the listener sees the connection fail, set again only on the
        # subscription's confirmation, which also delivers EVERYTHING: no gap is left trusted.
        return self._ready.is_set()

    async def start(self, *, ready_timeout: float = 5.0) -> None:
        """Start the listener and wait up to ``ready_timeout`` for its subscription.

        Returns even when Redis is unreachable (the listener keeps trying), so a Redis outage does
        not stop the server from starting; the callbacks get EVERYTHING once it subscribes.
        """
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._listen(), name="fleet-host-invalidation")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), ready_timeout)
        if not self._ready.is_set():
            log.warning("host invalidation bus not subscribed yet; retrying in the background")
        self._live = True

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._ready.clear()

    async def _listen(self) -> None:
        delay = self._backoff_initial
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                last_heard = last_ping = time.monotonic()
                while True:
                    message = await pubsub.get_message(timeout=min(1.0, self._ping_interval))
                    now = time.monotonic()
                    if message is not None:
                        last_heard = now
                        if self._handle(message):
                            delay = self._backoff_initial
                        continue
                    if now - last_heard > 2 * self._ping_interval:
                        # A half-open connection never errors; silence after our pings is the only sign.
                        raise ConnectionError("no answer from Redis")
                    if now - last_ping >= self._ping_interval:
                        await pubsub.ping()
                        last_ping = now
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._ready.clear()
                self._echoes.clear()
                log.warning("host invalidation subscription lost", error=type(exc).__name__, retry_in=delay)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]
            # Jitter so a fleet of processes does not reconnect in lock step after a Redis restart.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._backoff_max)

    def _handle(self, message: dict[str, Any]) -> bool:
        """Deliver one pub/sub message; True when it (re)established the subscription."""
        kind = message.get("type")
        if kind == "subscribe":
            # redis-py re-subscribes on its own after some reconnects, so each confirmation is treated
            # as a possible gap, except the very first while start() is still waiting for it.
            # Echoes expected from before are lost with the old subscription, or arrive after this.
            self._echoes.clear()
            if self._live:
                self._deliver(EVERYTHING)
                self._deliver_config()
            self._ready.set()
            return True
        if kind != "message":
            return False
        if self._take_echo(message["data"]):
            return False
        try:
            decoded = _decoder.decode(message["data"])
        except (msgspec.DecodeError, TypeError):
            decoded = None
        if decoded == "config":
            self._deliver_config()
        elif isinstance(decoded, list):
            self._deliver(tuple(decoded))
        else:
            log.warning("undecodable invalidation message; dropping everything cached")
            self._deliver(EVERYTHING)
            self._deliver_config()
        return False

    def _deliver_config(self) -> None:
        for callback in list(self._config_callbacks):
            try:
                callback()
            except Exception:
                log.exception("config invalidation callback failed")

    def _deliver(self, host_ids: Sequence[int]) -> None:
        for callback in list(self._callbacks):
            try:
                callback(host_ids)
            except Exception:
                # A broken subscriber must not end the listener, or every cache would go stale.
                log.exception("host invalidation callback failed")
