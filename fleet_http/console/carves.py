"""Carves: the file carves the hosts sent (host, name, size, blocks received, expired), newest
first, and the download of a completed carve (its blocks, in order, as one tar file)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, Final

import attrs
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest
from fleet_core.model.carves import Carve
from fleet_core.model.hosts import HostFilter
from fleet_core.rules.paging import Direction, ListOptions
from fleet_core.services.carves import CarveService
from fleet_core.services.hosts import HostService
from fleet_http.console.pages import PAGE_HEADERS, page_info, paging, render
from fleet_http.console.scopes import checked

UNSAFE_FILENAME: Final = re.compile(r"[^A-Za-z0-9._-]+")


def is_complete(carve: Carve) -> bool:
    return not carve.expired and carve.block_count > 0 and carve.max_block >= carve.block_count - 1


def download_name(carve: Carve) -> str:
    stem = UNSAFE_FILENAME.sub("_", carve.name).strip("._") or f"carve-{carve.id}"
    return f"{stem}.tar"


class CarvePagesController(Controller):
    path = "/carves"

    @get("")
    async def carve_list(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer],
                         carves: NamedDependency[CarveService], hosts: NamedDependency[HostService]) -> Response[Any]:
        show_expired = checked(request.query_params.get("expired"))
        options = attrs.evolve(paging(request), order_key="created_at", order_direction=Direction.DESC)
        found = await carves.list(viewer, options, expired=show_expired)
        host_names: dict[int, str] = {}
        if found:
            page = await hosts.list_page(viewer, HostFilter(ids=frozenset(c.host_id for c in found)),
                                         ListOptions(per_page=len(found)), failing_policies=False)
            host_names = {row.host.id: row.host.display_name for row in page.hosts}
        return render(request, "carves/list.html", {
            "carves": [(carve, host_names.get(carve.host_id), is_complete(carve)) for carve in found],
            "show_expired": show_expired, "page": page_info(request, options, len(found)),
        }, viewer=viewer)

    @get("/{carve_id:int}/download")
    async def download(self, carve_id: FromPath[int], viewer: NamedDependency[Viewer],
                       carves: NamedDependency[CarveService]) -> Response[Any]:
        carve = await carves.get(viewer, carve_id)
        if not is_complete(carve):
            raise BadRequest("the carve is not complete (or has expired): nothing to download yet")
        # The first block is read before answering, so a failing store is an error page, not a cut file.
        first = await carves.get_block(viewer, carve_id, 0)

        async def blocks() -> AsyncIterator[bytes]:
            yield first
            for block_id in range(1, carve.block_count):
                yield await carves.get_block(viewer, carve_id, block_id)

        return Stream(blocks(), media_type="application/x-tar", headers={
            **PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{download_name(carve)}"'})
