"""Agent endpoints under hostile bodies, in process: gzip bombs, invalid UTF-8, deep nesting,
NUL characters and oversized fields are refused with osquery's `{"error"}` and a 4xx, the
event loop keeps serving other agents meanwhile, and failed enrollments are rate limited."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit
from fleet_core.errors import RateLimited
from fleet_core.services.agents import ENROLL_FAILURES_PER_ADDRESS, ENROLL_WINDOW_SECONDS
from fleet_core.services.jobs import running_jobs
from fleet_osquery import codec
from fleet_osquery.app import create_app
from tests.osquery.conftest import SECRET
from tests.osquery.test_osquery_api import MACOS_DETAILS, enroll

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Any]
Served = httpx.AsyncClient
# Generous: far above a served request (milliseconds), far below the seconds a blocked loop took.
RESPONSIVE = 1.0
QUICK = 5.0
GIB = 1024 * 1024 * 1024


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 1 MB of gzip inflating to 1 GiB of zeros: 16 concatenated 64 MiB members (one gzip
    body, as the format defines it), so the test does not spend seconds compressing."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1024 * 1024)
    member = b"".join([*(compressor.compress(chunk) for _ in range(64)), compressor.flush()])
    return member * (GIB // (64 * 1024 * 1024))


@pytest.fixture
async def served(kit: InMemoryKit) -> AsyncIterator[Served]:
    """The osquery app behind a real uvicorn server in this test's event loop, and a client for
    it. Unlike the test client (which runs each request to completion in a portal thread), this
    lets requests overlap, so a request that blocked the loop would delay the others."""
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()

    @asynccontextmanager
    async def services() -> AsyncIterator[Any]:
        async with running_jobs(kit.services):
            yield kit.services

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        with anyio.fail_after(30):
            while not server.started:
                assert not serving.done(), serving
                await anyio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        await serving


def error_of(response: Any) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


async def while_serving(client: Served, node_key: str, attack: Any) -> tuple[Any, float, list[float]]:
    """Run ``attack`` while another agent keeps fetching its config; returns the attack's
    response, its duration and the latency of every config request made meanwhile."""
    latencies: list[float] = []
    done = anyio.Event()
    outcome: dict[str, Any] = {}

    async def poll_config() -> None:
        while True:
            started = time.perf_counter()
            response = await client.post("/api/osquery/config", json={"node_key": node_key})
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            if done.is_set():
                return

    async def run_attack() -> None:
        started = time.perf_counter()
        try:
            outcome["response"] = await attack()
            outcome["took"] = time.perf_counter() - started
        finally:
            done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(poll_config)
        group.start_soon(run_attack)
    return outcome["response"], outcome["took"], latencies


@pytest.mark.parametrize("path", ["/api/osquery/log", "/api/osquery/distributed/write"])
async def test_a_gzip_bomb_is_refused_quickly_while_other_agents_are_served(
        served: Served, gzip_bomb: bytes, path: str) -> None:
    client = served
    node_key = await enroll(client)

    async def bomb() -> Any:
        return await client.post(path, content=gzip_bomb,
                                 headers={"content-encoding": "gzip", "content-type": "application/json"})

    response, took, latencies = await while_serving(client, node_key, bomb)
    assert "too large" in error_of(response)
    assert took < QUICK
    assert latencies and max(latencies) < RESPONSIVE


def test_inflating_never_holds_more_than_the_cap(gzip_bomb: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(codec.BadAgentRequest):
            codec.gunzip(gzip_bomb, codec.MAX_INFLATED)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The cap, plus what zlib's step buffers and the copies of the compressed input take; a
    # decoder without a cap would peak at the whole GiB.
    assert peak <= codec.MAX_INFLATED + 4 * codec.INFLATE_STEP + 2 * len(gzip_bomb)


def test_a_body_within_the_cap_inflates_whole_across_steps_and_members() -> None:
    body = b'{"log_type":"status","data":[' + b",".join([b'{"line":"' + b"x" * 1000 + b'"}'] * 5000) + b"]}"
    packed = gzip.compress(body[:1000]) + gzip.compress(body[1000:])
    assert codec.gunzip(packed, len(body)) == body
    with pytest.raises(codec.BadAgentRequest):
        codec.gunzip(packed, len(body) - 1)
    with pytest.raises(codec.BadAgentRequest):
        codec.gunzip(packed[:-20], len(body))


DEEP = b'{"node_key":"k","queries":{"q":' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
DEEP_LOG = b'{"node_key":"k","log_type":"result","data":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
INVALID_UTF8 = b'{"node_key":"\xff\xfe","log_type":"result","data":[]}'
INVALID_UTF8_ENROLL = b'{"enroll_secret":"s","host_identifier":"\xff\xfe"}'
# A JSON escape of a lone surrogate names no character; Postgres could not store it.
LONE_SURROGATE_ENROLL = b'{"enroll_secret":"s","host_identifier":"\\ud800"}'


@pytest.mark.parametrize(("path", "content"), [
    ("/api/osquery/enroll", INVALID_UTF8_ENROLL),
    ("/api/osquery/enroll", LONE_SURROGATE_ENROLL),
    ("/api/osquery/log", INVALID_UTF8),
    ("/api/osquery/distributed/write", INVALID_UTF8),
    ("/api/osquery/config", INVALID_UTF8),
    ("/api/osquery/enroll", DEEP),
    ("/api/osquery/distributed/write", DEEP),
    ("/api/osquery/log", DEEP_LOG),
])
async def test_undecodable_bodies_are_refused_with_an_osquery_error(served: Served, path: str,
                                                                    content: bytes) -> None:
    client = served
    node_key = await enroll(client)

    async def send() -> Any:
        return await client.post(path, content=content, headers={"content-type": "application/json"})

    response, took, latencies = await while_serving(client, node_key, send)
    assert "json decoder error" in error_of(response)
    assert response.status_code == 400
    assert took < QUICK and max(latencies) < RESPONSIVE


@pytest.mark.parametrize(("identifier", "details"), [
    ("host\x00one", MACOS_DETAILS),
    ("host-1", {**MACOS_DETAILS, "system_info": {**MACOS_DETAILS["system_info"], "hostname": "mbp\x00"}}),
    ("host-1", {**MACOS_DETAILS, "system_info": {**MACOS_DETAILS["system_info"], "hostname": ["nested"]}}),
    ("h" * 500_000, MACOS_DETAILS),
])
async def test_enrollment_that_no_column_could_store_is_refused(client: Client, kit: InMemoryKit,
                                                                identifier: str, details: Any) -> None:
    response = await client.post("/api/osquery/enroll", json={
        "enroll_secret": SECRET, "host_identifier": identifier, "host_details": details})
    assert response.status_code == 400
    assert "node_invalid" not in response.json()
    error_of(response)
    async with kit.store.unit_of_work() as uow:
        assert await uow.hosts.get_by_osquery_host_id(identifier) is None


async def test_oversized_host_details_are_cut_to_their_columns(client: Client, kit: InMemoryKit) -> None:
    details = {**MACOS_DETAILS, "system_info": {**MACOS_DETAILS["system_info"], "hostname": "h" * 500_000}}
    await enroll(client, details=details)
    async with kit.store.unit_of_work() as uow:
        host = await uow.hosts.get_by_osquery_host_id("host-1")
    assert host.hostname == "h" * 255


async def test_a_detail_row_with_a_nul_is_refused_and_an_oversized_one_is_cut(client: Client,
                                                                              kit: InMemoryKit) -> None:
    node_key = await enroll(client)
    row = {**MACOS_DETAILS["system_info"], "hostname": "evil\x00host"}
    refused = await client.post("/api/osquery/distributed/write", json={
        "node_key": node_key, "queries": {"fleet_detail_query_system_info": [row]},
        "statuses": {"fleet_detail_query_system_info": 0}})
    assert refused.status_code == 400
    assert "NUL" in error_of(refused)

    row = {**MACOS_DETAILS["system_info"], "hostname": "h" * 5_000_000}
    accepted = await client.post("/api/osquery/distributed/write", json={
        "node_key": node_key, "queries": {"fleet_detail_query_system_info": [row]},
        "statuses": {"fleet_detail_query_system_info": 0}})
    assert accepted.status_code == 200, accepted.text
    async with kit.store.unit_of_work() as uow:
        host = await uow.hosts.get_by_osquery_host_id("host-1")
    assert host.hostname == "h" * 255


async def test_failed_enrollments_from_one_address_are_limited_and_successes_are_not(client: Client) -> None:
    # Successes never count: many good enrollments from the same address all pass.
    for n in range(ENROLL_FAILURES_PER_ADDRESS + 5):
        await enroll(client, f"good-{n}")
    for _ in range(ENROLL_FAILURES_PER_ADDRESS):
        wrong = await client.post("/api/osquery/enroll", json={"enroll_secret": "guess", "host_identifier": "x"})
        assert wrong.status_code == 401 and wrong.json()["node_invalid"] is True
    # Now even the right secret is refused, so the limiter tells a guesser nothing; forged proxy
    # headers do not give a fresh allowance.
    for headers in ({}, {"x-forwarded-for": "203.0.113.9"}):
        limited = await client.post("/api/osquery/enroll", headers=headers, json={
            "enroll_secret": SECRET, "host_identifier": "late", "host_details": MACOS_DETAILS})
        assert limited.status_code == 429
        assert "too many failed enrollments" in error_of(limited)
        assert 0 < int(limited.headers["retry-after"]) <= ENROLL_WINDOW_SECONDS


async def test_the_enrollment_limit_is_per_address_and_ends_with_its_window(kit: InMemoryKit) -> None:
    agents = kit.services.agents
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()
    for _ in range(ENROLL_FAILURES_PER_ADDRESS):
        with pytest.raises(Exception, match="invalid enroll secret"):
            await agents.enroll(enroll_secret="guess", host_identifier="x", host_details={},
                                client_address="198.51.100.1")
    with pytest.raises(RateLimited):
        await agents.enroll(enroll_secret=SECRET, host_identifier="a", host_details={},
                            client_address="198.51.100.1")
    assert await agents.enroll(enroll_secret=SECRET, host_identifier="b", host_details={},
                               client_address="198.51.100.2")
    kit.clock.advance(dt.timedelta(seconds=ENROLL_WINDOW_SECONDS + 1))
    assert await agents.enroll(enroll_secret=SECRET, host_identifier="a", host_details={},
                               client_address="198.51.100.1")
