"""The management API application: Fleet's REST API under /api/v1/fleet and /api/latest/fleet."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from fleet_core import version
from fleet_core.services import Services
from fleet_http.console import console_routers, template_config
from fleet_http.controllers.auth import AuthController, SetupController
from fleet_http.controllers.carves import CarveController
from fleet_http.controllers.config import ConfigController, healthz
from fleet_http.controllers.debug import DebugController
from fleet_http.controllers.device import DeviceController, DeviceTokenController
from fleet_http.controllers.hosts import HostAggregatesController, HostController
from fleet_http.controllers.installers import InstallerController
from fleet_http.controllers.invites import InviteController
from fleet_http.controllers.labels import LabelController
from fleet_http.controllers.live_queries import HostQueryController, LiveQueryController, LiveQueryStatusController
from fleet_http.controllers.packs import (
    GlobalScheduleController,
    LatestGlobalScheduleController,
    PackController,
    PackScheduleController,
    ScheduleController,
    ScheduledQueryController,
    TeamScheduleController,
)
from fleet_http.controllers.policies import (
    GlobalPolicyController,
    LatestGlobalPolicyController,
    PolicyCountController,
    TeamPolicyController,
)
from fleet_http.controllers.queries import QueryController
from fleet_http.controllers.software import SoftwareController
from fleet_http.controllers.specs import SpecController
from fleet_http.controllers.sso import SSOController
from fleet_http.controllers.targets import HostSearchController, TargetController, TranslateController
from fleet_http.controllers.teams import TeamController
from fleet_http.controllers.trigger import TriggerController
from fleet_http.controllers.users import SessionController, UserController
from fleet_http.deps import provide_viewer, service_providers, storable_input
from fleet_http.errors import EXCEPTION_HANDLERS
from fleet_http.logging import request_logging
from fleet_http.openapi import OtherDocuments, render_plugins
from fleet_http.results_stream import ResultsController, sockjs_results
from fleet_http.sockjs import sockjs_router

FLEET_CONTROLLERS = [AuthController, UserController, SessionController, InviteController, ConfigController,
                     HostController, HostAggregatesController, TeamController, LabelController,
                     QueryController, TargetController, HostSearchController, TranslateController,
                     SpecController, PackController, ScheduledQueryController, TeamScheduleController,
                     TeamPolicyController, PolicyCountController, DeviceController, DeviceTokenController,
                     LiveQueryController, HostQueryController, LiveQueryStatusController, ResultsController,
                     SoftwareController, TriggerController, CarveController, InstallerController,
                     SSOController]
# The paths Fleet's 2022-04 API version moved (server/service/handler.go: EndingAtVersion("v1") /
# StartingAtVersion("2022-04")): the same handlers on each version's path; docs/api-versions.md.
V1_ONLY_CONTROLLERS = [GlobalPolicyController, ScheduleController, GlobalScheduleController]
LATEST_ONLY_CONTROLLERS = [LatestGlobalPolicyController, PackScheduleController, LatestGlobalScheduleController]
API_PREFIXES = {"/api/v1": V1_ONLY_CONTROLLERS, "/api/latest": LATEST_ONLY_CONTROLLERS}


def _routers() -> list[Router]:
    routers = []
    for prefix, version_controllers in API_PREFIXES.items():
        routers.append(Router(path=f"{prefix}/fleet", route_handlers=[*FLEET_CONTROLLERS, *version_controllers]))
        routers.append(sockjs_router(f"{prefix}/fleet/results", sockjs_results))
        routers.append(Router(path=prefix, route_handlers=[SetupController]))
    # Fleet's setup is also version-less (POST /api/setup), which its setup page posts to.
    routers.append(Router(path="/api", route_handlers=[SetupController]))
    # Fleet serves its debug endpoints outside the API prefixes, on the management side only.
    routers.append(Router(path="/", route_handlers=[DebugController]))
    # The web console for people (fleet_http/console): pages at /, /login, /hosts, ...
    routers.extend(console_routers())
    return routers


def create_app(open_services: Callable[[], AbstractAsyncContextManager[Services]], *,
               also_documented: OtherDocuments | None = None) -> Litestar:
    """The management app; `also_documented` gives the path items of the other APIs served on the
    same port (osquery's), which the OpenAPI document at /api/openapi lists too."""
    # Background jobs are the process's (fleet_core.services.jobs), not this app's.
    @asynccontextmanager
    async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services() as services:
            app.state.services = services
            yield

    return Litestar(
        route_handlers=[*_routers(), healthz],
        dependencies={
            **service_providers(),
            "viewer": Provide(provide_viewer),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        guards=[storable_input],
        lifespan=[services_lifespan],
        template_config=template_config(),
        middleware=[request_logging],
        openapi_config=OpenAPIConfig(
            title="Fleet REST API",
            version=version.VERSION,
            path="/api/openapi",
            render_plugins=render_plugins(also_documented),
        ),
        # A JSON body of more than a few megabytes is never a legitimate management request.
        request_max_body_size=8 * 1024 * 1024,
        # Logging is configured once by the fleet command; Litestar must not replace it.
        logging_config=None,
    )
