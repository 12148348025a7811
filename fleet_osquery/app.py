"""The osquery TLS API application: osqueryd's routes under /api/osquery and /api/v1/osquery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final

import msgspec
from litestar import Litestar, Router
from litestar.datastructures import State

from fleet_core.services import Services
from fleet_osquery.deps import SLOT_KEY, ServiceSlot
from fleet_osquery.errors import EXCEPTION_HANDLERS
from fleet_osquery.handlers import (
    ROUTES,
    carve_begin,
    carve_block,
    config,
    device_token,
    distributed_read,
    distributed_write,
    enroll,
    submit_log,
)
from fleet_osquery.schemas.agents import (
    DistributedReadResponse,
    DistributedWriteRequest,
    EnrollRequest,
    EnrollResponse,
    LogRequest,
    NodeKeyRequest,
)
from fleet_osquery.schemas.carves import CarveBeginRequest, CarveBeginResponse, CarveBlockRequest, CarveBlockResponse
from fleet_osquery.schemas.device import DeviceTokenRequest, DeviceTokenResponse

API_PREFIXES = ("/api/osquery", "/api/v1/osquery")


class AgentError(msgspec.Struct):
    """Every refusal of this API: osqueryd reads only the body, and any `error` key fails the
    request; `node_invalid` makes it enroll again. Decoding errors add Fleet's generic fields."""

    error: str
    node_invalid: bool | None = None
    message: str | None = None
    errors: list[dict[str, str]] | None = None


class AgentConfig(msgspec.Struct):
    """The osquery configuration: the agent options' `config`, plus the packs the host runs;
    any key osquery knows (options, schedule, decorators, file_paths...) may be there."""

    options: dict[str, Any] | None = None
    packs: dict[str, Any] | None = None


class Acknowledged(msgspec.Struct):
    """The empty object osqueryd takes as success."""


# Handlers decode their bodies themselves (bounded gzip, size limits: fleet_osquery.codec), so
# Litestar cannot see their shapes; this table tells the OpenAPI document what each one reads
# and answers. A route missing here fails openapi_paths(), and the document's test.
_BODIES: Final[dict[str, tuple[type[msgspec.Struct], type[msgspec.Struct]]]] = {
    enroll.handler_name: (EnrollRequest, EnrollResponse),
    config.handler_name: (NodeKeyRequest, AgentConfig),
    distributed_read.handler_name: (NodeKeyRequest, DistributedReadResponse),
    distributed_write.handler_name: (DistributedWriteRequest, Acknowledged),
    submit_log.handler_name: (LogRequest, Acknowledged),
    carve_begin.handler_name: (CarveBeginRequest, CarveBeginResponse),
    carve_block.handler_name: (CarveBlockRequest, CarveBlockResponse),
    device_token.handler_name: (DeviceTokenRequest, DeviceTokenResponse),
}
# Prefixed: the management API has schemas of the same names (CarveBlockResponse...) in the
# document both APIs share.
_SCHEMA_PREFIX: Final = "Osquery"
_REF: Final = "#/components/schemas/" + _SCHEMA_PREFIX + "{name}"


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """This API's routes as OpenAPI 3.1 path items, and the schemas they refer to.

    The management API serves them in its document (`fleet serve` answers both APIs on one port),
    so one document describes every route of the server.
    """
    bodies = [struct for pair in _BODIES.values() for struct in pair]
    refs, schemas = msgspec.json.schema_components([*bodies, AgentError], ref_template=_REF)
    ref = dict(zip([*bodies, AgentError], refs, strict=True))
    paths: dict[str, Any] = {}
    for handler in ROUTES:
        request_type, response_type = _BODIES[handler.handler_name]
        for prefix in API_PREFIXES:
            for route_path in handler.paths:
                paths[prefix + route_path] = {"post": {
                    "tags": ["osquery"],
                    "summary": handler.handler_name,
                    "operationId": f"osquery{prefix.replace('/', '_')}_{handler.handler_name}",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": ref[request_type]}}},
                    "responses": {
                        "200": {"description": "Accepted",
                                "content": {"application/json": {"schema": ref[response_type]}}},
                        "default": {"description": "Refused: osqueryd counts the request as failed",
                                    "content": {"application/json": {"schema": ref[AgentError]}}},
                    },
                }}
    return paths, {_SCHEMA_PREFIX + name: schema for name, schema in schemas.items()}


def create_app(open_services: Callable[[], AbstractAsyncContextManager[Services]]) -> Litestar:
    slot = ServiceSlot()

    @asynccontextmanager
    async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services() as services:
            slot.services = services
            try:
                yield
            finally:
                slot.services = None

    return Litestar(
        route_handlers=[Router(path=prefix, route_handlers=ROUTES) for prefix in API_PREFIXES],
        state=State({SLOT_KEY: slot}),
        lifespan=[services_lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=None,
        # Logging is configured once by the fleet command; Litestar must not replace it.
        logging_config=None,
    )
