"""The osquery agent side: enrollment, node-key authentication, config, distributed queries, logs.

This is the hot path. In the steady state a check-in costs no database round trip: hosts are
cached per process by node-key hash (dropped on invalidation from any process and after a TTL,
and trusted only while the invalidation bus is connected, so a revoked node key stops working on
every process once the API has answered), seen times are buffered and written in one batch per
flush, and the app configuration is cached until a change is announced. Enroll secrets are not
cached: a removed one must stop enrolling at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import structlog

from fleet_core.errors import InvalidArgument, NodeInvalid, RateLimited, Unavailable
from fleet_core.model.config import AppConfig
from fleet_core.model.hosts import AgentHost, HostFacts, Label
from fleet_core.model.policies import Policy
from fleet_core.model.runtime import AgentSettings
from fleet_core.model.secrets import EnrollSecret
from fleet_core.ports import (
    NO_METRICS,
    Clock,
    InvalidationBus,
    LogDestination,
    Metrics,
    PackSource,
    RateLimiter,
    TokenGenerator,
    UnitOfWorkFactory,
)
from fleet_core.rules import agent_input
from fleet_core.rules import detail_queries as details
from fleet_core.rules.agent_input import QueryResult
from fleet_core.rules.carves import with_carver_options
from fleet_core.rules.hosts import IdentifierMode, choose_identifier, is_due
from fleet_core.rules.policies import policies_for_host, result_of
from fleet_core.services.live_queries import LiveQueryService

log = structlog.get_logger(__name__)

DETAIL_PREFIX = agent_input.DETAIL_PREFIX
ADDITIONAL_PREFIX = "fleet_additional_query_"
LABEL_PREFIX = "fleet_label_query_"
POLICY_PREFIX = "fleet_policy_query_"
LIVE_PREFIX = "fleet_distributed_query_"
NO_POLICIES = "fleet_no_policies_wildcard"
# osquery checks in every 5 s while "accelerate" lasts; Fleet asks for it until a fresh host is
# identified (hostname and platform known).
ACCELERATE_SECONDS = 10
# The app config, team options and labels are re-read when a change is announced; this is the backstop.
CONFIG_CACHE = dt.timedelta(minutes=10)
LOG_TYPES = frozenset({"result", "status"})
# Failed enrollments one client address may make per window before every enrollment from it is
# refused until the window ends: enough for a fleet behind one NAT address that was given a
# wrong secret to keep retrying, far too few to guess a secret (osquery's are 32 characters).
ENROLL_FAILURES_PER_ADDRESS = 30
ENROLL_WINDOW_SECONDS = 60
# The osquery options that feed the online rule, and the host fields they are stored in.
INTERVAL_OPTIONS = {
    "distributed_interval": "distributed_interval",
    "config_tls_refresh": "config_tls_refresh",
    "config_refresh": "config_tls_refresh",
    "logger_tls_period": "logger_tls_period",
}


@attrs.frozen
class DistributedQueries:
    queries: dict[str, str]
    discovery: dict[str, str]
    accelerate: int = 0


@attrs.define
class _Expiring:
    value: Any
    until: dt.datetime


# Host fields whose values repeat across a fleet (a few platforms and OS versions): the cached
# copy shares one string object per distinct value instead of holding each row's own copy.
_REPEATING_FIELDS = ("platform", "os_version")


def _shared_strings(host: AgentHost) -> AgentHost:
    changes: dict[str, Any] = {}
    for name in _REPEATING_FIELDS:
        value = getattr(host, name)
        if value:
            shared = sys.intern(value)
            if shared is not value:
                changes[name] = shared
    return attrs.evolve(host, **changes) if changes else host


@attrs.define
class HostCache:
    """Hosts by node-key hash, each trusted until its TTL or an invalidation.

    A fill races with invalidations: a lookup that read the host before a change committed may
    finish after the change was announced, and must then not be kept, or the revoked node key
    (deleted host) or stale team (transferred host) would be served until the TTL. So every
    invalidation bumps a generation, a fill remembers the generation it started at (`begin_fill`),
    and `finish_fill` keeps the host only if it was not invalidated since. The per-host record
    of invalidations lives only while fills are in flight, so it stays as small as they are."""

    ttl: dt.timedelta
    _by_key: dict[str, _Expiring] = attrs.field(factory=dict)
    _key_of: dict[int, str] = attrs.field(factory=dict)
    generation: int = attrs.field(default=0, init=False)
    _fills: int = attrs.field(default=0, init=False)
    # While fills are in flight: host id -> generation of its last invalidation; and the
    # generation of the last "every host" invalidation.
    _invalidated_at: dict[int, int] = attrs.field(factory=dict, init=False)
    _everything_at: int = attrs.field(default=-1, init=False)

    def get(self, key: str, now: dt.datetime) -> AgentHost | None:
        entry = self._by_key.get(key)
        if entry is None or entry.until <= now:
            return None
        host: AgentHost = entry.value
        return host

    def put(self, key: str, host: AgentHost, now: dt.datetime) -> None:
        host = _shared_strings(host)
        stale = self._key_of.get(host.id)
        if stale is not None and stale != key:
            self._by_key.pop(stale, None)
        # Spread expiries over the last quarter of the TTL so hosts cached together (a restart,
        # a bus reconnect) do not all reload in the same second.
        spread = (host.id * 2654435761 % 1000) / 4000
        self._by_key[key] = _Expiring(host, now + self.ttl * (0.75 + spread))
        self._key_of[host.id] = key

    def key_holding(self, host: AgentHost, now: dt.datetime) -> str | None:
        """The node-key hash this host is cached under, unexpired and as ``host`` has it, else
        None: a host read earlier that an invalidation has since dropped is no longer held."""
        key = self._key_of.get(host.id)
        entry = self._by_key.get(key) if key is not None else None
        return key if entry is not None and entry.until > now and entry.value == host else None

    def forget_key(self, key: str) -> None:
        """Drop whatever is cached under this node-key hash (the database no longer knows it)."""
        entry = self._by_key.pop(key, None)
        if entry is not None and self._key_of.get(entry.value.id) == key:
            del self._key_of[entry.value.id]

    def begin_fill(self) -> int:
        """Call before reading a host to cache; pass the result to `finish_fill`."""
        self._fills += 1
        return self.generation

    def finish_fill(self, key: str, host: AgentHost | None, now: dt.datetime, started: int, *,
                    keep: bool = True) -> bool:
        """End a fill begun at generation ``started``; caches ``host`` (when ``keep``) unless an
        invalidation since then may concern it. True when it was cached."""
        self._fills -= 1
        cached = keep and host is not None and not self.invalidated_since(host.id, started)
        if cached:
            assert host is not None
            self.put(key, host, now)
        if not self._fills:
            self._invalidated_at.clear()
        return cached

    def invalidated_since(self, host_id: int, generation: int) -> bool:
        """Whether an invalidation after ``generation`` may concern this host."""
        return self._everything_at > generation or self._invalidated_at.get(host_id, -1) > generation

    def invalidated_only_at(self, host_id: int, generation: int) -> bool:
        """Whether the one invalidation that may concern this host since ``generation - 1`` is the
        one at ``generation`` (valid while a fill is in flight). Other hosts' invalidations in
        between do not count: under load every process announces hosts many times a second."""
        return self._everything_at < generation and self._invalidated_at.get(host_id, -1) == generation

    def invalidate(self, host_ids: Sequence[int]) -> None:
        """Forget these hosts; an empty sequence means every host (the bus lost messages)."""
        self.generation += 1
        if not host_ids:
            self._by_key.clear()
            self._key_of.clear()
            if self._fills:
                self._everything_at = self.generation
            return
        for host_id in host_ids:
            if self._fills:
                self._invalidated_at[host_id] = self.generation
            key = self._key_of.pop(host_id, None)
            if key is not None:
                self._by_key.pop(key, None)


@attrs.define
class SeenBuffer:
    """Check-ins since the last flush, newest time per host."""

    _pending: dict[int, dt.datetime] = attrs.field(factory=dict)

    def record(self, host_id: int, at: dt.datetime) -> None:
        self._pending[host_id] = at

    def take(self) -> dict[int, dt.datetime]:
        pending, self._pending = self._pending, {}
        return pending

    def restore(self, pending: Mapping[int, dt.datetime]) -> None:
        """Put back check-ins that could not be written; ones recorded since stay newer."""
        for host_id, at in pending.items():
            self._pending.setdefault(host_id, at)

    def __len__(self) -> int:
        return len(self._pending)


def labels_for_host(labels: Sequence[Label], host: AgentHost) -> list[Label]:
    """The dynamic labels a host evaluates: any platform or the host's, global or the host's team."""
    return [
        label for label in labels
        if label.label_membership_type == "dynamic" and label.query.strip()
        and (not label.platform or label.platform == host.platform
             or (label.platform == "centos" and host.platform == "rhel" and "centos" in host.os_version.lower()))
        and (label.team_id is None or label.team_id == host.team_id)
    ]


@attrs.define
class AgentService:
    uow: UnitOfWorkFactory
    tokens: TokenGenerator
    clock: Clock
    bus: InvalidationBus
    logs: dict[str, LogDestination]
    packs: PackSource
    settings: AgentSettings
    # Live query campaigns (fleet_distributed_query_<id>); None: the server runs none.
    live: LiveQueryService | None = None
    # Counts failed enrollments per client address; None: no limit (tests of other behaviour).
    rate_limiter: RateLimiter | None = None
    metrics: Metrics = NO_METRICS
    cache: HostCache = attrs.field(init=False)
    seen: SeenBuffer = attrs.field(factory=SeenBuffer, init=False)
    _config: _Expiring | None = attrs.field(default=None, init=False)
    _labels: _Expiring | None = attrs.field(default=None, init=False)
    _policies: _Expiring | None = attrs.field(default=None, init=False)
    _teams: dict[int, _Expiring] = attrs.field(factory=dict, init=False)
    # Lookups in flight by node-key hash, with the cache generation each began at.
    _loading: dict[str, tuple[asyncio.Future[AgentHost | None], int]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        self.cache = HostCache(self.settings.host_cache_ttl)
        self.bus.subscribe(self.cache.invalidate)
        self.bus.subscribe_config(self._forget_config)

    def _forget_config(self) -> None:
        self._config = None
        self._labels = None
        self._policies = None
        self._teams.clear()

    # ---- enrollment ------------------------------------------------------------------------

    async def enroll(self, *, enroll_secret: str, host_identifier: str,
                     host_details: Mapping[str, Any], public_ip: str = "", client_address: str = "") -> str:
        """Enroll or re-enroll an agent and return its new node key. ``host_details`` is taken as
        the agent sent it (see ``agent_input.host_details``). ``client_address`` is the peer the
        request came from (not a header it may forge), which failed attempts are counted under.

        Raises:
            RateLimited: too many failed enrollments from this address in the current window.
            InvalidArgument: an identifier or host details no column can store.
            NodeInvalid: unknown secret, no identifier, or re-enrolling faster than the cooldown
                (osquery then retries enrollment later).
        """
        limit_key = "enroll:addr:" + client_address
        await self._refuse_if_limited(limit_key)
        secret = await self._match_secret(enroll_secret)
        if secret is None:
            await self._count_failure(limit_key)
            raise NodeInvalid("enroll failed: invalid enroll secret")
        provided = agent_input.host_identifier(host_identifier)
        tables = agent_input.host_details(host_details)
        identifier = choose_identifier(IdentifierMode(self.settings.host_identifier), provided, tables)
        if not identifier:
            raise NodeInvalid("enroll failed: missing host identifier")
        now = self.clock.now()
        facts = details.facts_from_host_details(tables, details.IngestContext(
            platform="", public_ip=public_ip, now=now))
        node_key = self.tokens.token()
        async with self.uow() as uow:
            if self.settings.enroll_cooldown:
                existing = await uow.hosts.get_by_osquery_host_id(identifier)
                if existing is not None and now - existing.last_enrolled_at < self.settings.enroll_cooldown:
                    raise NodeInvalid(f"enroll failed: host identified by {identifier} enrolling too often")
            enrollment = await uow.hosts.enroll(
                osquery_host_id=identifier, node_key_hash=self.tokens.digest(node_key), team_id=secret.team_id,
                at=now, fields={**facts.fields, **({"public_ip": public_ip} if public_ip else {})})
            host, created = enrollment.host, enrollment.created
            await uow.commit()
        if not created:
            # Other processes may still hold the old node key for this host.
            await announce(self.bus, [host.id])
        self.metrics.hosts_enrolled()
        log.info("host_enrolled", host_id=host.id, team_id=host.team_id, created=created)
        return node_key

    async def _refuse_if_limited(self, key: str) -> None:
        if self.rate_limiter is None:
            return
        try:
            wait = await self.rate_limiter.blocked(key, limit=ENROLL_FAILURES_PER_ADDRESS)
        except Unavailable:
            # Enrollment must not depend on the limiter's store; secrets stay long and random.
            log.warning("enroll_rate_limiter_unavailable")
            return
        if wait:
            raise RateLimited("enroll failed: too many failed enrollments, try again later", retry_after=wait)

    async def _count_failure(self, key: str) -> None:
        # Only failures count, so a fleet enrolling from one address is never locked out.
        if self.rate_limiter is None:
            return
        try:
            await self.rate_limiter.hit(key, limit=0, window_seconds=ENROLL_WINDOW_SECONDS)
        except Unavailable:
            log.warning("enroll_rate_limiter_unavailable")

    async def _match_secret(self, presented: str) -> EnrollSecret | None:
        """The enroll secret with this value, read from the database on every enrollment so that
        a secret removed or added through the API counts from the moment the API answered, on
        every process. Enrollment writes to the database anyway, so caching would save little, and
        a cache's staleness is exactly what let a removed secret enroll hosts."""
        if not presented:
            return None
        async with self.uow() as uow:
            return await uow.enroll_secrets.find(presented)

    # ---- authentication ------------------------------------------------------------------------

    async def authenticate(self, node_key: str) -> AgentHost:
        """The host holding this node key; records the check-in.

        Raises:
            NodeInvalid: missing or unknown node key (the agent re-enrolls).
        """
        if not node_key:
            raise NodeInvalid("authentication error: missing node key")
        key = self.tokens.digest(node_key)
        now = self.clock.now()
        # The cache is only as fresh as the bus: while it is disconnected a deletion or transfer
        # announced by another process would be missed, so the database is asked every time.
        host = self.cache.get(key, now) if self.bus.connected else None
        self.metrics.cache_lookup("node_key", hit=host is not None)
        if host is None:
            host = await self._load_host(key, now)
        if host is None:
            raise NodeInvalid("authentication error: invalid node key")
        self.seen.record(host.id, now)
        return host

    async def _load_host(self, key: str, now: dt.datetime) -> AgentHost | None:
        """One lookup per node key at a time: an agent's log and distributed requests often
        arrive together, and both would miss the cache. A request joins a lookup in flight only
        if nothing was invalidated since it began; otherwise its answer may predate a revocation
        this request must see."""
        pending = self._loading.get(key)
        if pending is not None and pending[1] == self.cache.generation:
            return await asyncio.shield(pending[0])
        future: asyncio.Future[AgentHost | None] = asyncio.get_running_loop().create_future()
        started = self.cache.begin_fill()
        self._loading[key] = (future, started)
        host: AgentHost | None = None
        loaded = False
        try:
            try:
                async with self.uow() as uow:
                    row = await uow.hosts.get_by_node_key(key)
                host = AgentHost.of(row) if row is not None else None
                loaded = True
                if host is None:
                    # Only reachable with an entry cached while the bus is disconnected: the
                    # revocation it missed is now seen, and must also hold if the database goes.
                    self.cache.forget_key(key)
            except Unavailable:
                # The database is down and the bus disconnected too: serve what is cached rather
                # than fail every agent (the steady state survives a double outage), but only
                # for hosts no announcement received since this lookup began has touched.
                cached = self.cache.get(key, now)
                if cached is None or self.cache.invalidated_since(cached.id, started):
                    raise
                host = cached
            future.set_result(host)
            return host
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            # Waiters get the error too; with none, asyncio would warn that nobody retrieved it.
            future.exception()
            raise
        finally:
            self.cache.finish_fill(key, host, now, started, keep=loaded)
            if self._loading.get(key, (None, 0))[0] is future:
                del self._loading[key]

    async def flush_seen(self) -> int:
        """Write the buffered check-ins in one statement; returns how many hosts."""
        pending = self.seen.take()
        if not pending:
            return 0
        try:
            async with self.uow() as uow:
                await uow.hosts.mark_seen(pending)
                await uow.commit()
        except Exception:
            # Keep them for the next flush rather than lose them.
            self.seen.restore(pending)
            raise
        self.metrics.hosts_seen(len(pending))
        return len(pending)

    # ---- config ----------------------------------------------------------------------------------

    async def app_config(self) -> AppConfig:
        now = self.clock.now()
        cached = self._config
        self.metrics.cache_lookup("app_config", hit=cached is not None and cached.until > now)
        if cached is None or cached.until <= now:
            async with self.uow() as uow:
                cached = self._config = _Expiring(await uow.app_config.get(), now + CONFIG_CACHE)
        config: AppConfig = cached.value
        return config

    async def _team_agent_options(self, team_id: int) -> Mapping[str, Any] | None:
        now = self.clock.now()
        cached = self._teams.get(team_id)
        if cached is None or cached.until <= now:
            async with self.uow() as uow:
                team = await uow.teams.get(team_id)
            cached = self._teams[team_id] = _Expiring(team.agent_options if team else None, now + CONFIG_CACHE)
        options: Mapping[str, Any] | None = cached.value
        return options

    async def config(self, host: AgentHost) -> dict[str, Any]:
        """The osquery configuration for this host (the bare object osquery expects): the host
        team's agent options when the team has any, else the global ones."""
        team_options = await self._team_agent_options(host.team_id) if host.team_id is not None else None
        options = team_options or (await self.app_config()).agent_options or {}
        base = options.get("config") or {}
        override = ((options.get("overrides") or {}).get("platforms") or {}).get(host.platform)
        # A platform override replaces the whole config, as in Fleet (no merge).
        config: dict[str, Any] = dict(override if isinstance(override, Mapping) else base)
        packs = await self.packs.packs_for_host(host)
        if packs:
            config["packs"] = {**(config.get("packs") or {}), **packs}
        config = with_carver_options(config, self.settings.carver_block_size)
        await self._follow_intervals(host, config.get("options") or {})
        return config

    async def _follow_intervals(self, host: AgentHost, options: Mapping[str, Any]) -> None:
        """Store the check-in intervals the host was just told to use; they decide its status."""
        changes: dict[str, int] = {}
        for option, field in INTERVAL_OPTIONS.items():
            value = options.get(option)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                continue
            if option == "config_refresh" and "config_tls_refresh" in options:
                continue
            if getattr(host, field) != int(value):
                changes[field] = int(value)
        if not changes:
            return
        async with self.uow() as uow:
            await uow.hosts.apply_facts(host.id, HostFacts(fields=changes), at=self.clock.now())
            await uow.commit()
        await announce(self.bus, [host.id])

    # ---- distributed ------------------------------------------------------------------------------

    async def distributed_read(self, host: AgentHost) -> DistributedQueries:
        """The queries this host should run now, each with a discovery query."""
        now = self.clock.now()
        s = self.settings
        queries: dict[str, str] = {}
        discovery: dict[str, str] = {}
        if is_due(host.detail_updated_at, s.detail_update_interval, host.id, s.max_jitter_percent, now,
                  refetch_requested=host.refetch_requested):
            app = await self.app_config()
            for name, (sql, disc) in details.detail_queries_for(
                host.platform,
                software_inventory=app.features.enable_software_inventory,
                host_users=app.features.enable_host_users,
                additional=app.features.additional_queries,
                overrides=None,
            ).items():
                queries[name] = sql
                if disc:
                    discovery[name] = disc
        labels_due = is_due(host.label_updated_at, s.label_update_interval, host.id, s.max_jitter_percent, now,
                            refetch_requested=host.refetch_requested)
        for label in labels_for_host(await self._dynamic_labels(), host):
            # A label created or edited since the host's last label answers is evaluated at once.
            if labels_due or label.updated_at > host.label_updated_at:
                queries[f"{LABEL_PREFIX}{label.id}"] = label.query
        policies = policies_for_host(await self._every_policy(), team_id=host.team_id, platform=host.platform)
        # A policy created or edited since the host's last answers makes every policy due at once,
        # so that policy_updated_at still means "answered them all".
        if is_due(host.policy_updated_at, s.policy_update_interval, host.id, s.max_jitter_percent, now,
                  refetch_requested=host.refetch_requested) or any(
                      p.updated_at > host.policy_updated_at for p in policies):
            for policy in policies:
                queries[f"{POLICY_PREFIX}{policy.id}"] = policy.query
            if not policies:
                # The wildcard keeps policy_updated_at moving, as Fleet does when none match.
                queries[NO_POLICIES] = "SELECT 1"
        if self.live is not None:
            queries.update(await self.live.queries_for_host(host))
        # osquery rejects empty SQL and a batch with any broken entry, so drop empties here.
        queries = {name: sql for name, sql in queries.items() if sql.strip()}
        discovery = {name: discovery.get(name) or "SELECT 1" for name in queries}
        accelerate = ACCELERATE_SECONDS if not host.hostname or not host.platform else 0
        return DistributedQueries(queries=queries, discovery=discovery, accelerate=accelerate)

    async def _inapplicable_labels(self, host: AgentHost, facts: HostFacts) -> dict[int, bool | None]:
        """Every dynamic label the host no longer evaluates (its platform or team changed), as "not a
        member", so that a membership never outlives the reason it was asked."""
        now_host = attrs.evolve(host, **{k: v for k, v in facts.fields.items() if k in ("platform", "os_version")})
        dynamic = await self._dynamic_labels()
        applicable = {label.id for label in labels_for_host(dynamic, now_host)}
        return {label.id: False for label in dynamic if label.id not in applicable}

    async def _every_policy(self) -> list[Policy]:
        now = self.clock.now()
        if self._policies is None or self._policies.until <= now:
            async with self.uow() as uow:
                self._policies = _Expiring(await uow.policies.every(), now + CONFIG_CACHE)
        policies: list[Policy] = self._policies.value
        return policies

    async def _policy_results(self, host: AgentHost, facts: HostFacts,
                              results: Mapping[str, QueryResult]) -> tuple[dict[int, bool | None], list[int]]:
        """The host's policy answers, and the policies it no longer answers (its platform or team
        changed), whose stored answers must go."""
        answers: dict[int, bool | None] = {}
        for name, result in results.items():
            policy_id = _int_suffix(name, POLICY_PREFIX) if name.startswith(POLICY_PREFIX) else None
            if policy_id is not None:
                answers[policy_id] = result_of(result.status, result.rows)
        if not answers:
            return answers, []
        platform = str(facts.fields.get("platform", host.platform))
        every = await self._every_policy()
        applicable = {p.id for p in policies_for_host(every, team_id=host.team_id, platform=platform)}
        inapplicable = [p.id for p in every if p.id not in applicable]
        dropped = set(inapplicable)
        return {i: passes for i, passes in answers.items() if i not in dropped}, inapplicable

    async def _dynamic_labels(self) -> list[Label]:
        now = self.clock.now()
        if self._labels is None or self._labels.until <= now:
            async with self.uow() as uow:
                self._labels = _Expiring(await uow.labels.dynamic(), now + CONFIG_CACHE)
        labels: list[Label] = self._labels.value
        return labels

    async def distributed_write(self, host: AgentHost, results: Mapping[str, QueryResult], *,
                                public_ip: str = "") -> None:
        """Ingest a host's answers, routed by query-name prefix; unknown names are ignored."""
        if self.live is not None:
            await self.live.ingest(host, results)
        now = self.clock.now()
        detail_rows = {n: r.rows for n, r in results.items() if n.startswith(DETAIL_PREFIX)}
        detail_statuses = {n: r.status for n, r in results.items() if n.startswith(DETAIL_PREFIX)}
        ctx = details.IngestContext(platform=host.platform, public_ip=public_ip, now=now,
                                    last_restarted_at=host.last_restarted_at, host_id=host.id)
        facts, details_updated = details.ingest_detail_results(detail_rows, detail_statuses, ctx, text_rows=True)
        additional = details.additional_results(
            {n: r.rows for n, r in results.items() if n.startswith(ADDITIONAL_PREFIX)},
            {n: r.status for n, r in results.items() if n.startswith(ADDITIONAL_PREFIX)},
        )
        if additional:
            facts = facts.merge(HostFacts(fields={"additional": additional}))
        labels: dict[int, bool | None] = {}
        for name, result in results.items():
            if name.startswith(LABEL_PREFIX):
                label_id = _int_suffix(name, LABEL_PREFIX)
                if label_id is not None:
                    labels[label_id] = None if result.status != 0 else bool(result.rows)
        if labels:
            labels = {**await self._inapplicable_labels(host, facts), **labels}
        policies_updated = NO_POLICIES in results or any(n.startswith(POLICY_PREFIX) for n in results)
        policy_answers, inapplicable = await self._policy_results(host, facts, results)
        if public_ip and public_ip != host.public_ip:
            facts = facts.merge(HostFacts(fields={"public_ip": public_ip}))
        if not (facts.fields or details_updated or labels or policies_updated or host.refetch_requested
                or facts.users is not None or facts.software is not None):
            return
        # The host as this write leaves it is kept in this process's cache (other processes drop
        # theirs on the announcement and read it again), unless anything else touched it meanwhile.
        key = self.cache.key_holding(host, now)
        started = self.cache.begin_fill()
        written: AgentHost | None = None
        try:
            async with self.uow() as uow:
                await uow.hosts.apply_facts(
                    host.id, facts, at=now, details_updated=details_updated, labels_updated=bool(labels),
                    policies_updated=policies_updated, clear_refetch=host.refetch_requested)
                if labels:
                    await uow.labels.record_results(host.id, labels, now)
                if policy_answers:
                    await uow.policies.record_results(host.id, policy_answers, now, dropped=inapplicable)
                await uow.commit()
            untouched = not self.cache.invalidated_since(host.id, started)
            before = self.cache.generation
            await announce(self.bus, [host.id])
            # This host's only invalidation while announcing is this write's own (the bus tells
            # this process before publish returns, at generation before + 1). Any other, or none,
            # and the host is read again.
            if key is not None and untouched and self.cache.invalidated_only_at(host.id, before + 1):
                written = _written_host(host, facts, now, details_updated=details_updated,
                                        labels_updated=bool(labels), policies_updated=policies_updated)
        finally:
            self.cache.finish_fill("", None, now, started, keep=False)
        if written is not None and key is not None:
            self.cache.put(key, written, now)

    # ---- logs -------------------------------------------------------------------------------------

    async def submit_logs(self, host: AgentHost, log_type: str, records: Sequence[bytes]) -> None:
        """Hand a batch to the log destination; returns only once it accepted the batch.

        Raises:
            InvalidArgument: unknown log_type.
            Unavailable: the destination did not take the batch (osquery keeps and resends it).
        """
        if log_type not in LOG_TYPES:
            raise InvalidArgument(("log_type", f"unknown log type {log_type!r}"))
        if records:
            await self.logs[log_type].write(log_type, records)


async def announce(bus: InvalidationBus, host_ids: Sequence[int]) -> None:
    """Tell the other processes after a commit; if the bus is down the change is already stored,
    so it is logged rather than failed, and caches catch up within their TTL."""
    try:
        await bus.publish(host_ids)
    except Unavailable:
        log.warning("host_invalidation_not_sent", hosts=len(host_ids))


async def announce_config_change(bus: InvalidationBus) -> None:
    """Tell every process that agent configuration changed (app config, team options, labels,
    packs, schedules); each drops what it caches for the hot path. Logged rather than failed if
    the bus is down: the change is stored, and caches catch up within their TTL."""
    try:
        await bus.publish_config_changed()
    except Unavailable:
        log.warning("config_change_not_announced")


# The AgentHost fields a detail query may set (the others are the bookkeeping times and the team).
_AGENT_HOST_FACTS = frozenset(attrs.fields_dict(AgentHost)) - {
    "id", "team_id", "detail_updated_at", "label_updated_at", "policy_updated_at", "refetch_requested"}


def _written_host(host: AgentHost, facts: HostFacts, at: dt.datetime, *, details_updated: bool,
                  labels_updated: bool, policies_updated: bool) -> AgentHost:
    """``host`` as apply_facts leaves its row, with the same flags and time."""
    changes: dict[str, Any] = {name: value for name, value in facts.fields.items() if name in _AGENT_HOST_FACTS}
    if details_updated:
        changes["detail_updated_at"] = at
    if labels_updated:
        changes["label_updated_at"] = at
    if policies_updated:
        changes["policy_updated_at"] = at
    return attrs.evolve(host, refetch_requested=False, **changes)


def _int_suffix(name: str, prefix: str) -> int | None:
    suffix = name[len(prefix):]
    return int(suffix) if suffix.isdigit() else None
