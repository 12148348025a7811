"""Schedule and packs: the global schedule and each team's (saved queries with an interval,
logging type, platform, minimum osquery version and shard), and the user packs: list, add and
edit (targets: labels, teams, hosts), their scheduled queries, enable/disable, delete."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Action, Viewer
from fleet_core.errors import InvalidArgument, PermissionDenied
from fleet_core.model.packs import Pack, PackFields, PackTargets, ScheduledQuery, ScheduleFields
from fleet_core.model.queries import SavedQuery
from fleet_core.rules.paging import ListOptions
from fleet_core.services.hosts import HostService
from fleet_core.services.labels import LabelService
from fleet_core.services.packs import PackChanges, PackService
from fleet_core.services.queries import QueryService
from fleet_core.services.teams import TeamService
from fleet_http.console.pages import (
    TeamChoice,
    available_teams,
    field_errors,
    form_data,
    form_lists,
    redirect,
    render,
)
from fleet_http.console.scopes import host_choices, ids_of, int_or_none, may, may_global_only

QUERY_CHOICES: Final = 500
# The logging types as osquery knows them: (snapshot, removed) for each.
LOGGING: Final = {
    "differential": (None, None),
    "differential_ignore_removals": (None, False),
    "snapshot": (True, None),
}
LOGGING_CHOICES: Final = [("differential", "Differential"),
                          ("differential_ignore_removals", "Differential (ignore removals)"),
                          ("snapshot", "Snapshot")]
PLATFORM_CHOICES: Final = [("", "All platforms"), ("darwin", "macOS"), ("windows", "Windows"),
                           ("linux", "Linux"), ("chrome", "ChromeOS")]


def logging_of(entry: ScheduledQuery) -> str:
    if entry.snapshot:
        return "snapshot"
    return "differential_ignore_removals" if entry.removed is False else "differential"


def _schedule_fields(form: dict[str, str]) -> tuple[int | None, ScheduleFields]:
    """The query id and the schedule fields of the "schedule a query" form; a missing or
    non-numeric interval becomes 0 so the core names it."""
    snapshot, removed = LOGGING.get(form.get("logging", ""), (None, None))
    return int_or_none(form.get("query_id")), ScheduleFields(
        interval=int_or_none(form.get("interval")) or 0, snapshot=snapshot, removed=removed,
        platform=form.get("platform") or None, version=form.get("version", "").strip() or None,
        shard=int_or_none(form.get("shard")))


async def _query_choices(viewer: Viewer, queries: QueryService, team_id: int | None) -> list[tuple[int, str]]:
    """(id, name) of the saved queries a schedule may run: the global ones, and the team's."""
    found: list[SavedQuery] = await queries.list(viewer, ListOptions(per_page=QUERY_CHOICES, order_key="name"))
    if team_id is not None:
        found += await queries.list(viewer, ListOptions(per_page=QUERY_CHOICES, order_key="name"), team_id=team_id)
    return [(query.id, query.name + (" (team)" if query.team_id is not None else "")) for query in found]


def _scope_query(team_id: int | None) -> str:
    return "" if team_id is None else f"?team_id={team_id}"


def _targets(form_ids: dict[str, list[str]]) -> PackTargets:
    return PackTargets(host_ids=tuple(ids_of(form_ids["host_ids"])), label_ids=tuple(ids_of(form_ids["label_ids"])),
                       team_ids=tuple(ids_of(form_ids["team_ids"])))


class PackPagesController(Controller):
    path = "/packs"

    # --- the schedule (global or a team's) and the packs list ---

    @get("")
    async def schedule_and_packs(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                                 packs: NamedDependency[PackService], queries: NamedDependency[QueryService],
                                 teams: NamedDependency[TeamService]) -> Response[Any]:
        choices = await available_teams(viewer, teams)
        team_id = int_or_none(request.query_params.get("team_id"))
        if team_id is None and viewer.user.global_role is None and choices:
            team_id = choices[0].id
        return await self._schedule_page(request, viewer, packs, queries, choices, team_id, {}, {}, 200)

    async def _schedule_page(self, request: Request[Any, Any, Any], viewer: Viewer, packs: PackService,
                             queries: QueryService, choices: list[TeamChoice], team_id: int | None,
                             form: dict[str, str], errors: dict[str, str], status: int) -> Response[Any]:
        schedule = await packs.schedule_of(viewer, team_id, ListOptions(per_page=QUERY_CHOICES, order_key="name"))
        try:
            user_packs = await packs.list(viewer, ListOptions(per_page=QUERY_CHOICES, order_key="name"))
        except PermissionDenied:
            user_packs = None  # team users have schedules, not packs
        can_schedule = may(viewer, Action.WRITE_PACKS, team_id) if team_id is not None \
            else may_global_only(viewer, Action.WRITE_PACKS)
        return render(request, "packs/list.html", {
            "schedule": [(entry, logging_of(entry)) for entry in schedule], "packs": user_packs,
            "queries_options": await _query_choices(viewer, queries, team_id) if can_schedule else [],
            "can_schedule": can_schedule, "can_write_packs": may_global_only(viewer, Action.WRITE_PACKS),
            "scope_query": _scope_query(team_id), "form": form, "errors": errors,
            "logging_choices": LOGGING_CHOICES, "platforms": PLATFORM_CHOICES,
        }, viewer=viewer, teams=choices, team_id=team_id, status_code=status)

    @post("/schedule")
    async def add_to_schedule(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                              packs: NamedDependency[PackService], queries: NamedDependency[QueryService],
                              teams: NamedDependency[TeamService]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        form = await form_data(request)
        query_id, fields = _schedule_fields(form)
        try:
            if query_id is None:
                raise InvalidArgument(("query_id", "choose a query"))
            await packs.add_to_schedule(viewer, team_id, query_id, fields)
        except InvalidArgument as exc:
            return await self._schedule_page(request, viewer, packs, queries, await available_teams(viewer, teams),
                                             team_id, form, field_errors(exc.problems), 422)
        return redirect(request, "/packs" + _scope_query(team_id), flash="Query scheduled.")

    @post("/schedule/{scheduled_id:int}/delete")
    async def remove_from_schedule(self, request: Request[Any, Any, Any], scheduled_id: FromPath[int],
                                   viewer: NamedDependency[Viewer],
                                   packs: NamedDependency[PackService]) -> Response[Any]:
        team_id = int_or_none(request.query_params.get("team_id"))
        await packs.remove_from_schedule(viewer, team_id, scheduled_id)
        return redirect(request, "/packs" + _scope_query(team_id), flash="Removed from the schedule.")

    # --- user packs ---

    async def _pack_form(self, request: Request[Any, Any, Any], viewer: Viewer, labels: LabelService,
                         teams: TeamService, hosts: HostService, template: str, context: dict[str, Any],
                         status: int = 200) -> Response[Any]:
        return render(request, template, {
            **context,
            "label_choices": [(label.id, label.name) for label in await labels.summary(viewer)],
            "team_choices": [(team.id, team.name) for team in await available_teams(viewer, teams)],
            "host_choices": await host_choices(viewer, hosts),
        }, viewer=viewer, status_code=status)

    @get("/new")
    async def new_pack(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                       labels: NamedDependency[LabelService], teams: NamedDependency[TeamService],
                       hosts: NamedDependency[HostService]) -> Response[Any]:
        return await self._pack_form(request, viewer, labels, teams, hosts, "packs/form.html",
                                     {"pack": None, "form": {}, "targets": PackTargets(), "errors": {}})

    @post("")
    async def create_pack(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                          packs: NamedDependency[PackService], labels: NamedDependency[LabelService],
                          teams: NamedDependency[TeamService], hosts: NamedDependency[HostService]) -> Response[Any]:
        form = await form_data(request)
        targets = _targets({name: await form_lists(request, name) for name in ("host_ids", "label_ids", "team_ids")})
        try:
            pack = await packs.create(viewer, PackFields(name=form.get("name", ""),
                                                         description=form.get("description", ""), targets=targets))
        except InvalidArgument as exc:
            return await self._pack_form(request, viewer, labels, teams, hosts, "packs/form.html",
                                         {"pack": None, "form": form, "targets": targets,
                                          "errors": field_errors(exc.problems)}, 422)
        return redirect(request, f"/packs/{pack.id}", flash=f"Pack {pack.name} added.")

    @get("/{pack_id:int}")
    async def pack_detail(self, request: Request[Any, Any, Any], pack_id: FromPath[int],
                          viewer: NamedDependency[Viewer], packs: NamedDependency[PackService],
                          queries: NamedDependency[QueryService], labels: NamedDependency[LabelService],
                          teams: NamedDependency[TeamService], hosts: NamedDependency[HostService]) -> Response[Any]:
        pack = await packs.get(viewer, pack_id)
        return await self._detail(request, viewer, pack, packs, queries, labels, teams, hosts,
                                  {"name": pack.name, "description": pack.description}, {}, 200)

    async def _detail(self, request: Request[Any, Any, Any], viewer: Viewer, pack: Pack, packs: PackService,
                      queries: QueryService, labels: LabelService, teams: TeamService, hosts: HostService,
                      form: dict[str, str], errors: dict[str, str], status: int) -> Response[Any]:
        can_write = pack.type is None and may_global_only(viewer, Action.WRITE_PACKS)
        entries = await packs.scheduled(viewer, pack.id)
        context = {"pack": pack, "form": form, "targets": pack.targets, "errors": errors, "can_write": can_write,
                   "scheduled": [(entry, logging_of(entry)) for entry in entries],
                   "queries_options": await _query_choices(viewer, queries, None) if can_write else [],
                   "logging_choices": LOGGING_CHOICES, "platforms": PLATFORM_CHOICES}
        if not can_write:
            return render(request, "packs/detail.html", context, viewer=viewer, status_code=status)
        return await self._pack_form(request, viewer, labels, teams, hosts, "packs/detail.html", context, status)

    @post("/{pack_id:int}")
    async def modify_pack(self, request: Request[Any, Any, Any], pack_id: FromPath[int],
                          viewer: NamedDependency[Viewer], packs: NamedDependency[PackService],
                          queries: NamedDependency[QueryService], labels: NamedDependency[LabelService],
                          teams: NamedDependency[TeamService], hosts: NamedDependency[HostService]) -> Response[Any]:
        form = await form_data(request)
        targets = _targets({name: await form_lists(request, name) for name in ("host_ids", "label_ids", "team_ids")})
        changes = PackChanges(name=form.get("name", ""), description=form.get("description", ""),
                              host_ids=list(targets.host_ids), label_ids=list(targets.label_ids),
                              team_ids=list(targets.team_ids))
        try:
            pack = await packs.modify(viewer, pack_id, changes)
        except InvalidArgument as exc:
            pack = await packs.get(viewer, pack_id)
            return await self._detail(request, viewer, pack, packs, queries, labels, teams, hosts, form,
                                      field_errors(exc.problems), 422)
        return redirect(request, f"/packs/{pack.id}", flash="Pack saved.")

    @post("/{pack_id:int}/toggle")
    async def toggle_pack(self, request: Request[Any, Any, Any], pack_id: FromPath[int],
                          viewer: NamedDependency[Viewer], packs: NamedDependency[PackService]) -> Response[Any]:
        form = await form_data(request)
        disabled = form.get("disabled") == "true"
        await packs.modify(viewer, pack_id, PackChanges(disabled=disabled))
        return redirect(request, f"/packs/{pack_id}", flash="Pack disabled." if disabled else "Pack enabled.")

    @post("/{pack_id:int}/delete")
    async def delete_pack(self, request: Request[Any, Any, Any], pack_id: FromPath[int],
                          viewer: NamedDependency[Viewer], packs: NamedDependency[PackService]) -> Response[Any]:
        await packs.delete(viewer, pack_id)
        return redirect(request, "/packs", flash="Pack deleted.")

    @post("/{pack_id:int}/queries")
    async def schedule_in_pack(self, request: Request[Any, Any, Any], pack_id: FromPath[int],
                               viewer: NamedDependency[Viewer], packs: NamedDependency[PackService],
                               queries: NamedDependency[QueryService], labels: NamedDependency[LabelService],
                               teams: NamedDependency[TeamService],
                               hosts: NamedDependency[HostService]) -> Response[Any]:
        form = await form_data(request)
        query_id, fields = _schedule_fields(form)
        try:
            if query_id is None:
                raise InvalidArgument(("query_id", "choose a query"))
            await packs.schedule(viewer, pack_id, query_id, fields)
        except InvalidArgument as exc:
            pack = await packs.get(viewer, pack_id)
            return await self._detail(request, viewer, pack, packs, queries, labels, teams, hosts,
                                      {"name": pack.name, "description": pack.description, **form},
                                      field_errors(exc.problems), 422)
        return redirect(request, f"/packs/{pack_id}", flash="Query added to the pack.")

    @post("/{pack_id:int}/queries/{scheduled_id:int}/delete")
    async def unschedule_in_pack(self, request: Request[Any, Any, Any], pack_id: FromPath[int],
                                 scheduled_id: FromPath[int], viewer: NamedDependency[Viewer],
                                 packs: NamedDependency[PackService]) -> Response[Any]:
        await packs.delete_scheduled(viewer, scheduled_id)
        return redirect(request, f"/packs/{pack_id}", flash="Query removed from the pack.")
