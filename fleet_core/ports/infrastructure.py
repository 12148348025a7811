"""Infrastructure the core needs: time, tokens and password hashing, mail, rate limits, outbound
webhooks, health, the cross-process invalidation bus, osquery log shipping and pack delivery."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from fleet_core.model.config import SMTPSettings
from fleet_core.model.hosts import HostIdentity
from fleet_core.model.mail import Email


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class TokenGenerator(Protocol):
    def token(self) -> str:
        """A fresh random credential of at least 32 bytes of entropy, URL-safe."""
        ...

    def digest(self, token: str) -> str:
        """The stored form of a credential: a fast one-way hash (tokens are high-entropy)."""
        ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str:
        """A salted, slow hash of the password (off the event loop)."""
        ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches; False (never an error) for a malformed hash."""
        ...


class Mailer(Protocol):
    async def send(self, settings: SMTPSettings, email: Email) -> None:
        """Deliver through the SMTP server the settings name. Raises NotConfigured if SMTP is
        disabled, Unavailable if the server refused or could not be reached."""
        ...


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        """Count one attempt under ``key`` in a fixed window; return 0 while the count stays
        within ``limit``, else the seconds until the window resets. Shared across processes."""
        ...

    async def blocked(self, key: str, *, limit: int) -> int:
        """Without counting: 0 while fewer than ``limit`` attempts are in the current window
        under ``key``, else the seconds until it resets (at least 1)."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the attempts under ``key``."""
        ...


class WebhookSender(Protocol):
    async def post(self, url: str, payload: Mapping[str, Any], *, delivery_id: str) -> None:
        """POST ``payload`` as JSON to ``url``, with ``delivery_id`` in the X-Fleet-Delivery-Id
        header so receivers can drop a repeated delivery. Raises Unavailable if the request failed,
        timed out or was answered with a status other than 2xx."""
        ...


class HealthCheck(Protocol):
    async def check(self) -> dict[str, bool]:
        """Each backing service by name, True when it answered."""
        ...


class InvalidationBus(Protocol):
    """Tells every server process that cached facts about some hosts are stale.

    An announcement may be lost (a process was disconnected or stopped); the bus then calls the
    callbacks with an empty sequence instead, meaning "any host may have changed"."""

    async def publish(self, host_ids: Sequence[int]) -> None:
        """Announce that these hosts changed (re-enrolled, deleted, moved, refetched, ...). An empty
        sequence announces nothing. Raises Unavailable if the announcement was not sent."""
        ...

    def subscribe(self, callback: Callable[[Sequence[int]], None]) -> None:
        """Call ``callback`` once with the host ids of every announcement, this process's included
        (its own before ``publish`` returns). An empty sequence means every host: drop everything
        cached. Callbacks run on the event loop and must not block; one that raises does not stop
        the others."""
        ...

    async def publish_config_changed(self) -> None:
        """Announce that the app configuration or a team's agent options changed. Raises
        Unavailable if the announcement was not sent."""
        ...

    def subscribe_config(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every configuration announcement (this process's own before
        ``publish_config_changed`` returns), and whenever announcements may have been lost (the
        same moments an empty host sequence is delivered)."""
        ...

    @property
    def connected(self) -> bool:
        """Whether announcements are being received right now. While False (the connection to the
        bus dropped and is not re-established yet) an announcement may be missed, so nothing
        cached on the strength of the bus may be trusted: callers read the stored truth instead."""
        ...


class LogDestination(Protocol):
    """Where osquery result and status logs go (filesystem, stdout, ...)."""

    async def write(self, log_type: str, records: Sequence[bytes]) -> None:
        """Durably hand over one batch of raw JSON records ("result" or "status"). Raises
        Unavailable if the batch was not accepted; it may then be sent again whole. An empty batch
        is accepted and writes nothing."""
        ...


class PackSource(Protocol):
    """The scheduled queries a host runs, as osquery packs (filled by the queries/packs capability)."""

    async def packs_for_host(self, host: HostIdentity) -> Mapping[str, Any]:
        """osquery `packs` for this host: pack name -> {"queries": {name: {...}}, ...}; {} if none."""
        ...
