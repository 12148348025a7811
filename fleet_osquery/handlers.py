"""The osquery TLS API's routes: enroll, config, distributed read/write, log and the carver.

Each handler decodes the agent's body, calls the one service it names and renders the answer;
errors become osquery's `{"error"}` bodies in fleet_osquery.errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, post
from litestar.datastructures import State

from fleet_core.errors import Unavailable
from fleet_core.rules import agent_input
from fleet_core.services.carves import CarveBegin, CarveBlockRejected, CarveSessionUnknown
from fleet_osquery.codec import BATCH_BODY, EMPTY, LARGE_BODY, SMALL_BODY, AgentAnswer, decode, header
from fleet_osquery.deps import services_of
from fleet_osquery.errors import LogWriteFailed, error_body
from fleet_osquery.schemas.agents import (
    DistributedReadResponse,
    DistributedWriteRequest,
    EnrollRequest,
    EnrollResponse,
    LogRequest,
    NodeKeyRequest,
)
from fleet_osquery.schemas.carves import (
    CarveBeginRequest,
    CarveBeginResponse,
    CarveBlockRequest,
    CarveBlockResponse,
)
from fleet_osquery.schemas.device import DeviceTokenRequest, DeviceTokenResponse


def public_ip(request: Request[Any, Any, Any]) -> str:
    """The address Fleet reports as public_ip: proxy headers first, then the peer address."""
    for name in (b"true-client-ip", b"x-real-ip"):
        value = header(request, name).strip()
        if value:
            return value.decode("latin-1")
    forwarded = header(request, b"x-forwarded-for")
    if forwarded.strip():
        return forwarded.split(b",")[0].strip().decode("latin-1")
    return peer_address(request)


def peer_address(request: Request[Any, Any, Any]) -> str:
    """The address the connection came from; unlike proxy headers, a client cannot choose it."""
    return request.client.host if request.client else ""


@post("/enroll", status_code=200, request_max_body_size=SMALL_BODY)
async def enroll(request: Request[Any, Any, State]) -> AgentAnswer:
    agents = services_of(request).agents
    body = await decode(request, EnrollRequest, SMALL_BODY)
    node_key = await agents.enroll(
        enroll_secret=body.enroll_secret, host_identifier=body.host_identifier,
        host_details=body.host_details, public_ip=public_ip(request), client_address=peer_address(request))
    return AgentAnswer(EnrollResponse(node_key=node_key))


@post("/config", status_code=200, request_max_body_size=SMALL_BODY)
async def config(request: Request[Any, Any, State]) -> AgentAnswer:
    agents = services_of(request).agents
    body = await decode(request, NodeKeyRequest, SMALL_BODY)
    host = await agents.authenticate(body.node_key)
    return AgentAnswer(await agents.config(host))


@post("/distributed/read", status_code=200, request_max_body_size=SMALL_BODY)
async def distributed_read(request: Request[Any, Any, State]) -> AgentAnswer:
    agents = services_of(request).agents
    body = await decode(request, NodeKeyRequest, SMALL_BODY)
    host = await agents.authenticate(body.node_key)
    work = await agents.distributed_read(host)
    return AgentAnswer(
        DistributedReadResponse(queries=work.queries, discovery=work.discovery, accelerate=work.accelerate))


@post("/distributed/write", status_code=200, request_max_body_size=BATCH_BODY)
async def distributed_write(request: Request[Any, Any, State]) -> AgentAnswer:
    agents = services_of(request).agents
    body = await decode(request, DistributedWriteRequest, BATCH_BODY)
    host = await agents.authenticate(body.node_key)
    results = agent_input.query_results(body.queries, body.statuses, body.messages, body.stats)
    await agents.distributed_write(host, results, public_ip=public_ip(request))
    return AgentAnswer(EMPTY)


@post("/log", status_code=200, request_max_body_size=BATCH_BODY)
async def submit_log(request: Request[Any, Any, State]) -> AgentAnswer:
    agents = services_of(request).agents
    body = await decode(request, LogRequest, BATCH_BODY)
    host = await agents.authenticate(body.node_key)
    try:
        await agents.submit_logs(host, body.log_type, [bytes(record) for record in body.data or []])
    except Unavailable as exc:
        raise LogWriteFailed(str(exc)) from None
    return AgentAnswer(EMPTY)


@post("/carve/begin", status_code=200, request_max_body_size=SMALL_BODY)
async def carve_begin(request: Request[Any, Any, State]) -> AgentAnswer:
    services = services_of(request)
    agents, carves = services.agents, services.carves
    body = await decode(request, CarveBeginRequest, SMALL_BODY)
    host = await agents.authenticate(body.node_key)
    agent_input.stored_fields(carve_id=body.carve_id, request_id=body.request_id)
    # A refusal is an osquery error (CarveRejected: 400 with an error via on_fleet_error).
    carve = await carves.begin(host, CarveBegin(
        block_count=body.block_count, block_size=body.block_size, carve_size=body.carve_size,
        carve_id=body.carve_id, request_id=body.request_id))
    return AgentAnswer(CarveBeginResponse(session_id=carve.session_id))


# Blocks handled at once by one process. The others wait before their bodies are read, so the
# server holds a bounded number of blocks (each is megabytes, up to the maximum block size) and the
# unread bodies stay in the sockets (the HTTP server stops reading them), while check-ins go on.
CARVE_BLOCKS_AT_ONCE = 4


def _carve_block_slots(request: Request[Any, Any, State]) -> asyncio.Semaphore:
    """The app's semaphore, made on first use inside its event loop."""
    slots = request.app.state.get("carve_block_slots")
    if slots is None:
        slots = request.app.state["carve_block_slots"] = asyncio.Semaphore(CARVE_BLOCKS_AT_ONCE)
    assert isinstance(slots, asyncio.Semaphore)
    return slots


@post("/carve/block", status_code=200, request_max_body_size=LARGE_BODY)
async def carve_block(request: Request[Any, Any, State]) -> AgentAnswer:
    # No node key: the carver authenticates blocks by session_id and request_id alone.
    carves = services_of(request).carves
    async with _carve_block_slots(request):
        body = await decode(request, CarveBlockRequest, LARGE_BODY)
        agent_input.stored_fields(session_id=body.session_id, request_id=body.request_id)
        try:
            await carves.block(
                session_id=body.session_id, request_id=body.request_id, block_id=body.block_id, data=body.data)
        except CarveBlockRejected as exc:
            return AgentAnswer(error_body(str(exc)), 404 if isinstance(exc, CarveSessionUnknown) else 400)
    return AgentAnswer(CarveBlockResponse())


@post("/device_token", status_code=200, request_max_body_size=SMALL_BODY)
async def device_token(request: Request[Any, Any, State]) -> AgentAnswer:
    """Not an osquery route: fleetd (or any agent holding the node key) asks for the host's
    Fleet Desktop token here, presenting the one it has to refresh it."""
    services = services_of(request)
    agents, device = services.agents, services.device
    body = await decode(request, DeviceTokenRequest, SMALL_BODY)
    host = await agents.authenticate(body.node_key)
    issued = await device.host_token(host, body.device_auth_token)
    return AgentAnswer(DeviceTokenResponse(device_auth_token=issued.token, expires_at=issued.expires_at))


ROUTES = [enroll, config, distributed_read, distributed_write, submit_log, carve_begin, carve_block, device_token]
