"""Fleet's debug endpoints, for global admins with a session token (never on the osquery API):
GET /debug/errors, GET /debug/db/{key}, GET /debug/pprof/{key}."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.services.debug import DebugService
from fleet_http.schemas.debug import ErrorEntry, to_error_entries


class DebugController(Controller):
    path = "/debug"
    tags = ["Debug"]

    @get("/errors")
    async def errors(self, viewer: NamedDependency[Viewer], debug: NamedDependency[DebugService],
                     flush: FromQuery[bool] = False) -> list[ErrorEntry]:
        return to_error_entries(await debug.errors(viewer, flush=flush))

    @get("/migrations")
    async def migrations(self, viewer: NamedDependency[Viewer],
                         debug: NamedDependency[DebugService]) -> list[dict[str, Any]]:
        """Fleet's /debug/migrations (what `fleetctl debug archive` fetches): /debug/db/migrations."""
        return await debug.database_report(viewer, "migrations")

    @get("/dbstats")
    async def dbstats(self, viewer: NamedDependency[Viewer],
                      debug: NamedDependency[DebugService]) -> list[dict[str, Any]]:
        """Fleet's /debug/dbstats: /debug/db/dbstats."""
        return await debug.database_report(viewer, "dbstats")

    @get("/db/{key:str}")
    async def database(self, key: FromPath[str], viewer: NamedDependency[Viewer],
                       debug: NamedDependency[DebugService]) -> list[dict[str, Any]]:
        return await debug.database_report(viewer, key)

    @get("/pprof/{key:str}")
    async def pprof(self, key: FromPath[str], viewer: NamedDependency[Viewer], debug: NamedDependency[DebugService],
                    seconds: FromQuery[float | None] = None,
                    output: Annotated[str, QueryParameter(name="format")] = "text") -> Response[str]:
        document = await debug.pprof(viewer, key, seconds=seconds, output=output)
        return Response(document.body, media_type=document.content_type)
