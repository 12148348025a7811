"""The all-in-memory kit: every port implemented without a server, for tests and library use."""

from __future__ import annotations

import datetime as dt

import argon2
import attrs

from fleet_adapters.integrations import HttpTicketSystems
from fleet_adapters.memory.carve_store import InMemoryCarveStore
from fleet_adapters.memory.diagnostics import InMemoryDatabaseDiagnostics
from fleet_adapters.memory.error_reports import InMemoryErrorReportStore
from fleet_adapters.memory.installers import InMemoryInstallerStore
from fleet_adapters.memory.invalidation import InMemoryInvalidationBus
from fleet_adapters.memory.live_queries import InMemoryLiveQueryStore
from fleet_adapters.memory.logs import RecordingLogDestination
from fleet_adapters.memory.mail import RecordingMailer
from fleet_adapters.memory.metrics import RecordingMetrics
from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.memory.schedule_lock import InMemoryScheduleLock
from fleet_adapters.memory.sso import InMemorySSOStateStore
from fleet_adapters.memory.uow import InMemoryStore, InMemoryUnitOfWork
from fleet_adapters.process_diagnostics import PythonProcessDiagnostics
from fleet_adapters.saml import OneLoginServiceProvider
from fleet_adapters.security.argon2 import Argon2PasswordHasher
from fleet_adapters.security.tokens import SecretsTokenGenerator
from fleet_adapters.webhook_sender import HttpWebhookSender
from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.webhooks import WebhookSchedule
from fleet_core.ports import Clock, WebhookSender
from fleet_core.ports.vulnerability_feeds import VulnerabilityFeed
from fleet_core.services import Services, make_services

__all__ = ["InMemoryKit", "InMemoryStore", "InMemoryUnitOfWork", "MovableClock", "in_memory_kit"]


@attrs.define
class MovableClock:
    """A clock tests can move; starts at the real current time."""

    current: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, delta: dt.timedelta) -> None:
        self.current += delta


class AlwaysHealthy:
    async def check(self) -> dict[str, bool]:
        return {"memory": True}


@attrs.frozen
class InMemoryKit:
    """The services plus the fakes behind them, so tests can look at what was stored or sent."""

    services: Services
    store: InMemoryStore
    mailer: RecordingMailer
    clock: Clock
    logs: RecordingLogDestination
    live_store: InMemoryLiveQueryStore
    carve_store: InMemoryCarveStore
    metrics: RecordingMetrics


def in_memory_kit(
    *, runtime: ServerRuntime | None = None, clock: Clock | None = None,
    webhook_sender: WebhookSender | None = None, webhook_schedule: WebhookSchedule | None = None,
    vulnerability_feed: VulnerabilityFeed | None = None,
) -> InMemoryKit:
    store = InMemoryStore()
    mailer = RecordingMailer()
    logs = RecordingLogDestination()
    clock = clock or MovableClock()
    live_store = InMemoryLiveQueryStore()
    carve_store = InMemoryCarveStore()
    metrics = RecordingMetrics()
    services = make_services(
        uow=store.unit_of_work,
        # Real argon2 with the cheapest parameters: same code path, test-speed hashing.
        hasher=Argon2PasswordHasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)),
        tokens=SecretsTokenGenerator(),
        clock=clock,
        mailer=mailer,
        rate_limiter=InMemoryRateLimiter(clock),
        health=AlwaysHealthy(),
        runtime=runtime or ServerRuntime(),
        bus=InMemoryInvalidationBus(),
        logs={"result": logs, "status": logs},
        schedule_lock=InMemoryScheduleLock(),
        database_diagnostics=InMemoryDatabaseDiagnostics(store),
        process_diagnostics=PythonProcessDiagnostics(),
        # Webhooks go out over real HTTP: they are only sent once a destination URL is configured.
        webhook_sender=webhook_sender or HttpWebhookSender(),
        webhook_schedule=webhook_schedule or WebhookSchedule(),
        live_store=live_store,
        vulnerability_feed=vulnerability_feed,
        error_reports=InMemoryErrorReportStore(),
        installers=InMemoryInstallerStore(),
        # Tickets too: integrations are only tried once a test configures one.
        ticket_sender=HttpTicketSystems(),
        integration_checker=HttpTicketSystems(),
        carve_store=carve_store,
        # The real SAML toolkit: tests drive it with a signing IdP of their own.
        saml=OneLoginServiceProvider(),
        sso_store=InMemorySSOStateStore(clock),
        metrics=metrics,
    )
    return InMemoryKit(services=services, store=store, mailer=mailer, clock=clock, logs=logs, live_store=live_store,
                       carve_store=carve_store, metrics=metrics)
