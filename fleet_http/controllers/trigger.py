"""POST /trigger?name=<schedule>: run one of the server's background schedules now (fleetctl trigger)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromQuery

from fleet_core.authz import Viewer
from fleet_core.services.schedules import ScheduleService
from fleet_http.schemas.common import EmptyResponse


class TriggerController(Controller):
    path = "/trigger"
    tags = ["Schedules"]

    @post("/", status_code=200)
    async def trigger(self, viewer: NamedDependency[Viewer], schedules: NamedDependency[ScheduleService],
                      name: FromQuery[str] = "") -> EmptyResponse:
        await schedules.trigger(viewer, name)
        return EmptyResponse()
