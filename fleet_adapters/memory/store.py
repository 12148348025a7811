"""In-memory implementations of the storage ports, for unit tests, demos and library use.

They keep the ports' semantics, not SQL's shape: uniqueness, ordering, rollback. A unit of work
works on a copy of the committed state and swaps it in on commit; units of work are serialised
by a lock, which is stricter than Postgres' READ COMMITTED but never loses an update.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Self

import attrs

from fleet_adapters.memory.carves import CarveTables, InMemoryCarveRepository
from fleet_adapters.memory.host_listing import InMemoryHostListing
from fleet_adapters.memory.hosts import HostTables, InMemoryHostRepository, InMemoryLabelRepository
from fleet_adapters.memory.live_queries import InMemoryCampaignRepository
from fleet_adapters.memory.packs import InMemoryPackRepository
from fleet_adapters.memory.policies import InMemoryDeviceTokenRepository, InMemoryPolicyRepository
from fleet_adapters.memory.queries import InMemoryQueryRepository
from fleet_adapters.memory.software import InMemorySoftwareRepository
from fleet_adapters.memory.webhooks import InMemoryWebhookRepository, WebhookTables
from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.activities import Activity, NewActivity
from fleet_core.model.campaigns import Campaign
from fleet_core.model.config import AppConfig
from fleet_core.model.packs import Pack, ScheduledQuery
from fleet_core.model.policies import Policy
from fleet_core.model.queries import SavedQuery
from fleet_core.model.secrets import EnrollSecret
from fleet_core.model.teams import Team
from fleet_core.model.users import Invite, NewInvite, NewUser, Session, TeamRole, User
from fleet_core.rules.host_storage import BUILTIN_LABELS
from fleet_core.rules.paging import ListOptions, paginate


@attrs.define
class _State:
    users: dict[int, User] = attrs.field(factory=dict)
    sessions: dict[int, tuple[Session, str]] = attrs.field(factory=dict)
    invites: dict[int, tuple[Invite, str]] = attrs.field(factory=dict)
    password_resets: dict[str, tuple[int, dt.datetime]] = attrs.field(factory=dict)
    app_config: AppConfig | None = None
    enroll_secrets: dict[str, EnrollSecret] = attrs.field(factory=dict)
    teams: dict[int, Team] = attrs.field(factory=dict)
    activities: dict[int, Activity] = attrs.field(factory=dict)
    host_tables: HostTables = attrs.field(factory=HostTables)
    queries: dict[int, SavedQuery] = attrs.field(factory=dict)
    packs: dict[int, Pack] = attrs.field(factory=dict)
    scheduled_queries: dict[int, ScheduledQuery] = attrs.field(factory=dict)
    policies: dict[int, Policy] = attrs.field(factory=dict)
    webhooks: WebhookTables = attrs.field(factory=WebhookTables)
    device_tokens: dict[str, int] = attrs.field(factory=dict)  # token hash -> host id
    campaigns: dict[int, Campaign] = attrs.field(factory=dict)
    carves: CarveTables = attrs.field(factory=CarveTables)

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
            activities=dict(self.activities),
            host_tables=self.host_tables.copy(),
            queries=dict(self.queries),
            packs=dict(self.packs),
            scheduled_queries=dict(self.scheduled_queries),
            policies=dict(self.policies),
            webhooks=self.webhooks.copy(),
            device_tokens=dict(self.device_tokens),
            campaigns=dict(self.campaigns),
            carves=self.carves.copy(),
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
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        self._state = self._store.state.copy()
        self.users = InMemoryUserRepository(self._state, self._store)
        self.sessions = InMemorySessionRepository(self._state, self._store)
        self.invites = InMemoryInviteRepository(self._state, self._store)
        self.password_resets = InMemoryPasswordResetRepository(self._state)
        self.app_config = InMemoryAppConfigRepository(self._state)
        self.enroll_secrets = InMemoryEnrollSecretRepository(self._state)
        self.teams = InMemoryTeamRepository(self._state, self._store)
        self.activities = InMemoryActivityRepository(self._state, self._store)
        self.hosts = InMemoryHostRepository(self._state, self._store)
        self.labels = InMemoryLabelRepository(self._state, self._store)
        self.queries = InMemoryQueryRepository(self._state, self._store)
        self.packs = InMemoryPackRepository(self._state, self._store)
        self.policies = InMemoryPolicyRepository(self._state, self._store)
        self.webhooks = InMemoryWebhookRepository(self._state, self._store)
        self.device_tokens = InMemoryDeviceTokenRepository(self._state)
        self.campaigns = InMemoryCampaignRepository(self._state, self._store)
        self.carves = InMemoryCarveRepository(self._state, self._store)
        self.software = InMemorySoftwareRepository(self._state)
        self.host_listing = InMemoryHostListing(self.hosts, self.policies)
        return self

    async def commit(self) -> None:
        self._store.state = self._state
        self._state = self._state.copy()
        self._rebind()

    def _rebind(self) -> None:
        for repo in (self.users, self.sessions, self.invites, self.password_resets, self.app_config,
                     self.enroll_secrets, self.teams, self.activities, self.hosts, self.labels, self.queries,
                     self.packs, self.campaigns, self.policies, self.device_tokens, self.software):
            repo.state = self._state
        self.webhooks.state = self._state
        self.carves.state = self._state

    async def __aexit__(self, *exc: object) -> None:
        self._store.lock.release()


@attrs.define
class _Repo:
    state: _State


def _ci(value: str) -> str:
    return value.casefold()


def _with_team_names(state: _State, teams: Sequence[TeamRole]) -> tuple[TeamRole, ...]:
    named = []
    for membership in teams:
        team = state.teams.get(membership.team_id)
        if team is None:
            raise NotFound(f"Team with id={membership.team_id} was not found in the datastore")
        named.append(attrs.evolve(membership, team_name=team.name))
    return tuple(sorted(named, key=lambda m: m.team_id))


def _text_match(*fields: str) -> Any:
    return lambda item, q: any(q in getattr(item, f).lower() for f in fields)


@attrs.define
class InMemoryUserRepository(_Repo):
    store: InMemoryStore

    def _email_taken(self, email: str, except_id: int | None = None) -> bool:
        return any(_ci(u.email) == _ci(email) and u.id != except_id for u in self.state.users.values())

    async def add(self, user: NewUser) -> User:
        if self._email_taken(user.email):
            raise AlreadyExists(f"User {user.email} already exists")
        teams = _with_team_names(self.state, user.teams)
        now = dt.datetime.now(dt.UTC)
        created = User(
            id=self.store.next_id("users"), name=user.name, email=user.email,
            password_hash=user.password_hash, global_role=user.global_role, teams=teams,
            created_at=now, updated_at=now, sso_enabled=user.sso_enabled, api_only=user.api_only,
            force_password_reset=user.force_password_reset, position=user.position,
        )
        self.state.users[created.id] = created
        return created

    async def get(self, user_id: int) -> User | None:
        return self._fresh(self.state.users.get(user_id))

    async def get_by_email(self, email: str) -> User | None:
        return self._fresh(next((u for u in self.state.users.values() if _ci(u.email) == _ci(email)), None))

    def _fresh(self, user: User | None) -> User | None:
        # Team names can change after the user row was written.
        if user is None:
            return None
        return attrs.evolve(user, teams=tuple(
            attrs.evolve(m, team_name=self.state.teams[m.team_id].name)
            for m in user.teams if m.team_id in self.state.teams
        ))

    async def list(self, options: ListOptions, *, team_id: int | None = None,
                   team_ids: frozenset[int] | None = None) -> builtins.list[User]:
        users = [u for u in (self._fresh(u) for u in self.state.users.values()) if u is not None]
        if team_id is not None:
            users = [u for u in users if any(m.team_id == team_id for m in u.teams)]
        if team_ids is not None:
            users = [u for u in users if any(m.team_id in team_ids for m in u.teams)]
        return paginate(users, options, lambda u, k: getattr(u, k), tie_breaker=lambda u: u.id,
                        matches=_text_match("name", "email"))

    async def count(self) -> int:
        return len(self.state.users)

    async def update(self, user: User) -> User:
        if user.id not in self.state.users:
            raise NotFound(f"User with id={user.id} was not found in the datastore")
        if self._email_taken(user.email, except_id=user.id):
            raise AlreadyExists(f"User {user.email} already exists")
        updated = attrs.evolve(user, teams=_with_team_names(self.state, user.teams),
                               updated_at=dt.datetime.now(dt.UTC))
        self.state.users[user.id] = updated
        return updated

    async def delete(self, user_id: int) -> bool:
        if self.state.users.pop(user_id, None) is None:
            return False
        for session_id, (session, _) in list(self.state.sessions.items()):
            if session.user_id == user_id:
                del self.state.sessions[session_id]
        for token_hash, (owner, _) in list(self.state.password_resets.items()):
            if owner == user_id:
                del self.state.password_resets[token_hash]
        return True


@attrs.define
class InMemorySessionRepository(_Repo):
    store: InMemoryStore

    async def add(self, *, user_id: int, token_hash: str, at: dt.datetime) -> Session:
        if user_id not in self.state.users:
            raise NotFound(f"User with id={user_id} was not found in the datastore")
        session = Session(id=self.store.next_id("sessions"), user_id=user_id, created_at=at, accessed_at=at)
        self.state.sessions[session.id] = (session, token_hash)
        return session

    async def get(self, session_id: int) -> Session | None:
        entry = self.state.sessions.get(session_id)
        return entry[0] if entry else None

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        return next((s for s, h in self.state.sessions.values() if h == token_hash), None)

    async def list_for_user(self, user_id: int) -> list[Session]:
        found = [s for s, _ in self.state.sessions.values() if s.user_id == user_id]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def touch(self, session_id: int, at: dt.datetime) -> None:
        entry = self.state.sessions.get(session_id)
        if entry:
            self.state.sessions[session_id] = (attrs.evolve(entry[0], accessed_at=at), entry[1])

    async def delete(self, session_id: int) -> bool:
        return self.state.sessions.pop(session_id, None) is not None

    async def delete_for_user(self, user_id: int, *, except_id: int | None = None) -> int:
        doomed = [i for i, (s, _) in self.state.sessions.items() if s.user_id == user_id and i != except_id]
        for session_id in doomed:
            del self.state.sessions[session_id]
        return len(doomed)


@attrs.define
class InMemoryInviteRepository(_Repo):
    store: InMemoryStore

    def _email_taken(self, email: str, except_id: int | None = None) -> bool:
        return any(_ci(i.email) == _ci(email) and i.id != except_id for i, _ in self.state.invites.values())

    async def add(self, invite: NewInvite) -> Invite:
        if self._email_taken(invite.email):
            raise AlreadyExists(f"Invite for {invite.email} already exists")
        now = dt.datetime.now(dt.UTC)
        created = Invite(
            id=self.store.next_id("invites"), invited_by=invite.invited_by, email=invite.email,
            name=invite.name, global_role=invite.global_role,
            teams=_with_team_names(self.state, invite.teams), created_at=now, updated_at=now,
            sso_enabled=invite.sso_enabled, position=invite.position,
        )
        self.state.invites[created.id] = (created, invite.token_hash)
        return created

    async def get(self, invite_id: int) -> Invite | None:
        entry = self.state.invites.get(invite_id)
        return entry[0] if entry else None

    async def get_by_token_hash(self, token_hash: str) -> Invite | None:
        return next((i for i, h in self.state.invites.values() if h == token_hash), None)

    async def list(self, options: ListOptions) -> list[Invite]:
        invites = [i for i, _ in self.state.invites.values()]
        return paginate(invites, options, lambda i, k: getattr(i, k), tie_breaker=lambda i: i.id,
                        matches=_text_match("name", "email"))

    async def update(self, invite: Invite) -> Invite:
        entry = self.state.invites.get(invite.id)
        if entry is None:
            raise NotFound(f"Invite with id={invite.id} was not found in the datastore")
        if self._email_taken(invite.email, except_id=invite.id):
            raise AlreadyExists(f"Invite for {invite.email} already exists")
        updated = attrs.evolve(invite, teams=_with_team_names(self.state, invite.teams),
                               updated_at=dt.datetime.now(dt.UTC))
        self.state.invites[invite.id] = (updated, entry[1])
        return updated

    async def delete(self, invite_id: int) -> bool:
        return self.state.invites.pop(invite_id, None) is not None


@attrs.define
class InMemoryPasswordResetRepository(_Repo):
    async def add(self, *, user_id: int, token_hash: str, expires_at: dt.datetime) -> None:
        if user_id not in self.state.users:
            raise NotFound(f"User with id={user_id} was not found in the datastore")
        self.state.password_resets[token_hash] = (user_id, expires_at)

    async def consume(self, token_hash: str, *, now: dt.datetime) -> int | None:
        entry = self.state.password_resets.pop(token_hash, None)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    async def delete_for_user(self, user_id: int) -> None:
        for token_hash, (owner, _) in list(self.state.password_resets.items()):
            if owner == user_id:
                del self.state.password_resets[token_hash]


@attrs.define
class InMemoryAppConfigRepository(_Repo):
    async def get(self) -> AppConfig:
        return copy.deepcopy(self.state.app_config) if self.state.app_config else AppConfig()

    async def save(self, config: AppConfig) -> None:
        self.state.app_config = copy.deepcopy(config)

    async def lock(self) -> AppConfig:
        # The store's lock already serialises units of work.
        return await self.get()


@attrs.define
class InMemoryEnrollSecretRepository(_Repo):
    async def list(self, team_id: int | None) -> list[EnrollSecret]:
        found = [s for s in self.state.enroll_secrets.values() if s.team_id == team_id]
        return sorted(found, key=lambda s: (s.created_at, s.secret))

    async def replace(
        self, team_id: int | None, secrets: Sequence[str], at: dt.datetime
    ) -> builtins.list[EnrollSecret]:
        if team_id is not None and team_id not in self.state.teams:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        for secret in secrets:
            owner = self.state.enroll_secrets.get(secret)
            if owner is not None and owner.team_id != team_id:
                raise AlreadyExists("enroll secret is already in use")
        keep = set(secrets)
        for secret, existing in list(self.state.enroll_secrets.items()):
            if existing.team_id == team_id and secret not in keep:
                del self.state.enroll_secrets[secret]
        for secret in secrets:
            self.state.enroll_secrets.setdefault(secret, EnrollSecret(secret=secret, team_id=team_id, created_at=at))
        return await self.list(team_id)

    async def find(self, secret: str) -> EnrollSecret | None:
        return self.state.enroll_secrets.get(secret)

    async def all(self) -> builtins.list[EnrollSecret]:
        return [self.state.enroll_secrets[s] for s in sorted(self.state.enroll_secrets)]


@attrs.define
class InMemoryTeamRepository(_Repo):
    store: InMemoryStore

    async def add(self, *, name: str, description: str, at: dt.datetime) -> Team:
        if any(_ci(t.name) == _ci(name) for t in self.state.teams.values()):
            raise AlreadyExists(f"Team {name} already exists")
        team = Team(id=self.store.next_id("teams"), name=name, description=description, created_at=at)
        self.state.teams[team.id] = team
        return team

    async def get(self, team_id: int) -> Team | None:
        return self.state.teams.get(team_id)

    async def get_many(self, team_ids: Sequence[int]) -> list[Team]:
        return [self.state.teams[i] for i in sorted(set(team_ids)) if i in self.state.teams]

    async def get_by_name(self, name: str) -> Team | None:
        return next((t for t in self.state.teams.values() if _ci(t.name) == _ci(name)), None)

    async def set_agent_options(self, team_id: int, agent_options: Mapping[str, Any] | None) -> None:
        team = self.state.teams.get(team_id)
        if team is None:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        self.state.teams[team_id] = attrs.evolve(
            team, agent_options=None if agent_options is None else copy.deepcopy(dict(agent_options)))

    async def list(self, options: ListOptions, *, team_ids: frozenset[int] | None = None) -> builtins.list[Team]:
        teams = [t for t in self.state.teams.values() if team_ids is None or t.id in team_ids]
        return paginate(teams, options, lambda t, k: getattr(t, k), tie_breaker=lambda t: t.id,
                        matches=lambda t, q: q in t.name.lower())

    async def update(self, team_id: int, *, name: str, description: str) -> Team:
        team = self.state.teams.get(team_id)
        if team is None:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        if any(_ci(t.name) == _ci(name) and t.id != team_id for t in self.state.teams.values()):
            raise AlreadyExists(f"Team {name} already exists")
        updated = attrs.evolve(team, name=name, description=description)
        self.state.teams[team_id] = updated
        return updated

    async def delete(self, team_id: int) -> builtins.list[int] | None:
        if self.state.teams.pop(team_id, None) is None:
            return None
        # What the foreign keys do in Postgres: cascade secrets and roles, hosts to no team.
        for secret, found in list(self.state.enroll_secrets.items()):
            if found.team_id == team_id:
                del self.state.enroll_secrets[secret]
        for query_id, saved in list(self.state.queries.items()):
            if saved.team_id == team_id:
                del self.state.queries[query_id]
        team_policies = {i for i, policy in self.state.policies.items() if policy.team_id == team_id}
        for policy_id in team_policies:
            del self.state.policies[policy_id]
        answers = self.state.host_tables.policy_membership
        for host_id, answered in list(answers.items()):
            answers[host_id] = tuple(a for a in answered if a[0] not in team_policies)
        for user_id, user in list(self.state.users.items()):
            if any(m.team_id == team_id for m in user.teams):
                self.state.users[user_id] = attrs.evolve(
                    user, teams=tuple(m for m in user.teams if m.team_id != team_id))
        for invite_id, (invite, token_hash) in list(self.state.invites.items()):
            if any(m.team_id == team_id for m in invite.teams):
                kept = tuple(m for m in invite.teams if m.team_id != team_id)
                self.state.invites[invite_id] = (attrs.evolve(invite, teams=kept), token_hash)
        hosts = self.state.host_tables.hosts
        moved = sorted(h.id for h in hosts.values() if h.team_id == team_id)
        for host_id in moved:
            hosts[host_id] = attrs.evolve(hosts[host_id], team_id=None)
        return moved

    async def counts(self, team_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        wanted = {i for i in team_ids if i in self.state.teams}
        users = dict.fromkeys(wanted, 0)
        hosts = dict.fromkeys(wanted, 0)
        for user in self.state.users.values():
            for membership in user.teams:
                if membership.team_id in users:
                    users[membership.team_id] += 1
        for host in self.state.host_tables.hosts.values():
            if host.team_id in hosts:
                hosts[host.team_id] += 1
        return {i: (users[i], hosts[i]) for i in wanted}

    async def members(self, team_id: int) -> tuple[builtins.list[int], builtins.list[int]]:
        if team_id not in self.state.teams:
            return [], []
        users = sorted(u.id for u in self.state.users.values() if any(m.team_id == team_id for m in u.teams))
        hosts = sorted(h.id for h in self.state.host_tables.hosts.values() if h.team_id == team_id)
        return users, hosts


@attrs.define
class InMemoryActivityRepository(_Repo):
    store: InMemoryStore

    async def add(self, activity: NewActivity, at: dt.datetime) -> Activity:
        created = Activity(id=self.store.next_id("activities"), created_at=at, **attrs.asdict(activity, recurse=False))
        self.state.activities[created.id] = created
        return created

    async def list(self, options: ListOptions) -> list[Activity]:
        return paginate(self.state.activities.values(), options, lambda a, k: getattr(a, k),
                        tie_breaker=lambda a: a.id)
