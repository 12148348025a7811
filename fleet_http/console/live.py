"""Live queries: choose hosts, labels and teams (the target count shown before starting, from
the targets service), start a campaign (the live query service), and watch results stream in
over the results WebSocket (/api/v1/fleet/results/websocket, static/live.js): progress, errors
per host, stop, export as CSV or JSON."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from fleet_core.authz import Action, Viewer
from fleet_core.errors import BadRequest, InvalidArgument, NotFound, PermissionDenied
from fleet_core.rules.paging import ListOptions
from fleet_core.rules.targets import TargetSelection
from fleet_core.services.hosts import HostService
from fleet_core.services.labels import LabelService
from fleet_core.services.live_queries import LiveQueryService
from fleet_core.services.queries import QueryService
from fleet_core.services.targets import TargetService
from fleet_core.services.teams import TeamService
from fleet_http.console.pages import available_teams, can, field_errors, form_data, form_lists, render

RESULTS_WEBSOCKET: Final = "/api/v1/fleet/results/websocket"
LABEL_CHOICES: Final = 500
# Live queries have no navigation entry of their own: they belong with Queries.
LIVE_NAV_AREA: Final = "/queries"
# Selected hosts listed by name on the page (the count covers every one).
MAX_LISTED_SELECTED: Final = 100


def _ids(values: list[str]) -> frozenset[int]:
    return frozenset(int(v) for v in values if v.strip().isdigit())


def selection_from_query(request: Request[Any, Any, Any]) -> TargetSelection:
    params = request.query_params
    return TargetSelection(host_ids=_ids(params.getall("host_id", [])), label_ids=_ids(params.getall("label_id", [])),
                           team_ids=_ids(params.getall("target_team_id", [])))


def _query_id(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() else None


async def _target_page(request: Request[Any, Any, Any], viewer: Viewer, selected: TargetSelection,
                       targets: TargetService, hosts: HostService, labels: LabelService, teams: TeamService,
                       queries: QueryService,
                       *, sql: str = "", query_id: int | None = None, errors: dict[str, str] | None = None,
                       status_code: int = 200) -> Response[Any]:
    search = request.query_params.get("search", "")
    found = await targets.search_targets(viewer, search, TargetSelection(), query_id=query_id)
    metrics = await targets.count_targets(viewer, selected, query_id=query_id)
    selected_hosts = []
    for host_id in sorted(selected.host_ids)[:MAX_LISTED_SELECTED]:
        try:
            selected_hosts.append((await hosts.get(viewer, host_id)).host)
        except (NotFound, PermissionDenied):
            continue
    label_list = []
    if can(viewer, Action.READ_LABELS):
        label_list = [v.label for v in await labels.list(viewer, ListOptions(per_page=LABEL_CHOICES, order_key="name"))]
    saved = await queries.get(viewer, query_id) if query_id is not None else None
    return render(request, "live/targets.html", {
        "found_hosts": [h for h in found.hosts if h.id not in selected.host_ids],
        "selected_hosts": selected_hosts, "selected": selected, "search": search,
        "labels": label_list, "team_choices": await available_teams(viewer, teams), "metrics": metrics,
        "sql": sql or (saved.query if saved else ""), "saved": saved, "errors": errors or {},
        "current_area": LIVE_NAV_AREA,
    }, viewer=viewer, status_code=status_code)


class LiveQueryController(Controller):
    path = "/live"

    @get("")
    async def choose_targets(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                             targets: NamedDependency[TargetService], hosts: NamedDependency[HostService],
                             labels: NamedDependency[LabelService],
                             teams: NamedDependency[TeamService],
                             queries: NamedDependency[QueryService]) -> Response[Any]:
        return await _target_page(request, viewer, selection_from_query(request), targets, hosts, labels, teams,
                                  queries,
                                  sql=request.query_params.get("sql", ""),
                                  query_id=_query_id(request.query_params.get("query_id", "")))

    @get("/count")
    async def count(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                    targets: NamedDependency[TargetService]) -> dict[str, int]:
        """The target count of a selection, for the page's script (the same service as the page)."""
        metrics = await targets.count_targets(viewer, selection_from_query(request),
                                              query_id=_query_id(request.query_params.get("query_id", "")))
        return {"total": metrics.total, "online": metrics.online, "offline": metrics.offline,
                "missing_in_action": metrics.missing_in_action}

    @post("/start")
    async def start(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                    live_queries: NamedDependency[LiveQueryService], targets: NamedDependency[TargetService],
                    hosts: NamedDependency[HostService],
                    labels: NamedDependency[LabelService], teams: NamedDependency[TeamService],
                    queries: NamedDependency[QueryService]) -> Response[Any]:
        form = await form_data(request)
        selected = TargetSelection(host_ids=_ids(await form_lists(request, "host_id")),
                                   label_ids=_ids(await form_lists(request, "label_id")),
                                   team_ids=_ids(await form_lists(request, "target_team_id")))
        query_id = _query_id(form.get("query_id", ""))
        sql = form.get("query", "").strip()
        saved = await queries.get(viewer, query_id) if query_id is not None else None
        if saved is not None and sql == saved.query.strip():
            sql = ""  # the saved query as it is: observers may run it when it allows them
        try:
            started = await live_queries.create_campaign(viewer, query=sql or None,
                                                         query_id=query_id if not sql else None, selected=selected)
        except InvalidArgument as exc:
            return await _target_page(request, viewer, selected, targets, hosts, labels, teams, queries, sql=sql,
                                      query_id=query_id, errors=field_errors(exc.problems), status_code=422)
        except (BadRequest, NotFound) as exc:
            return await _target_page(request, viewer, selected, targets, hosts, labels, teams, queries, sql=sql,
                                      query_id=query_id, errors={"targets": str(exc)}, status_code=422)
        campaign = started.campaign
        return render(request, "live/run.html", {
            "campaign": campaign, "metrics": started.metrics, "sql": sql or (saved.query if saved else ""),
            "websocket_path": RESULTS_WEBSOCKET,
            "current_area": LIVE_NAV_AREA,
        }, viewer=viewer)
