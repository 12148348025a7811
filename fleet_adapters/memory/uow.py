"""The in-memory store and its unit of work, the twin of postgres/uow.py.

The repositories keep the ports' semantics, not SQL's shape: uniqueness, ordering, rollback. A
unit of work works on a copy of the committed state and swaps it in on commit; units of work are
serialised by a lock, which is stricter than Postgres' READ COMMITTED but never loses an update.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
from typing import Self

import attrs

from fleet_adapters.memory.activities import InMemoryActivityRepository
from fleet_adapters.memory.app_config import InMemoryAppConfigRepository
from fleet_adapters.memory.campaigns import InMemoryCampaignRepository
from fleet_adapters.memory.carves import CarveTables, InMemoryCarveRepository
from fleet_adapters.memory.device_tokens import InMemoryDeviceTokenRepository, StoredDeviceToken
from fleet_adapters.memory.enroll_secrets import InMemoryEnrollSecretRepository
from fleet_adapters.memory.host_listing import InMemoryHostListing
from fleet_adapters.memory.hosts import (
    HostTables,
    InMemoryHostAggregateRepository,
    InMemoryHostInventoryRepository,
    InMemoryHostRepository,
)
from fleet_adapters.memory.invites import InMemoryInviteRepository
from fleet_adapters.memory.labels import InMemoryLabelRepository
from fleet_adapters.memory.packs import InMemoryPackRepository
from fleet_adapters.memory.password_resets import InMemoryPasswordResetRepository
from fleet_adapters.memory.policies import InMemoryPolicyRepository
from fleet_adapters.memory.queries import InMemoryQueryRepository
from fleet_adapters.memory.sessions import InMemorySessionRepository
from fleet_adapters.memory.software import InMemorySoftwareRepository, SoftwareTables
from fleet_adapters.memory.teams import InMemoryTeamRepository
from fleet_adapters.memory.users import InMemoryUserRepository
from fleet_adapters.memory.vulnerabilities import InMemoryVulnerabilityRepository
from fleet_adapters.memory.vulnerability_announcements import (
    InMemoryVulnerabilityAnnouncementRepository,
    VulnerabilityTables,
)
from fleet_adapters.memory.webhooks import InMemoryWebhookRepository, WebhookTables
from fleet_core.model.activities import Activity
from fleet_core.model.campaigns import Campaign
from fleet_core.model.config import AppConfig
from fleet_core.model.packs import Pack, ScheduledQuery
from fleet_core.model.policies import Policy
from fleet_core.model.queries import SavedQuery
from fleet_core.model.secrets import EnrollSecret
from fleet_core.model.teams import Team, TeamAutomations
from fleet_core.model.users import Invite, Session, User
from fleet_core.rules.host_storage import BUILTIN_LABELS


@attrs.define
class _State:
    users: dict[int, User] = attrs.field(factory=dict)
    sessions: dict[int, tuple[Session, str]] = attrs.field(factory=dict)
    invites: dict[int, tuple[Invite, str]] = attrs.field(factory=dict)
    password_resets: dict[str, tuple[int, dt.datetime]] = attrs.field(factory=dict)
    app_config: AppConfig | None = None
    enroll_secrets: dict[str, EnrollSecret] = attrs.field(factory=dict)
    teams: dict[int, Team] = attrs.field(factory=dict)
    team_automations: dict[int, TeamAutomations] = attrs.field(factory=dict)
    activities: dict[int, Activity] = attrs.field(factory=dict)
    host_tables: HostTables = attrs.field(factory=HostTables)
    queries: dict[int, SavedQuery] = attrs.field(factory=dict)
    # The SQL of ad-hoc live queries (Postgres: queries rows with saved = false).
    hidden_queries: dict[int, SavedQuery] = attrs.field(factory=dict)
    packs: dict[int, Pack] = attrs.field(factory=dict)
    scheduled_queries: dict[int, ScheduledQuery] = attrs.field(factory=dict)
    policies: dict[int, Policy] = attrs.field(factory=dict)
    webhooks: WebhookTables = attrs.field(factory=WebhookTables)
    device_tokens: dict[str, StoredDeviceToken] = attrs.field(factory=dict)  # by token digest
    campaigns: dict[int, Campaign] = attrs.field(factory=dict)
    carves: CarveTables = attrs.field(factory=CarveTables)
    software: SoftwareTables = attrs.field(factory=SoftwareTables)
    announcements: VulnerabilityTables = attrs.field(factory=VulnerabilityTables)

    def copy(self) -> _State:
        # Values are frozen attrs objects, so copying the containers is enough, except the
        # app config, whose agent options are plain dicts.
        return _State(
            users=dict(self.users),
            sessions=dict(self.sessions),
            invites=dict(self.invites),
            password_resets=dict(self.password_resets),
            app_config=copy.deepcopy(self.app_config),
            enroll_secrets=dict(self.enroll_secrets),
            teams=dict(self.teams),
            team_automations=dict(self.team_automations),
            activities=dict(self.activities),
            host_tables=self.host_tables.copy(),
            queries=dict(self.queries),
            hidden_queries=dict(self.hidden_queries),
            packs=dict(self.packs),
            scheduled_queries=dict(self.scheduled_queries),
            policies=dict(self.policies),
            webhooks=self.webhooks.copy(),
            device_tokens=dict(self.device_tokens),
            campaigns=dict(self.campaigns),
            carves=self.carves.copy(),
            software=self.software.copy(),
            announcements=self.announcements.copy(),
        )


class InMemoryStore:
    """The committed state plus id sequences; hand out units of work with `unit_of_work()`."""

    def __init__(self) -> None:
        self.state = _State()
        self.lock = asyncio.Lock()
        self.ids = {name: itertools.count(1) for name in (
            "users", "sessions", "invites", "teams", "activities", "hosts", "software", "operating_systems",
            "mdm_solutions", "munki_issues", "queries", "packs", "scheduled_queries", "campaigns",
            "policies", "carves")}
        self.ids["webhook_deliveries"] = itertools.count(1)
        # Built-in labels take the first ids, as the Postgres migration seeds them.
        self.ids["labels"] = itertools.count(len(BUILTIN_LABELS) + 1)

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def next_id(self, kind: str) -> int:
        return next(self.ids[kind])


class InMemoryUnitOfWork:
    """A working copy of the store's state, swapped in by commit(); dropped unless committed.

    Every public attribute is a repository over the working copy (one per port, named as on
    PgUnitOfWork); commit() moves them all on to the next working copy.
    """

    users: InMemoryUserRepository
    sessions: InMemorySessionRepository
    invites: InMemoryInviteRepository
    password_resets: InMemoryPasswordResetRepository
    app_config: InMemoryAppConfigRepository
    enroll_secrets: InMemoryEnrollSecretRepository
    teams: InMemoryTeamRepository
    activities: InMemoryActivityRepository
    hosts: InMemoryHostRepository
    host_inventory: InMemoryHostInventoryRepository
    host_aggregates: InMemoryHostAggregateRepository
    labels: InMemoryLabelRepository
    queries: InMemoryQueryRepository
    packs: InMemoryPackRepository
    policies: InMemoryPolicyRepository
    device_tokens: InMemoryDeviceTokenRepository
    campaigns: InMemoryCampaignRepository
    carves: InMemoryCarveRepository
    webhooks: InMemoryWebhookRepository
    software: InMemorySoftwareRepository
    vulnerabilities: InMemoryVulnerabilityRepository
    vulnerability_announcements: InMemoryVulnerabilityAnnouncementRepository
    host_listing: InMemoryHostListing

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        state = self._state = self._store.state.copy()
        store = self._store
        self.users = InMemoryUserRepository(state, store)
        self.sessions = InMemorySessionRepository(state, store)
        self.invites = InMemoryInviteRepository(state, store)
        self.password_resets = InMemoryPasswordResetRepository(state)
        self.app_config = InMemoryAppConfigRepository(state)
        self.enroll_secrets = InMemoryEnrollSecretRepository(state)
        self.teams = InMemoryTeamRepository(state, store)
        self.activities = InMemoryActivityRepository(state, store)
        self.hosts = InMemoryHostRepository(state, store)
        self.host_inventory = InMemoryHostInventoryRepository(state, store)
        self.host_aggregates = InMemoryHostAggregateRepository(state, store)
        self.labels = InMemoryLabelRepository(state, store)
        self.queries = InMemoryQueryRepository(state, store)
        self.packs = InMemoryPackRepository(state, store)
        self.policies = InMemoryPolicyRepository(state, store)
        self.device_tokens = InMemoryDeviceTokenRepository(state)
        self.campaigns = InMemoryCampaignRepository(state, store)
        self.carves = InMemoryCarveRepository(state, store)
        self.webhooks = InMemoryWebhookRepository(state, store)
        self.software = InMemorySoftwareRepository(state)
        self.vulnerabilities = InMemoryVulnerabilityRepository(state)
        self.vulnerability_announcements = InMemoryVulnerabilityAnnouncementRepository(state)
        self.host_listing = InMemoryHostListing(state, store)
        return self

    async def commit(self) -> None:
        self._store.state = self._state
        self._state = self._state.copy()
        # The repositories stay the same objects (a caller may hold one across commit()); they
        # move on to the new working copy, as a Postgres connection moves on to a new transaction.
        for name, repository in vars(self).items():
            if not name.startswith("_"):
                repository.state = self._state

    async def __aexit__(self, *exc: object) -> None:
        self._store.lock.release()
