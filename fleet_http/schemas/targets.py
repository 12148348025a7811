"""Request and response bodies of target search and count, host search and the translator
(Fleet's searchTargetsRequest/Response, countTargetsResponse, searchHostsResponse, translatorResponse)."""

from __future__ import annotations

import msgspec

from fleet_core.rules.targets import TargetSelection
from fleet_core.services.labels import LabelView
from fleet_core.services.targets import LabelTarget, TargetMetrics, TargetSearch, TeamTarget
from fleet_core.services.teams import TeamView
from fleet_http.schemas.hosts import HostBody, to_host
from fleet_http.schemas.labels import LabelDetailBody, to_label_detail
from fleet_http.schemas.teams import TeamBody, to_team


class SelectedBody(msgspec.Struct, kw_only=True):
    hosts: list[int] | None = None
    labels: list[int] | None = None
    teams: list[int] | None = None


def to_selection(selected: SelectedBody | None) -> TargetSelection:
    if selected is None:
        return TargetSelection()
    return TargetSelection(host_ids=selected.hosts or (), label_ids=selected.labels or (),
                           team_ids=selected.teams or ())


class SearchTargetsRequest(msgspec.Struct, kw_only=True):
    query: str | None = None
    query_id: int | None = None
    selected: SelectedBody | None = None
    include_observer: bool = False


class SearchHostsRequest(msgspec.Struct, kw_only=True):
    query: str | None = None
    query_id: int | None = None
    excluded_host_ids: list[int] | None = None
    include_observer: bool = False


class CountTargetsRequest(msgspec.Struct, kw_only=True):
    query_id: int | None = None
    selected: SelectedBody | None = None
    include_observer: bool = False


class TargetTeamBody(TeamBody, kw_only=True):
    display_text: str
    count: int


class TargetsBody(msgspec.Struct, kw_only=True):
    hosts: list[HostBody]
    labels: list[LabelDetailBody]
    teams: list[TargetTeamBody]


class SearchTargetsResponse(msgspec.Struct, kw_only=True):
    targets: TargetsBody
    targets_count: int
    targets_online: int
    targets_offline: int
    targets_missing_in_action: int


class CountTargetsResponse(msgspec.Struct, kw_only=True):
    targets_count: int
    targets_online: int
    targets_offline: int
    targets_missing_in_action: int


class HostTargetsBody(msgspec.Struct, kw_only=True):
    hosts: list[HostBody]


class SearchHostsResponse(msgspec.Struct, kw_only=True):
    # Fleet sends "hosts"; its contributor docs show them under "targets.hosts". Both are sent
    # so that clients written against either find them.
    hosts: list[HostBody]
    targets: HostTargetsBody


class TranslatePayloadBody(msgspec.Struct, kw_only=True):
    identifier: str | None = None


class TranslateItemBody(msgspec.Struct, kw_only=True):
    type: str | None = None
    payload: TranslatePayloadBody | None = None


class TranslateRequest(msgspec.Struct, kw_only=True):
    items: list[TranslateItemBody] | None = msgspec.field(default=None, name="list")


class TranslatedPayloadBody(msgspec.Struct, kw_only=True):
    identifier: str
    id: int


class TranslatedItemBody(msgspec.Struct, kw_only=True):
    type: str
    payload: TranslatedPayloadBody


class TranslateResponse(msgspec.Struct, kw_only=True):
    items: list[TranslatedItemBody] = msgspec.field(name="list")


def _label(target: LabelTarget) -> LabelDetailBody:
    return to_label_detail(LabelView(label=target.label, host_count=target.count))


def _team(target: TeamTarget) -> TargetTeamBody:
    body = to_team(TeamView(team=target.team, agent_options=target.team.agent_options,
                            user_count=target.user_count, host_count=target.host_count))
    return TargetTeamBody(**msgspec.structs.asdict(body), display_text=target.team.name, count=target.host_count)


def to_counts(metrics: TargetMetrics) -> CountTargetsResponse:
    return CountTargetsResponse(targets_count=metrics.total, targets_online=metrics.online,
                                targets_offline=metrics.offline, targets_missing_in_action=metrics.missing_in_action)


def to_search_targets(found: TargetSearch) -> SearchTargetsResponse:
    metrics = found.metrics
    return SearchTargetsResponse(
        targets=TargetsBody(hosts=[to_host(h, found.as_of) for h in found.hosts],
                            labels=[_label(lb) for lb in found.labels], teams=[_team(t) for t in found.teams]),
        targets_count=metrics.total, targets_online=metrics.online, targets_offline=metrics.offline,
        targets_missing_in_action=metrics.missing_in_action,
    )
