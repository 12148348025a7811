"""The service layer: one object per capability, each call one unit of work."""

from __future__ import annotations

import attrs

from fleet_core.model.runtime import ServerRuntime
from fleet_core.ports import (
    Clock,
    HealthCheck,
    Mailer,
    PasswordHasher,
    RateLimiter,
    TokenGenerator,
    UnitOfWorkFactory,
)
from fleet_core.services.activities import ActivityService
from fleet_core.services.auth import AuthService
from fleet_core.services.config import ConfigService
from fleet_core.services.invites import InviteService
from fleet_core.services.setup import SetupService
from fleet_core.services.users import UserService


@attrs.frozen
class Services:
    auth: AuthService
    setup: SetupService
    users: UserService
    invites: InviteService
    config: ConfigService
    activities: ActivityService
    health: HealthCheck
    runtime: ServerRuntime


def make_services(
    *,
    uow: UnitOfWorkFactory,
    hasher: PasswordHasher,
    tokens: TokenGenerator,
    clock: Clock,
    mailer: Mailer,
    rate_limiter: RateLimiter,
    health: HealthCheck,
    runtime: ServerRuntime,
) -> Services:
    """The one place services are assembled (called by the adapters' bootstrap and in-memory kit)."""
    activities = ActivityService(uow=uow, clock=clock)
    auth = AuthService(
        uow=uow, hasher=hasher, tokens=tokens, clock=clock, mailer=mailer,
        rate_limiter=rate_limiter, runtime=runtime,
    )
    return Services(
        auth=auth,
        setup=SetupService(uow=uow, hasher=hasher, auth=auth, clock=clock),
        users=UserService(uow=uow, hasher=hasher, tokens=tokens, clock=clock),
        invites=InviteService(uow=uow, tokens=tokens, clock=clock, mailer=mailer, runtime=runtime),
        config=ConfigService(uow=uow, clock=clock, mailer=mailer, runtime=runtime),
        activities=activities,
        health=health,
        runtime=runtime,
    )
