"""Request and response bodies of live queries (Fleet's createDistributedQueryCampaignRequest and
Response, runLiveQueryRequest/Response, runOneLiveQuery and runLiveQueryOnHost)."""

from __future__ import annotations

from typing import Any

import msgspec

from fleet_core.model.campaigns import StartedCampaign
from fleet_core.services.live_queries import HostAnswer, HostRun, QueryRun
from fleet_http.schemas.common import ts
from fleet_http.schemas.targets import SelectedBody


class RunCampaignRequest(msgspec.Struct, kw_only=True):
    query: str | None = None
    query_id: int | None = None
    selected: SelectedBody | None = None


class SelectedNamesBody(msgspec.Struct, kw_only=True):
    hosts: list[str] | None = None
    labels: list[str] | None = None


class RunCampaignByNamesRequest(msgspec.Struct, kw_only=True):
    query: str | None = None
    query_id: int | None = None
    selected: SelectedNamesBody | None = None


class MetricsBody(msgspec.Struct, kw_only=True):
    # Fleet embeds TargetMetrics without JSON tags, so its keys are the Go field names.
    total_hosts: int = msgspec.field(name="TotalHosts")
    online_hosts: int = msgspec.field(name="OnlineHosts")
    offline_hosts: int = msgspec.field(name="OfflineHosts")
    missing_in_action_hosts: int = msgspec.field(name="MissingInActionHosts")
    new_hosts: int = msgspec.field(name="NewHosts")


class CampaignBody(msgspec.Struct, kw_only=True):
    created_at: str
    updated_at: str
    metrics: MetricsBody = msgspec.field(name="Metrics")
    id: int
    query_id: int | None
    status: int
    user_id: int


class CampaignResponse(msgspec.Struct, kw_only=True):
    campaign: CampaignBody


def to_campaign(started: StartedCampaign) -> CampaignBody:
    c, m = started.campaign, started.metrics
    return CampaignBody(
        created_at=ts(c.created_at), updated_at=ts(c.updated_at),
        metrics=MetricsBody(total_hosts=m.total, online_hosts=m.online, offline_hosts=m.offline,
                            missing_in_action_hosts=m.missing_in_action, new_hosts=m.new),
        id=c.id, query_id=c.query_id, status=int(c.status), user_id=c.user_id,
    )


class RunQueriesRequest(msgspec.Struct, kw_only=True):
    query_ids: list[int] | None = None
    host_ids: list[int] | None = None


class RunQueryRequest(msgspec.Struct, kw_only=True):
    host_ids: list[int] | None = None


class HostQueryRequest(msgspec.Struct, kw_only=True):
    query: str | None = None


class HostAnswerBody(msgspec.Struct, kw_only=True):
    host_id: int
    rows: list[dict[str, Any]]
    error: str | None


def to_answers(answers: tuple[HostAnswer, ...]) -> list[HostAnswerBody]:
    return [HostAnswerBody(host_id=a.host_id, rows=a.rows, error=a.error) for a in answers]


class QueryResultsBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    query_id: int | None
    results: list[HostAnswerBody]
    error: str | None = None


class SummaryBody(msgspec.Struct, kw_only=True):
    targeted_host_count: int
    responded_host_count: int


class RunQueriesResponse(msgspec.Struct, kw_only=True):
    summary: SummaryBody
    live_query_results: list[QueryResultsBody]


def to_run_queries(query_ids: list[int], runs: list[QueryRun]) -> RunQueriesResponse:
    targeted = {h for run in runs for h in run.targeted_host_ids}
    responded = {a.host_id for run in runs for a in run.answers}
    return RunQueriesResponse(
        summary=SummaryBody(targeted_host_count=len(targeted), responded_host_count=len(responded)),
        live_query_results=[QueryResultsBody(query_id=qid, results=to_answers(run.answers), error=run.error)
                            for qid, run in zip(query_ids, runs, strict=True)],
    )


class RunQueryResponse(msgspec.Struct, kw_only=True):
    query_id: int | None
    targeted_host_count: int
    responded_host_count: int
    results: list[HostAnswerBody]


def to_run_query(run: QueryRun) -> RunQueryResponse:
    return RunQueryResponse(query_id=run.query_id, targeted_host_count=len(run.targeted_host_ids),
                            responded_host_count=len(run.answers), results=to_answers(run.answers))


class HostQueryResponse(msgspec.Struct, kw_only=True):
    host_id: int
    query: str
    status: str
    rows: list[dict[str, Any]]
    error: str | None


def to_host_query(run: HostRun) -> HostQueryResponse:
    return HostQueryResponse(host_id=run.host_id, query=run.query, status="online" if run.online else "offline",
                             rows=run.rows, error=run.error)
