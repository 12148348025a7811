"""File carving: list carves, get one, and get one of its blocks as base64."""

from __future__ import annotations

import base64

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from fleet_core.authz import Viewer
from fleet_core.rules.carves import CARVE_ORDER_KEYS
from fleet_core.services.carves import CarveService
from fleet_http.controllers.listing import options_from_query
from fleet_http.schemas.carves import CarveBlockResponse, CarveResponse, ListCarvesResponse, to_carve


class CarveController(Controller):
    path = "/carves"
    tags = ["File carving"]

    @get("/")
    async def list_carves(
        self, viewer: NamedDependency[Viewer], carves: NamedDependency[CarveService],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
        after: FromQuery[str | None] = None, expired: FromQuery[bool] = False,
    ) -> ListCarvesResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=None, allowed_keys=CARVE_ORDER_KEYS)
        found = await carves.list(viewer, options, expired=expired, after=after)
        return ListCarvesResponse(carves=[to_carve(c) for c in found])

    @get("/{carve_id:int}")
    async def get_carve(self, carve_id: FromPath[int], viewer: NamedDependency[Viewer],
                        carves: NamedDependency[CarveService]) -> CarveResponse:
        return CarveResponse(carve=to_carve(await carves.get(viewer, carve_id)))

    @get("/{carve_id:int}/block/{block_id:int}")
    async def get_carve_block(self, carve_id: FromPath[int], block_id: FromPath[int], viewer: NamedDependency[Viewer],
                              carves: NamedDependency[CarveService]) -> CarveBlockResponse:
        data = await carves.get_block(viewer, carve_id, block_id)
        return CarveBlockResponse(data=base64.b64encode(data).decode("ascii"))
