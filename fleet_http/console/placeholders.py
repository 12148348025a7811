"""Navigation paths whose area module is not written yet answer with a "not built yet" page.

Litestar routes a literal path (an area module's GET /hosts) before this parameter route, so
an area module replaces its placeholder just by existing; nothing here needs editing.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Viewer
from fleet_core.errors import NotFound
from fleet_http.console.pages import NAV_AREAS, render
from fleet_http.console.session import LoginRequired


class PlaceholderController(Controller):
    path = "/"

    @get("/{area:str}")
    async def placeholder(self, request: Request[Any, Any, Any], area: FromPath[str],
                          optional_viewer: NamedDependency[Viewer | None]) -> Response[Any]:
        match = next((a for a in NAV_AREAS if a.path == "/" + area), None)
        if match is None:
            # Any other one-segment path is simply not a page (no login redirect first).
            raise NotFound(f"no page at /{area}")
        if optional_viewer is None:
            raise LoginRequired(request.url.path)
        return render(request, "placeholder.html", {"area": match}, viewer=optional_viewer)
