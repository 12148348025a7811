"""PgUnitOfWork: one pooled connection, one transaction, every repository bound to it."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg_pool import PoolTimeout

from fleet_adapters.postgres.activities import PgActivityRepository
from fleet_adapters.postgres.app_config import PgAppConfigRepository
from fleet_adapters.postgres.campaigns import PgCampaignRepository
from fleet_adapters.postgres.carves import PgCarveRepository
from fleet_adapters.postgres.device_tokens import PgDeviceTokenRepository
from fleet_adapters.postgres.enroll_secrets import PgEnrollSecretRepository
from fleet_adapters.postgres.errors import translate, translated
from fleet_adapters.postgres.host_listing import PgHostListing
from fleet_adapters.postgres.hosts import PgHostAggregateRepository, PgHostInventoryRepository, PgHostRepository
from fleet_adapters.postgres.invites import PgInviteRepository
from fleet_adapters.postgres.labels import PgLabelRepository
from fleet_adapters.postgres.packs import PgPackRepository
from fleet_adapters.postgres.password_resets import PgPasswordResetRepository
from fleet_adapters.postgres.policies import PgPolicyRepository
from fleet_adapters.postgres.pool import Pool
from fleet_adapters.postgres.queries import PgQueryRepository
from fleet_adapters.postgres.sessions import PgSessionRepository
from fleet_adapters.postgres.software import PgSoftwareRepository
from fleet_adapters.postgres.teams import PgTeamRepository
from fleet_adapters.postgres.users import PgUserRepository
from fleet_adapters.postgres.vulnerabilities import PgVulnerabilityRepository
from fleet_adapters.postgres.vulnerability_announcements import PgVulnerabilityAnnouncementRepository
from fleet_adapters.postgres.webhooks import PgWebhookRepository
from fleet_core.errors import Unavailable


class PgUnitOfWork:
    """One pooled connection, one transaction; rolls back unless commit() ran.

    After commit() the unit of work stays usable: the next statement opens a new
    transaction, which again needs its own commit().
    """

    users: PgUserRepository
    sessions: PgSessionRepository
    invites: PgInviteRepository
    password_resets: PgPasswordResetRepository
    app_config: PgAppConfigRepository
    enroll_secrets: PgEnrollSecretRepository
    teams: PgTeamRepository
    activities: PgActivityRepository
    hosts: PgHostRepository
    host_inventory: PgHostInventoryRepository
    host_aggregates: PgHostAggregateRepository
    labels: PgLabelRepository
    queries: PgQueryRepository
    packs: PgPackRepository
    policies: PgPolicyRepository
    device_tokens: PgDeviceTokenRepository
    campaigns: PgCampaignRepository
    carves: PgCarveRepository
    webhooks: PgWebhookRepository
    software: PgSoftwareRepository
    vulnerabilities: PgVulnerabilityRepository
    vulnerability_announcements: PgVulnerabilityAnnouncementRepository
    host_listing: PgHostListing

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def __aenter__(self) -> Self:
        # getconn/putconn rather than pool.connection(): the latter COMMITs on a clean exit,
        # and AsyncExitStack.aclose() after a cancelled rollback would count as clean.
        try:
            conn = await self._pool.getconn()
        except (PoolTimeout, psycopg.OperationalError):
            raise Unavailable("database unavailable") from None
        self._conn: AsyncConnection[Any] = conn
        self.users = PgUserRepository(conn)
        self.sessions = PgSessionRepository(conn)
        self.invites = PgInviteRepository(conn)
        self.password_resets = PgPasswordResetRepository(conn)
        self.app_config = PgAppConfigRepository(conn)
        self.enroll_secrets = PgEnrollSecretRepository(conn)
        self.teams = PgTeamRepository(conn)
        self.activities = PgActivityRepository(conn)
        self.hosts = PgHostRepository(conn)
        self.host_inventory = PgHostInventoryRepository(conn)
        self.host_aggregates = PgHostAggregateRepository(conn)
        self.labels = PgLabelRepository(conn)
        self.queries = PgQueryRepository(conn)
        self.packs = PgPackRepository(conn)
        self.webhooks = PgWebhookRepository(conn)
        self.policies = PgPolicyRepository(conn)
        self.device_tokens = PgDeviceTokenRepository(conn)
        self.campaigns = PgCampaignRepository(conn)
        self.carves = PgCarveRepository(conn)
        self.software = PgSoftwareRepository(conn)
        self.vulnerabilities = PgVulnerabilityRepository(conn)
        self.vulnerability_announcements = PgVulnerabilityAnnouncementRepository(conn)
        self.host_listing = PgHostListing(conn)
        return self

    async def commit(self) -> None:
        with translated():
            await self._conn.commit()

    async def __aexit__(self, *exc_info: object) -> None:
        # Leaving without commit() means nothing written, however we leave: the rollback and
        # the return run in a task of their own that a cancellation of this one (a client
        # that went away, a timeout) cannot interrupt. Only the wait for them is cancelled.
        returning = asyncio.ensure_future(_roll_back_and_return(self._pool, self._conn))
        _RETURNING.add(returning)
        returning.add_done_callback(_RETURNING.discard)
        await asyncio.shield(returning)
        # A statement run outside translated() still must not reach a transport as a driver
        # error (a 500 quoting the refused value): the refusals that encode a rule or a
        # limit become their core error here.
        error = exc_info[1] if len(exc_info) > 1 else None
        if isinstance(error, psycopg.Error | UnicodeEncodeError) and (core := translate(error)) is not None:
            raise core from None


# Strong references to the returns still running after their unit of work was cancelled:
# the event loop keeps only weak ones to tasks.
_RETURNING: set[asyncio.Future[None]] = set()


async def _roll_back_and_return(pool: Pool, conn: AsyncConnection[Any]) -> None:
    try:
        # Only an open or failed transaction has anything to roll back. A connection closed by
        # psycopg's own query cancellation, or one still ACTIVE, is the pool's to discard.
        if conn.pgconn.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            with suppress(psycopg.Error):
                await conn.rollback()
    finally:
        # The pool resets (and, whatever is still wrong with it, closes) what it gets back.
        await pool.putconn(conn)
