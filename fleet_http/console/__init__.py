"""The web console: server-rendered pages for people, a third thin transport over fleet_core.

Each area is one module here (fleet_http/console/<area>.py) with its controllers, appended to
CONSOLE_CONTROLLERS; templates live in templates/ (base.html is the layout, _macros.html the
shared pieces), static files in static/. Pages reach data through the same services the API
controllers use (the dependencies of fleet_http/deps.py), never through the REST API.

Everything on the console router gets: `viewer` from the session cookie (redirecting to /login
without one), the CSRF guard on every unsafe method, HTML error pages, and the security headers
(a Content-Security-Policy without inline scripts or styles). See docs/console.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Response, Router
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from fleet_core import version
from fleet_http.console.accounts import AccountController, LoginController, SetupPageController
from fleet_http.console.activity import ActivityController
from fleet_http.console.carves import CarvePagesController
from fleet_http.console.dashboard import DashboardController
from fleet_http.console.errors import CONSOLE_EXCEPTION_HANDLERS
from fleet_http.console.hosts import AddHostsController, HostListController
from fleet_http.console.labels import LabelPagesController
from fleet_http.console.live import LiveQueryController
from fleet_http.console.packs import PackPagesController
from fleet_http.console.pages import remember_org_name
from fleet_http.console.placeholders import PlaceholderController
from fleet_http.console.policies import PolicyPagesController
from fleet_http.console.queries import QueryPagesController
from fleet_http.console.session import (
    csrf_protected,
    provide_console_viewer,
    provide_optional_viewer,
)
from fleet_http.console.settings import SettingsController
from fleet_http.console.software import SoftwarePagesController
from fleet_http.console.teams import TeamsController
from fleet_http.console.users import UsersController

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"
STATIC_DIR: Final = Path(__file__).parent / "static"
STATIC_PATH: Final = "/static/console"

# Area modules append their controllers here (one module per area).
CONSOLE_CONTROLLERS: list[Any] = [
    LoginController, SetupPageController, AccountController, DashboardController,
    PolicyPagesController, SoftwarePagesController, LabelPagesController, PackPagesController, CarvePagesController,
    HostListController, AddHostsController, QueryPagesController, LiveQueryController,
    TeamsController, UsersController, SettingsController, ActivityController,
    # Last: it only answers navigation paths no area module serves yet.
    PlaceholderController,
]

# Scripts and styles only from our own static files: no inline <script>, no on* attributes,
# no style="" (CSP3 browsers refuse them). WebSockets to this origin for live query results.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: Final = [
    ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
]
# Static URLs carry ?v=<version>, so a new release is fetched at once; within one, a day of caching.
STATIC_CACHE: Final = CacheControlHeader(max_age=86400, public=True)
# Marks the console's routes (handler.opt): pages for people, not API operations, so the
# OpenAPI document leaves them out.
CONSOLE_OPT: Final = {"console": True}


# The rule of fleet_core.rules.passwords, said once for every form that sets a password.
PASSWORD_RULE_TEXT: Final = "At least 12 characters, with a number, mixing two of lowercase, uppercase and symbols."  # noqa: S105


def static_url(name: str) -> str:
    return f"{STATIC_PATH}/{name}?v={version.VERSION}"


async def _static_headers(response: Response[Any]) -> Response[Any]:
    # Served as the type their name says, never sniffed into something executable.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2 with autoescaping for every template (host data comes from agents: untrusted)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["static_url"] = static_url
    environment.globals["password_help"] = PASSWORD_RULE_TEXT
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def console_routers() -> list[Router]:
    """The console's pages and its static files, for the management app."""
    pages = Router(
        path="/",
        route_handlers=list(CONSOLE_CONTROLLERS),
        dependencies={
            "viewer": Provide(provide_console_viewer),
            "optional_viewer": Provide(provide_optional_viewer),
        },
        guards=[csrf_protected],
        before_request=remember_org_name,
        exception_handlers=CONSOLE_EXCEPTION_HANDLERS,
        response_headers=SECURITY_HEADERS,
        include_in_schema=False,
        opt=CONSOLE_OPT,
    )
    static = create_static_files_router(
        path=STATIC_PATH, directories=[STATIC_DIR], cache_control=STATIC_CACHE,
        name="console_static", include_in_schema=False, opt=CONSOLE_OPT, after_request=_static_headers,
    )
    return [pages, static]
