"""Saved queries: the list (global or the switcher's team), create, edit (SQL with syntax
highlighting and a platform compatibility check, static/queries.js), delete."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, InvalidArgument
from fleet_core.model.queries import QueryFields, SavedQuery
from fleet_core.services.queries import QueryChanges, QueryService
from fleet_core.services.teams import TeamService
from fleet_http.console.pages import (
    available_teams,
    field_errors,
    form_data,
    form_lists,
    page_info,
    paging,
    redirect,
    render,
    selected_team_id,
)

# The platforms a saved query may target (osquery's names, as Fleet stores them).
PLATFORMS: Final = (("darwin", "macOS"), ("windows", "Windows"), ("linux", "Linux"), ("chrome", "ChromeOS"))
LOGGING_TYPES: Final = (("snapshot", "Snapshot"), ("differential", "Differential"),
                        ("differential_ignore_removals", "Differential (ignore removals)"))


def _fields_from(form: dict[str, str], platforms: list[str]) -> QueryFields:
    raw_interval = form.get("interval", "").strip() or "0"
    try:
        interval = int(raw_interval)
    except ValueError:
        raise InvalidArgument(("interval", "must be a whole number of seconds")) from None
    known = {key for key, _ in PLATFORMS}
    return QueryFields(
        name=form.get("name", "").strip(), query=form.get("query", ""),
        description=form.get("description", "").strip(),
        observer_can_run=form.get("observer_can_run") == "on", interval=interval,
        platform=",".join(p for p in platforms if p in known),
        min_osquery_version=form.get("min_osquery_version", "").strip(),
        automations_enabled=form.get("automations_enabled") == "on",
        logging=form.get("logging", "snapshot"),
    )


def _form_context(saved: QueryFields | SavedQuery | None, errors: dict[str, str], error: str = "") -> dict[str, Any]:
    return {"q": saved, "errors": errors, "form_error": error, "platforms": PLATFORMS,
            "logging_types": LOGGING_TYPES,
            "selected_platforms": (saved.platform.split(",") if saved is not None and saved.platform else [])}


class QueryPagesController(Controller):
    path = "/queries"

    @get("")
    async def query_list(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                         queries: NamedDependency[QueryService], teams: NamedDependency[TeamService]) -> Response[Any]:
        choices = await available_teams(viewer, teams)
        team_id = selected_team_id(request, choices)
        if team_id is None and viewer.user.global_role is None and choices:
            team_id = choices[0].id
        options = paging(request)
        listed = await queries.list(viewer, options, team_id=team_id)
        return render(request, "queries/list.html", {
            "queries": listed, "page": page_info(request, options, len(listed)),
        }, viewer=viewer, teams=choices, team_id=team_id)

    @get("/new")
    async def new_query(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Response[Any]:
        team_id = _team_param(request)
        context = {**_form_context(None, {}), "team_id_field": team_id, "query_id": None}
        return render(request, "queries/edit.html", context, viewer=viewer)

    @post("/new")
    async def create_query(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                           queries: NamedDependency[QueryService]) -> Response[Any]:
        form = await form_data(request)
        team_id = _team_param(request, form.get("team_id", ""))
        fields: QueryFields | None = None
        try:
            fields = _fields_from(form, await form_lists(request, "platform"))
            saved = await queries.create(viewer, fields, team_id=team_id)
        except (InvalidArgument, AlreadyExists) as exc:
            return _form_failed(request, viewer, fields, exc, team_id)
        return redirect(request, f"/queries/{saved.id}", flash=f"Saved query {saved.name}.")

    @get("/{query_id:int}")
    async def edit_query(self, request: Request[Any, Any, Any], query_id: FromPath[int],
                         viewer: NamedDependency[Viewer], queries: NamedDependency[QueryService]) -> Response[Any]:
        saved = await queries.get(viewer, query_id)
        return render(request, "queries/edit.html", {**_form_context(saved, {}), "team_id_field": saved.team_id,
                                                  "query_id": saved.id},
                      viewer=viewer)

    @post("/{query_id:int}")
    async def save_query(self, request: Request[Any, Any, Any], query_id: FromPath[int],
                         viewer: NamedDependency[Viewer], queries: NamedDependency[QueryService]) -> Response[Any]:
        form = await form_data(request)
        fields: QueryFields | None = None
        try:
            fields = _fields_from(form, await form_lists(request, "platform"))
            changes = QueryChanges(**{name: getattr(fields, name) for name in (
                "name", "query", "description", "observer_can_run", "interval", "platform",
                "min_osquery_version", "automations_enabled", "logging")})
            saved = await queries.modify(viewer, query_id, changes)
        except (InvalidArgument, AlreadyExists) as exc:
            existing = await queries.get(viewer, query_id)
            return _form_failed(request, viewer, fields, exc, existing.team_id, existing=existing)
        return redirect(request, f"/queries/{saved.id}", flash=f"Saved query {saved.name}.")

    @post("/{query_id:int}/delete")
    async def delete_query(self, request: Request[Any, Any, Any], query_id: FromPath[int],
                           viewer: NamedDependency[Viewer], queries: NamedDependency[QueryService]) -> Response[Any]:
        saved = await queries.get(viewer, query_id)
        await queries.delete(viewer, query_id)
        back = "/queries" + (f"?team_id={saved.team_id}" if saved.team_id is not None else "")
        return redirect(request, back, flash=f"Deleted query {saved.name}.")


def _team_param(request: Request[Any, Any, Any], raw: str | None = None) -> int | None:
    value = raw if raw is not None else request.query_params.get("team_id", "")
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _form_failed(request: Request[Any, Any, Any], viewer: Viewer, fields: QueryFields | None,
                 exc: InvalidArgument | AlreadyExists, team_id: int | None,
                 existing: SavedQuery | None = None) -> Response[Any]:
    errors = field_errors(exc.problems) if isinstance(exc, InvalidArgument) else {"name": str(exc)}
    shown = fields if fields is not None else existing
    context = _form_context(shown, errors, "" if errors else str(exc))
    context["team_id_field"] = team_id
    context["query_id"] = existing.id if existing is not None else None
    return render(request, "queries/edit.html", context, viewer=viewer, status_code=422)

