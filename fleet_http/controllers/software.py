"""The software inventory: GET /software (list with host counts) and GET /software/count."""

from __future__ import annotations

from typing import Annotated

import attrs
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.software import SoftwareFilter
from fleet_core.rules.ordering import SOFTWARE_ORDER_KEYS
from fleet_core.rules.paging import Direction
from fleet_core.services.software import SoftwareService
from fleet_http.controllers.listing import options_from_query
from fleet_http.deps import INT64_MAX
from fleet_http.schemas.common import ts
from fleet_http.schemas.software import CountSoftwareResponse, ListSoftwareResponse, to_software_item

# Fleet lists the most installed software first unless asked otherwise.
DEFAULT_ORDER_KEY = "hosts_count"


def provide_software_filter(
    search: Annotated[str | None, QueryParameter(name="query")] = None,
    team_id: FromQuery[int | None] = None,
    vulnerable: FromQuery[bool] = False,
) -> SoftwareFilter:
    """The filters list and count share (team_id 0: software on hosts in no team)."""
    if team_id is not None and not 0 <= team_id <= INT64_MAX:
        raise InvalidArgument(("team_id", "must be a team id, or 0 for hosts in no team"))
    return SoftwareFilter(team_id=team_id, query=(search or "").strip(), vulnerable=vulnerable)


class SoftwareController(Controller):
    path = "/software"
    tags = ["Software"]
    dependencies = {"filters": Provide(provide_software_filter, sync_to_thread=False)}

    @get("/")
    async def list_software(
        self, viewer: NamedDependency[Viewer], software: NamedDependency[SoftwareService],
        filters: NamedDependency[SoftwareFilter],
        page: FromQuery[int | None] = None, per_page: FromQuery[int | None] = None,
        order_key: FromQuery[str | None] = None, order_direction: FromQuery[str | None] = None,
    ) -> ListSoftwareResponse:
        options = options_from_query(page=page, per_page=per_page, order_key=order_key,
                                     order_direction=order_direction, query=filters.query,
                                     allowed_keys=SOFTWARE_ORDER_KEYS)
        if options.order_key is None:
            options = attrs.evolve(options, order_key=DEFAULT_ORDER_KEY, order_direction=Direction.DESC)
        result = await software.list(viewer, filters, options)
        counted = result.counts_updated_at
        return ListSoftwareResponse(counts_updated_at=None if counted is None else ts(counted),
                                    software=[to_software_item(s) for s in result.software])

    @get("/count")
    async def count_software(self, viewer: NamedDependency[Viewer], software: NamedDependency[SoftwareService],
                             filters: NamedDependency[SoftwareFilter]) -> CountSoftwareResponse:
        return CountSoftwareResponse(count=await software.count(viewer, filters))
