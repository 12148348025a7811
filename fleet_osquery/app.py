"""The osquery TLS API: enroll, config, distributed read/write and log, as osqueryd speaks them.

Every route is served under `/api/osquery/` and `/api/v1/osquery/`. osqueryd ignores HTTP
statuses and reads the body: `node_invalid: true` makes it re-enroll and any `error` key makes
the request count as failed, so success bodies never carry `error`.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import msgspec
import structlog
from litestar import Litestar, Request, Response, Router, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from fleet_core.errors import FleetError, InvalidArgument, NodeInvalid, Unavailable
from fleet_core.services import Services
from fleet_core.services.agents import parse_query_results
from fleet_core.services.carves import CarveBegin, CarveBlockRejected, CarveSessionUnknown
from fleet_core.services.jobs import periodic
from fleet_osquery.carve_schemas import (
    CarveBeginRequest,
    CarveBeginResponse,
    CarveBlockRequest,
    CarveBlockResponse,
)
from fleet_osquery.schemas import (
    DistributedReadResponse,
    DistributedWriteRequest,
    EnrollRequest,
    EnrollResponse,
    LogRequest,
    NodeKeyRequest,
)

log = structlog.get_logger("fleet.osquery")

T = TypeVar("T")

# osquery sends at most logger_tls_max_lines (1024) lines of up to 1 MiB each per log request,
# and distributed results of a similar order; small calls stay small.
SMALL_BODY = 1024 * 1024
LARGE_BODY = 1024 * 1024 * 1024 + 64 * 1024
ENCODER = msgspec.json.Encoder()
EMPTY = b"{}"


class BadAgentRequest(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class LogWriteFailed(Exception):
    """The log destination refused a batch; 413 makes osquery keep it and retry."""


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return Response(ENCODER.encode(body) if not isinstance(body, bytes) else body, status_code=status,
                    media_type="application/json")


async def _decode(request: Request[Any, Any, Any], type_: type[T], limit: int) -> T:
    raw = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        raw = _gunzip(raw, limit)
    if len(raw) > limit:
        raise BadAgentRequest("request body too large")
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        raise BadAgentRequest(f"json decoder error: {exc}") from None
    except msgspec.DecodeError:
        raise BadAgentRequest("json decoder error") from None


def _gunzip(raw: bytes, limit: int) -> bytes:
    # Bounded, so a small gzip bomb cannot expand into gigabytes of memory.
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(raw, limit + 1)
    except (zlib.error, gzip.BadGzipFile):
        raise BadAgentRequest("gzip decoder error") from None
    if len(out) > limit or decompressor.unconsumed_tail:
        raise BadAgentRequest("request body too large")
    return out


def public_ip(request: Request[Any, Any, Any]) -> str:
    """The address Fleet reports as public_ip: proxy headers first, then the peer address."""
    headers = request.headers
    for name in ("true-client-ip", "x-real-ip"):
        value = headers.get(name, "").strip()
        if value:
            return value
    forwarded = headers.get("x-forwarded-for", "")
    if forwarded.strip():
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else ""


def _services(state: State) -> Services:
    services: Services = state.services
    return services


@post("/enroll", status_code=200, request_max_body_size=SMALL_BODY)
async def enroll(request: Request[Any, Any, State]) -> Response[bytes]:
    body = await _decode(request, EnrollRequest, SMALL_BODY)
    host_details = {
        str(table): {str(k): "" if v is None else str(v) for k, v in row.items()}
        for table, row in body.host_details.items() if isinstance(row, dict)
    }
    node_key = await _services(request.app.state).agents.enroll(
        enroll_secret=body.enroll_secret, host_identifier=body.host_identifier,
        host_details=host_details, public_ip=public_ip(request))
    return _json(EnrollResponse(node_key=node_key))


@post("/config", status_code=200, request_max_body_size=SMALL_BODY)
async def config(request: Request[Any, Any, State]) -> Response[bytes]:
    body = await _decode(request, NodeKeyRequest, SMALL_BODY)
    agents = _services(request.app.state).agents
    host = await agents.authenticate(body.node_key)
    return _json(await agents.config(host))


@post("/distributed/read", status_code=200, request_max_body_size=SMALL_BODY)
async def distributed_read(request: Request[Any, Any, State]) -> Response[bytes]:
    body = await _decode(request, NodeKeyRequest, SMALL_BODY)
    agents = _services(request.app.state).agents
    host = await agents.authenticate(body.node_key)
    work = await agents.distributed_read(host)
    return _json(DistributedReadResponse(queries=work.queries, discovery=work.discovery, accelerate=work.accelerate))


@post("/distributed/write", status_code=200, request_max_body_size=LARGE_BODY)
async def distributed_write(request: Request[Any, Any, State]) -> Response[bytes]:
    body = await _decode(request, DistributedWriteRequest, LARGE_BODY)
    agents = _services(request.app.state).agents
    host = await agents.authenticate(body.node_key)
    results = parse_query_results(body.queries, body.statuses, body.messages, body.stats)
    await agents.distributed_write(host, results, public_ip=public_ip(request))
    return _json(EMPTY)


@post("/log", status_code=200, request_max_body_size=LARGE_BODY)
async def submit_log(request: Request[Any, Any, State]) -> Response[bytes]:
    body = await _decode(request, LogRequest, LARGE_BODY)
    agents = _services(request.app.state).agents
    host = await agents.authenticate(body.node_key)
    try:
        await agents.submit_logs(host, body.log_type, [bytes(record) for record in body.data or []])
    except Unavailable as exc:
        raise LogWriteFailed(str(exc)) from None
    return _json(EMPTY)


@post("/carve/begin", status_code=200, request_max_body_size=SMALL_BODY)
async def carve_begin(request: Request[Any, Any, State]) -> Response[bytes]:
    body = await _decode(request, CarveBeginRequest, SMALL_BODY)
    services = _services(request.app.state)
    host = await services.agents.authenticate(body.node_key)
    # A refusal is an osquery error (CarveRejected, HTTP 500 via on_fleet_error), as in Fleet.
    carve = await services.carves.begin(host, CarveBegin(
        block_count=body.block_count, block_size=body.block_size, carve_size=body.carve_size,
        carve_id=body.carve_id, request_id=body.request_id))
    return _json(CarveBeginResponse(session_id=carve.session_id))


@post("/carve/block", status_code=200, request_max_body_size=LARGE_BODY)
async def carve_block(request: Request[Any, Any, State]) -> Response[bytes]:
    # No node key: the carver authenticates blocks by session_id and request_id alone.
    body = await _decode(request, CarveBlockRequest, LARGE_BODY)
    try:
        await _services(request.app.state).carves.block(
            session_id=body.session_id, request_id=body.request_id, block_id=body.block_id, data=body.data)
    except CarveBlockRejected as exc:
        return _json(_error_body(str(exc)), 404 if isinstance(exc, CarveSessionUnknown) else 400)
    return _json(CarveBlockResponse())


ROUTES = [enroll, config, distributed_read, distributed_write, submit_log, carve_begin, carve_block]


def _error_body(error: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, **extra}


def on_node_invalid(request: Request[Any, Any, Any], exc: NodeInvalid) -> Response[bytes]:
    return _json(_error_body(str(exc), node_invalid=True), 401)


def on_log_write_failed(request: Request[Any, Any, Any], exc: LogWriteFailed) -> Response[bytes]:
    log.warning("log_write_failed", error=str(exc))
    return _json(_error_body(f"error writing logs: {exc}"), 413)


def on_bad_request(request: Request[Any, Any, Any], exc: BadAgentRequest) -> Response[bytes]:
    # Fleet answers decoding errors in its generic shape; the "error" key is added so that
    # osqueryd, which only reads the body, counts the request as failed instead of succeeded.
    return _json(_error_body(exc.reason, message="Bad request", errors=[{"name": "base", "reason": exc.reason}]), 400)


def on_fleet_error(request: Request[Any, Any, Any], exc: FleetError) -> Response[bytes]:
    status = 400 if isinstance(exc, InvalidArgument) else 503 if isinstance(exc, Unavailable) else 500
    if status >= 500:
        log.warning("agent_request_failed", error=type(exc).__name__, path=request.scope.get("path_template"))
    return _json(_error_body(str(exc)), status)


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    return _json(_error_body(exc.detail), exc.status_code)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("agent_request_crashed", path=request.scope.get("path_template"))
    return _json(_error_body("internal error"), 500)


def create_app(open_services: Callable[[], AbstractAsyncContextManager[Services]]) -> Litestar:
    @asynccontextmanager
    async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services() as services:
            app.state.services = services
            interval = services.runtime.agents.seen_flush_interval.total_seconds()
            try:
                async with periodic(interval, services.agents.flush_seen, name="seen-flush"):
                    yield
            finally:
                # Whatever was seen since the last tick is written before the process goes.
                with contextlib.suppress(Exception):
                    await services.agents.flush_seen()

    return Litestar(
        route_handlers=[Router(path=prefix, route_handlers=ROUTES) for prefix in ("/api/osquery", "/api/v1/osquery")],
        lifespan=[services_lifespan],
        exception_handlers={
            NodeInvalid: on_node_invalid,
            LogWriteFailed: on_log_write_failed,
            BadAgentRequest: on_bad_request,
            FleetError: on_fleet_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
        openapi_config=None,
        logging_config=None,
    )
