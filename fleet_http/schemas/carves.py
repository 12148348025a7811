"""Response bodies of the file-carving API (Fleet's CarveMetadata)."""

from __future__ import annotations

import msgspec

from fleet_core.model.carves import Carve
from fleet_http.schemas.common import ts


class CarveBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    created_at: str
    host_id: int
    name: str
    block_count: int
    block_size: int
    carve_size: int
    carve_id: str
    request_id: str
    session_id: str
    expired: bool
    max_block: int
    # Present only when the session recorded an error, as in Fleet.
    error: str | None = None


def to_carve(carve: Carve) -> CarveBody:
    return CarveBody(
        id=carve.id, created_at=ts(carve.created_at), host_id=carve.host_id, name=carve.name,
        block_count=carve.block_count, block_size=carve.block_size, carve_size=carve.carve_size,
        carve_id=carve.carve_id, request_id=carve.request_id, session_id=carve.session_id, expired=carve.expired,
        max_block=carve.max_block, error=carve.error,
    )


class ListCarvesResponse(msgspec.Struct):
    carves: list[CarveBody]


class CarveResponse(msgspec.Struct):
    carve: CarveBody


class CarveBlockResponse(msgspec.Struct):
    data: str
