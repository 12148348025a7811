"""Live queries: campaigns that run SQL on hosts now and stream each host's answer back.

A campaign is a row in the database (who ran what on which hosts, and its status) plus its
running state in the LiveQueryStore shared by every process (which hosts still have to answer,
and the channel results travel on). Agents check in on any process, answer on any process, and
the creator's stream may be served by yet another one.

The hot path costs no database round trip: ``queries_for_host`` asks only the store, and
``ingest`` publishes results, reading the campaign row only when nobody was listening.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize, visible_team_ids
from fleet_core.errors import BadRequest, FleetError, InvalidArgument, NotFound, PermissionDenied, Unavailable
from fleet_core.model.campaigns import Campaign, CampaignMetrics, CampaignStatus, LiveResult, StartedCampaign
from fleet_core.model.hosts import HostFilter, HostIdentity, HostStatus
from fleet_core.model.queries import SavedQuery
from fleet_core.ports import (
    NO_METRICS,
    Clock,
    LiveQueryStore,
    Metrics,
    ResultSubscription,
    TokenGenerator,
    UnitOfWork,
    UnitOfWorkFactory,
)
from fleet_core.rules import campaigns as rules
from fleet_core.rules.hosts import is_online
from fleet_core.rules.targets import TargetSelection, is_visible, target_team_filter
from fleet_core.services.activities import record_activity

log = structlog.get_logger(__name__)

DISABLED = "disabled by administrator"
TIMEOUT_ERROR = "timeout waiting for results"
DEFAULT_REST_PERIOD = dt.timedelta(seconds=25)


class AgentAnswer(Protocol):
    """One query's answer in distributed/write (fleet_core.services.agents.QueryResult)."""

    @property
    def rows(self) -> list[dict[str, str]]: ...
    @property
    def status(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def stats(self) -> Mapping[str, Any] | None: ...


@attrs.frozen
class HostAnswer:
    host_id: int
    rows: list[dict[str, object]]
    error: str | None


@attrs.frozen
class QueryRun:
    """What a synchronous run of one query collected before its deadline."""

    query_id: int | None
    targeted_host_ids: tuple[int, ...]
    answers: tuple[HostAnswer, ...]
    # Why the query did not run at all (unknown query, no hosts, ...), for the legacy multi-query report.
    error: str | None = None


@attrs.frozen
class HostRun:
    """POST /hosts/{id}/query: one host's answer to ad-hoc SQL."""

    host_id: int
    query: str
    online: bool
    rows: list[dict[str, object]]
    error: str | None


@attrs.define
class CampaignStream:
    """The creator's view of a running campaign: its results as they arrive, and the current
    status of its targets. ``close()`` ends the campaign (completed, forgotten by the store)."""

    campaign: Campaign
    _service: LiveQueryService
    _subscription: ResultSubscription
    _closed: bool = False

    async def totals(self) -> CampaignMetrics:
        """The targeted hosts by status now (online ones are the answers to expect)."""
        async with self._service.uow() as uow:
            return await self._service.metrics(uow, self.campaign.host_ids)

    async def next_result(self, wait: float) -> LiveResult | None:
        """The next host's answer, waiting at most ``wait`` seconds; None if none came.
        Raises Unavailable when results can no longer be received."""
        return await self._subscription.next(wait)

    async def close(self) -> None:
        """Unsubscribe and complete the campaign; idempotent, never raises for a store outage."""
        if self._closed:
            return
        self._closed = True
        await self._subscription.close()
        await self._service.complete(self.campaign.id)


# Campaign facts kept per process for the unheard-answer path; forgetting them only costs a re-read.
MAX_REMEMBERED = 10_000


@attrs.define
class LiveQueryService:
    uow: UnitOfWorkFactory
    clock: Clock
    store: LiveQueryStore
    tokens: TokenGenerator
    rest_period: dt.timedelta = DEFAULT_REST_PERIOD
    # What the operator's monitoring counts (``metrics`` is taken: a campaign's host counts).
    operator_metrics: Metrics = NO_METRICS
    # Answers nobody hears arrive from every targeted host at every check-in: what decides their
    # fate (the campaign's start, or that it already ended) is remembered here, not re-read.
    _started_at: dict[int, dt.datetime] = attrs.field(factory=dict, init=False)
    _ended: set[int] = attrs.field(factory=set, init=False)

    # ---- starting campaigns -------------------------------------------------------------------

    async def create_campaign(self, viewer: Viewer, *, query: str | None, query_id: int | None,
                              selected: TargetSelection) -> StartedCampaign:
        """Start a campaign on what ``selected`` reaches (asynchronous: results go to its stream).

        Raises:
            PermissionDenied: live queries are disabled, or the viewer may not run this query
                (observers only run saved queries observers may run).
            InvalidArgument: neither SQL nor a saved query.
            NotFound: ``query_id`` names no saved query.
            BadRequest: no host is targeted.
            Unavailable: the live query store did not answer (the campaign is then completed).
        """
        started, _ = await self._start(viewer, query=query, query_id=query_id, selected=selected)
        return started

    async def create_campaign_by_identifiers(self, viewer: Viewer, *, query: str | None, query_id: int | None,
                                             hosts: Sequence[str], labels: Sequence[str]) -> StartedCampaign:
        """Like create_campaign, with hosts named by hostname, UUID, osquery host id or serial
        (unknown ones are skipped) and labels by name. Raises as create_campaign, and
        InvalidArgument for an unknown label name."""
        async with self.uow() as uow:
            host_ids: set[int] = set()
            for identifier in hosts:
                if identifier.strip():
                    host = await uow.hosts.find_by_identifier(identifier, node_key_hash=self.tokens.digest(identifier))
                    if host is not None:
                        host_ids.add(host.id)
            label_ids: set[int] = set()
            unknown = []
            for name in labels:
                label = await uow.labels.get_by_name(name)
                if label is None:
                    unknown.append(name)
                else:
                    label_ids.add(label.id)
        if unknown:
            raise InvalidArgument(("labels", f"unknown label names: {', '.join(unknown)}"))
        return await self.create_campaign(viewer, query=query, query_id=query_id,
                                          selected=TargetSelection(host_ids=host_ids, label_ids=label_ids))

    async def _start(self, viewer: Viewer, *, query: str | None, query_id: int | None, selected: TargetSelection,
                     subscribe: bool = False) -> tuple[StartedCampaign, ResultSubscription | None]:
        authorize(viewer, Action.RUN_LIVE_QUERIES)
        now = self.clock.now()
        async with self.uow() as uow:
            if (await uow.app_config.get()).server_settings.live_query_disabled:
                raise PermissionDenied(DISABLED)
            saved = await self._query(uow, viewer, query_id)
            sql = saved.query if saved is not None else (query or "")
            if not sql.strip():
                raise InvalidArgument(("query", "one of query or query_id must be specified"))
            include_observer = saved is not None and saved.observer_can_run
            visible = target_team_filter(viewer.user, include_observer=include_observer)
            if visible is not None and not visible:
                # Only observer roles, and this query is not one observers may run.
                raise PermissionDenied("forbidden")
            host_ids = await uow.host_inventory.target_host_ids(selected, visible_team_ids=visible)
            if not host_ids:
                raise BadRequest("no hosts targeted", name="selected")
            metrics = await self.metrics(uow, host_ids)
            if saved is not None:
                query_id = saved.id
            else:
                # As Fleet does, ad-hoc SQL gets a hidden query record for the campaign to name;
                # cleanup() deletes it once the campaign is over.
                name = f"distributed_{viewer.user.email}_{int(now.timestamp() * 1_000_000)}"
                query_id = await uow.queries.add_hidden(sql, name=name, author_id=viewer.user.id, at=now)
            campaign = await uow.campaigns.add(query_id=query_id, query=sql,
                                               user_id=viewer.user.id, selection=selected, host_ids=host_ids,
                                               at=now)
            await record_activity(uow, viewer.user, "live_query", {
                "targets_count": len(host_ids), "query_sql": sql, "query_name": saved.name if saved else None,
            }, now)
            await uow.commit()
        subscription = None
        try:
            if subscribe:
                # Before any host is asked, so that no answer is missed.
                subscription = await self.store.subscribe(campaign.id)
            await self.store.start(campaign.id, sql, host_ids)
        except Unavailable:
            if subscription is not None:
                await subscription.close()
            await self.complete(campaign.id)
            raise
        self.operator_metrics.campaign_started()
        log.info("live_query_started", campaign_id=campaign.id, hosts=len(host_ids), user_id=viewer.user.id)
        return StartedCampaign(campaign=campaign, metrics=metrics), subscription

    @staticmethod
    async def _query(uow: UnitOfWork, viewer: Viewer, query_id: int | None) -> SavedQuery | None:
        if query_id is None:
            return None
        saved = await uow.queries.get(query_id)
        if saved is None:
            raise NotFound(f"Query with id={query_id} was not found in the datastore")
        authorize(viewer, Action.READ_QUERIES, team_ids=None if saved.team_id is None else [saved.team_id])
        return saved

    async def metrics(self, uow: UnitOfWork, host_ids: Sequence[int]) -> CampaignMetrics:
        if not host_ids:
            return CampaignMetrics()
        summary = await uow.host_inventory.summary(HostFilter(ids=frozenset(host_ids)), platform=None,
                                                   now=self.clock.now())
        return CampaignMetrics(total=summary.totals_hosts_count, online=summary.online_count,
                               offline=summary.offline_count, missing_in_action=summary.mia_count,
                               new=summary.new_count)

    # ---- streaming -------------------------------------------------------------------------------

    async def open_stream(self, viewer: Viewer, campaign_id: int) -> CampaignStream:
        """Subscribe the campaign's creator to its results and mark it running.

        Raises:
            PermissionDenied: the viewer may not run live queries or did not create the campaign.
            NotFound: no such campaign.
            BadRequest: the campaign is already over.
            Unavailable: the store did not answer.
        """
        authorize(viewer, Action.RUN_LIVE_QUERIES)
        async with self.uow() as uow:
            campaign = await uow.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound(f"Campaign with id={campaign_id} was not found in the datastore")
        if campaign.user_id != viewer.user.id:
            raise PermissionDenied("forbidden")
        if campaign.status is CampaignStatus.COMPLETED:
            raise BadRequest("the campaign is already completed", name="campaign_id")
        subscription = await self.store.subscribe(campaign_id)
        try:
            async with self.uow() as uow:
                campaign = await uow.campaigns.set_status(campaign_id, CampaignStatus.RUNNING, self.clock.now())
                await uow.commit()
        except BaseException:
            await subscription.close()
            raise
        return CampaignStream(campaign=campaign, service=self, subscription=subscription)

    async def complete(self, campaign_id: int) -> None:
        """Mark the campaign completed and forget it in the store. A store outage is logged: the
        cleanup job removes completed campaigns from the store later."""
        async with self.uow() as uow:
            try:
                await uow.campaigns.set_status(campaign_id, CampaignStatus.COMPLETED, self.clock.now())
                await uow.commit()
            except NotFound:
                pass
        try:
            await self.store.stop([campaign_id])
        except Unavailable:
            log.warning("live_query_not_stopped", campaign_id=campaign_id)

    # ---- the agent side --------------------------------------------------------------------------

    async def queries_for_host(self, host: HostIdentity) -> dict[str, str]:
        """distributed/read entries (query name -> SQL) for the campaigns this host has to answer;
        none when the store is down (the check-in itself must not fail)."""
        try:
            pending = await self.store.queries_for_host(host.id)
        except Unavailable:
            log.warning("live_queries_unavailable", host_id=host.id)
            return {}
        return {rules.query_name(cid): sql for cid, sql in pending.items()}

    async def ingest(self, host: HostIdentity, results: Mapping[str, AgentAnswer]) -> None:
        """Publish the host's answers to live queries; other names are ignored.

        An answer someone received clears the host's bit. One nobody received leaves it set (the
        host is asked again) while the campaign is young, and ends the campaign after that.
        """
        for name, result in results.items():
            campaign_id = rules.campaign_id_of(name)
            if campaign_id is None:
                continue
            self.operator_metrics.live_results(1)
            error = None if result.status == 0 else (result.message or "query failed")
            answer = LiveResult(campaign_id=campaign_id, host_id=host.id, hostname=host.hostname,
                                display_name=host.display_name, rows=tuple(result.rows),
                                stats=result.stats, error=error)
            try:
                if await self.store.publish(answer):
                    await self.store.answered(campaign_id, host.id)
                else:
                    await self._unheard(campaign_id)
            except Unavailable:
                log.warning("live_query_result_not_published", campaign_id=campaign_id, host_id=host.id)

    async def _unheard(self, campaign_id: int) -> None:
        if campaign_id in self._ended:
            return
        started_at = self._started_at.get(campaign_id)
        if started_at is None:
            async with self.uow() as uow:
                campaign = await uow.campaigns.get(campaign_id)
            if campaign is not None and campaign.status is not CampaignStatus.COMPLETED:
                started_at = self._remember_start(campaign_id, campaign.created_at)
        if started_at is not None and not rules.unheard_is_fatal(started_at, self.clock.now()):
            return
        self._ended.add(campaign_id)
        self._started_at.pop(campaign_id, None)
        if len(self._ended) > MAX_REMEMBERED:
            self._ended.clear()
        log.info("live_query_stopped_unheard", campaign_id=campaign_id)
        await self.complete(campaign_id)

    def _remember_start(self, campaign_id: int, created_at: dt.datetime) -> dt.datetime:
        if len(self._started_at) >= MAX_REMEMBERED:
            self._started_at.clear()
        self._started_at[campaign_id] = created_at
        return created_at

    # ---- housekeeping ------------------------------------------------------------------------------

    async def cleanup(self) -> int:
        """Complete campaigns nobody started reading within the grace period and those running
        for a day, delete the hidden queries of ad-hoc campaigns that are over, and drop every
        completed campaign from the store; returns how many were dropped."""
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.campaigns.complete_stale(waiting_before=now - rules.LISTENER_GRACE,
                                               running_before=now - rules.RUNNING_LIMIT, at=now)
            await uow.queries.delete_unused_hidden()
            await uow.commit()
        active = await self.store.active_ids()
        if not active:
            return 0
        async with self.uow() as uow:
            inactive = await uow.campaigns.inactive(active)
        await self.store.stop(inactive)
        return len(inactive)

    async def check_status(self) -> None:
        """Raises PermissionDenied when live queries are disabled, Unavailable when the store is down."""
        async with self.uow() as uow:
            if (await uow.app_config.get()).server_settings.live_query_disabled:
                raise PermissionDenied(DISABLED)
        await self.check_result_store()

    async def check_result_store(self) -> None:
        """Raises Unavailable when the store does not answer."""
        if not await self.store.ping():
            raise Unavailable("the live query result store is unavailable")

    # ---- synchronous runs --------------------------------------------------------------------------

    async def run_saved_queries(self, viewer: Viewer, query_ids: Sequence[int],
                                host_ids: Sequence[int]) -> builtins.list[QueryRun]:
        """Run saved queries concurrently on hosts and collect answers until every online target
        answered or the rest period passed. A query that cannot run reports why in its error.

        Raises:
            PermissionDenied: live queries are disabled.
        """
        authorize(viewer, Action.RUN_LIVE_QUERIES)
        await self._require_enabled()
        deadline = time.monotonic() + self.rest_period.total_seconds()
        selection = TargetSelection(host_ids=host_ids)
        return list(await asyncio.gather(*[
            self._collect(viewer, query_id=qid, query=None, selection=selection, deadline=deadline, lenient=True)
            for qid in query_ids
        ]))

    async def run_saved_query(self, viewer: Viewer, query_id: int, host_ids: Sequence[int]) -> QueryRun:
        """One saved query on these hosts, collected as run_saved_queries does.

        Raises as create_campaign."""
        deadline = time.monotonic() + self.rest_period.total_seconds()
        return await self._collect(viewer, query_id=query_id, query=None,
                                   selection=TargetSelection(host_ids=host_ids), deadline=deadline)

    async def run_on_host(self, viewer: Viewer, sql: str, *, host_id: int | None = None,
                          identifier: str | None = None) -> HostRun:
        """Ad-hoc SQL on one host (by id or identifier). An offline host is reported at once and
        asked nothing; otherwise waits for its answer up to the rest period.

        Raises:
            InvalidArgument: empty SQL.
            NotFound: no such host, or one the viewer may not see.
            PermissionDenied: live queries are disabled, or the viewer may not run ad-hoc SQL there.
        """
        authorize(viewer, Action.RUN_LIVE_QUERIES)
        if not sql.strip():
            raise InvalidArgument(("query", "may not be empty"))
        async with self.uow() as uow:
            if host_id is not None:
                host = await uow.hosts.get(host_id)
            else:
                ident = identifier or ""
                host = await uow.hosts.find_by_identifier(ident, node_key_hash=self.tokens.digest(ident))
        if host is None or not is_visible(host.team_id, visible_team_ids(viewer.user)):
            raise NotFound(f"Host {host_id if host_id is not None else identifier} was not found in the datastore")
        await self._require_enabled()
        if not is_online(host.seen_time, host.distributed_interval, host.config_tls_refresh, self.clock.now()):
            return HostRun(host_id=host.id, query=sql, online=False, rows=[], error=None)
        deadline = time.monotonic() + self.rest_period.total_seconds()
        run = await self._collect(viewer, query_id=None, query=sql, selection=TargetSelection(host_ids=[host.id]),
                                  deadline=deadline)
        answer = next((a for a in run.answers if a.host_id == host.id), None)
        if answer is None:
            return HostRun(host_id=host.id, query=sql, online=True, rows=[], error=TIMEOUT_ERROR)
        return HostRun(host_id=host.id, query=sql, online=True, rows=answer.rows, error=answer.error)

    async def _require_enabled(self) -> None:
        async with self.uow() as uow:
            if (await uow.app_config.get()).server_settings.live_query_disabled:
                raise PermissionDenied(DISABLED)

    async def _collect(self, viewer: Viewer, *, query_id: int | None, query: str | None,
                       selection: TargetSelection, deadline: float, lenient: bool = False) -> QueryRun:
        try:
            started, subscription = await self._start(viewer, query=query, query_id=query_id, selected=selection,
                                                      subscribe=True)
        except (NotFound, BadRequest, PermissionDenied, InvalidArgument, Unavailable) as exc:
            if not lenient:
                raise
            return QueryRun(query_id=query_id, targeted_host_ids=(), answers=(), error=_reason(exc))
        assert subscription is not None
        campaign = started.campaign
        answers: dict[int, HostAnswer] = {}
        try:
            expected = set(await self._online(campaign.host_ids))
            while not expected <= answers.keys():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                result = await subscription.next(remaining)
                if result is not None and result.campaign_id == campaign.id and result.host_id not in answers:
                    answers[result.host_id] = HostAnswer(host_id=result.host_id, rows=[dict(r) for r in result.rows],
                                                         error=result.error)
        finally:
            await subscription.close()
            await self.complete(campaign.id)
        return QueryRun(query_id=campaign.query_id, targeted_host_ids=campaign.host_ids,
                        answers=tuple(sorted(answers.values(), key=lambda a: a.host_id)))

    async def _online(self, host_ids: Sequence[int]) -> builtins.list[int]:
        async with self.uow() as uow:
            return await uow.host_inventory.ids(HostFilter(ids=frozenset(host_ids), status=HostStatus.ONLINE),
                                                now=self.clock.now())


def _reason(exc: FleetError) -> str:
    if isinstance(exc, InvalidArgument):
        return "; ".join(f"{name} {reason}" for name, reason in exc.problems)
    if isinstance(exc, BadRequest):
        return exc.reason
    return str(exc) or type(exc).__name__


class NoLiveQueryStore:
    """The store of a server assembled without one: nothing runs, and saying so is an outage."""

    async def start(self, campaign_id: int, sql: str, host_ids: Sequence[int]) -> None:
        raise Unavailable("no live query store is configured")

    async def stop(self, campaign_ids: Sequence[int]) -> None:
        return None

    async def queries_for_host(self, host_id: int) -> dict[int, str]:
        return {}

    async def answered(self, campaign_id: int, host_id: int) -> None:
        return None

    async def active_ids(self) -> builtins.list[int]:
        return []

    async def publish(self, result: LiveResult) -> bool:
        return False

    async def subscribe(self, campaign_id: int) -> ResultSubscription:
        raise Unavailable("no live query store is configured")

    async def ping(self) -> bool:
        return False
