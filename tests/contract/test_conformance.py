"""Every storage adapter implements its port; checked by mypy (`mypy tests/contract`), not at run time."""

from __future__ import annotations

from fleet_adapters.memory import InMemoryStore
from fleet_adapters.postgres.pool import Pool
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_core import ports


def _postgres_conforms(pool: Pool, uow: PgUnitOfWork) -> tuple[object, ...]:
    factory: ports.UnitOfWorkFactory = lambda: PgUnitOfWork(pool)  # noqa: E731
    users: ports.UserRepository = uow.users
    sessions: ports.SessionRepository = uow.sessions
    invites: ports.InviteRepository = uow.invites
    resets: ports.PasswordResetRepository = uow.password_resets
    config: ports.AppConfigRepository = uow.app_config
    secrets: ports.EnrollSecretRepository = uow.enroll_secrets
    teams: ports.TeamRepository = uow.teams
    activities: ports.ActivityRepository = uow.activities
    hosts: ports.HostRepository = uow.hosts
    host_inventory: ports.HostInventoryRepository = uow.host_inventory
    host_aggregates: ports.HostAggregateRepository = uow.host_aggregates
    return (factory, users, sessions, invites, resets, config, secrets, teams, activities, hosts, host_inventory,
            host_aggregates)


def _memory_conforms(store: InMemoryStore) -> ports.UnitOfWorkFactory:
    return store.unit_of_work

