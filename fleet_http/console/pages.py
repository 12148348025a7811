"""Rendering a console page: the layout's context (viewer, navigation, teams, CSRF token, flash
messages) and the helpers every area module uses (forms, paging, redirects with a message)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode

import attrs
from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from fleet_core import version
from fleet_core.authz import Action, Viewer, is_allowed_somewhere
from fleet_core.rules.paging import ListOptions
from fleet_core.services.teams import TeamService
from fleet_http.console.session import (
    CSRF_FIELD,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    browser_secret,
    csrf_token_for,
    is_tls,
    new_presession_value,
    presession_cookie,
)

FLASH_COOKIE: Final = "fleet_flash"
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 500
# How many teams the switcher lists for a global user (beyond that, the Teams page).
SWITCHER_TEAMS: Final = 500
# Pages hold CSRF tokens and fleet data: never cached, never framed.
PAGE_HEADERS: Final = {"Cache-Control": "no-store"}


@attrs.frozen
class NavArea:
    """One entry of the navigation: its path, its label, and the action that makes it worth
    offering (None: every signed-in user)."""

    path: str
    label: str
    action: Action | None


# Every area of the console, in the order of the navigation. Area modules serve these paths.
NAV_AREAS: Final = (
    NavArea("/", "Dashboard", None),
    NavArea("/hosts", "Hosts", Action.READ_HOSTS),
    NavArea("/queries", "Queries", Action.READ_QUERIES),
    NavArea("/packs", "Schedule/Packs", Action.READ_PACKS),
    NavArea("/labels", "Labels", Action.READ_LABELS),
    NavArea("/policies", "Policies", Action.READ_POLICIES),
    NavArea("/software", "Software", Action.READ_SOFTWARE),
    NavArea("/carves", "Carves", Action.READ_CARVES),
    NavArea("/teams", "Teams", Action.READ_TEAM),
    NavArea("/users", "Users", Action.LIST_USERS),
    NavArea("/settings", "Settings", Action.WRITE_APP_CONFIG),
    NavArea("/activity", "Activity", Action.READ_ACTIVITIES),
    NavArea("/account", "My account", None),
)


def can(viewer: Viewer, action: Action | str) -> bool:
    """For templates and handlers: offer an action only when the core would allow it somewhere."""
    return is_allowed_somewhere(viewer.user, Action(action))


def nav_for(viewer: Viewer) -> list[NavArea]:
    return [area for area in NAV_AREAS if area.action is None or can(viewer, area.action)]


def current_area(path: str) -> str:
    """The navigation path a request path belongs to (/hosts/12 -> /hosts)."""
    best = "/"
    for area in NAV_AREAS:
        if area.path != "/" and (path == area.path or path.startswith(area.path + "/")):
            best = area.path
    return best


# --- flash messages: one redirect's worth of "Saved." / "Could not ...", in a short cookie ---

@attrs.frozen
class Flash:
    level: str  # "success" | "error" | "info"
    text: str


def flash_cookie(request: Request[Any, Any, Any], messages: Sequence[Flash]) -> Cookie:
    raw = json.dumps([[m.level, m.text] for m in messages]).encode()
    return Cookie(key=FLASH_COOKIE, value=base64.urlsafe_b64encode(raw).decode(), path="/",
                  httponly=True, samesite="lax", secure=is_tls(request))


def _read_flash(request: Request[Any, Any, Any]) -> list[Flash]:
    value = request.cookies.get(FLASH_COOKIE)
    if not value:
        return []
    try:
        items = json.loads(base64.urlsafe_b64decode(value.encode()))
        return [Flash(str(level), str(text)) for level, text in items][:5]
    except (ValueError, TypeError, binascii.Error):
        return []


def redirect(request: Request[Any, Any, Any], path: str, *, flash: str = "", level: str = "success",
             cookies: Sequence[Cookie] = ()) -> Redirect:
    """303 to a console path (after a POST), optionally with a message shown on the next page."""
    all_cookies = list(cookies)
    if flash:
        all_cookies.append(flash_cookie(request, [Flash(level, flash)]))
    return Redirect(path, status_code=303, cookies=all_cookies, headers=PAGE_HEADERS)


# --- forms ---

async def form_data(request: Request[Any, Any, Any]) -> dict[str, str]:
    """A submitted form as text fields (the last value of a repeated field; use form_lists for
    multi-selects). NUL characters never reach the services (Postgres cannot store them)."""
    form = await request.form()
    return {key: value.replace("\x00", "") for key, value in form.items() if isinstance(value, str)}


async def form_lists(request: Request[Any, Any, Any], name: str) -> list[str]:
    form = await request.form()
    return [v.replace("\x00", "") for v in form.getall(name, []) if isinstance(v, str)]


def field_errors(problems: Sequence[tuple[str, str]]) -> dict[str, str]:
    """InvalidArgument.problems as {field: reason} for the form_field macro; a nested API name
    (admin.email, org_info.org_name) is keyed by its last part, the form's field name."""
    errors: dict[str, str] = {}
    for name, reason in problems:
        errors.setdefault(name.rsplit(".", 1)[-1], reason)
    return errors


# --- paging ---

@attrs.frozen
class PageInfo:
    """The paging state of a table: 0-based page, its size, the total when known."""

    page: int
    per_page: int
    total: int | None
    count: int  # rows on this page
    base_query: str = ""  # the other query parameters, already encoded, kept in page links

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        if self.total is not None:
            return (self.page + 1) * self.per_page < self.total
        return self.count >= self.per_page

    def link(self, page: int) -> str:
        params = f"page={page}&per_page={self.per_page}"
        return "?" + (self.base_query + "&" if self.base_query else "") + params


def paging(request: Request[Any, Any, Any], *, default_per_page: int = DEFAULT_PAGE_SIZE) -> ListOptions:
    """ListOptions from ?page=&per_page=&query= (bad values fall back rather than fail)."""
    def number(name: str, default: int) -> int:
        try:
            return int(request.query_params.get(name, default))
        except ValueError:
            return default

    page = max(0, number("page", 0))
    per_page = min(MAX_PAGE_SIZE, max(1, number("per_page", default_per_page)))
    return ListOptions(page=page, per_page=per_page, query=request.query_params.get("query", "").strip())


def page_info(request: Request[Any, Any, Any], options: ListOptions, count: int,
              total: int | None = None) -> PageInfo:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "per_page")]
    return PageInfo(page=options.page, per_page=options.per_page, total=total, count=count,
                    base_query=urlencode(kept))


# --- the team switcher ---

@attrs.frozen
class TeamChoice:
    id: int
    name: str


async def available_teams(viewer: Viewer, teams: TeamService) -> list[TeamChoice]:
    """The teams the viewer may switch between: every team for a global role, the user's own otherwise."""
    if viewer.user.global_role is None:
        return [TeamChoice(m.team_id, m.team_name or f"Team {m.team_id}") for m in viewer.user.teams]
    views = await teams.list(viewer, ListOptions(per_page=SWITCHER_TEAMS, order_key="name"))
    return [TeamChoice(v.team.id, v.team.name) for v in views]


def selected_team_id(request: Request[Any, Any, Any], choices: Sequence[TeamChoice]) -> int | None:
    """?team_id= when it names one of the viewer's teams, else None (all teams)."""
    try:
        team_id = int(request.query_params.get("team_id", ""))
    except ValueError:
        return None
    return team_id if any(c.id == team_id for c in choices) else None


# --- rendering ---

async def remember_org_name(request: Request[Any, Any, Any]) -> None:
    """The organisation's name for every page's brand (not secret: shown before sign-in too).
    One read of the configuration per page: console pages are not the agent hot path, and a
    rename shows on the next page in every process without a cache to invalidate."""
    request.state.org_name = (await request.app.state.services.config.current()).org_info.org_name


def render(request: Request[Any, Any, Any], template: str, context: Mapping[str, Any] | None = None, *,
           viewer: Viewer | None = None, status_code: int = 200, teams: Sequence[TeamChoice] = (),
           team_id: int | None = None, cookies: Sequence[Cookie] = ()) -> Template:
    """A console page. Every page gets: `viewer`, `nav`, `current_area`, `csrf_token` (the macros'
    csrf_field uses it), `flashes`, `teams`/`team_id` for the team switcher, `can(action)`, `org_name`."""
    out_cookies = list(cookies)
    # The same cookie the CSRF guard will derive from on the POST (a stale session cookie
    # included, so a sign-in form still works after the session expired).
    secret = browser_secret(request)
    if not secret:
        secret = new_presession_value()
        out_cookies.append(presession_cookie(request, secret))
    # A cookie this response sets (a fresh session) wins over the one the request carried.
    for cookie in cookies:
        if cookie.key in (SESSION_COOKIE, PRESESSION_COOKIE) and cookie.value:
            secret = cookie.value
    flashes = _read_flash(request)
    if flashes:
        out_cookies.append(Cookie(key=FLASH_COOKIE, value="", path="/", max_age=0, httponly=True,
                                  samesite="lax", secure=is_tls(request)))
    full: dict[str, Any] = {
        "viewer": viewer,
        "nav": nav_for(viewer) if viewer is not None else [],
        "current_area": current_area(request.url.path),
        "csrf_field_name": CSRF_FIELD,
        "csrf_token": csrf_token_for(secret),
        "flashes": flashes,
        "teams": list(teams),
        "team_id": team_id,
        "can": (lambda action: can(viewer, action)) if viewer is not None else (lambda action: False),
        "version": version.VERSION,
        "request_path": request.url.path,
        "org_name": getattr(request.state, "org_name", ""),
    }
    full.update(context or {})
    return Template(template_name=template, context=full, status_code=status_code, cookies=out_cookies,
                    headers=PAGE_HEADERS)
