"""carve/begin and carve/block as osquery's carver sends them, on both prefixes."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_adapters.memory.carve_store import InMemoryCarveStore
from fleet_core.errors import Unavailable
from fleet_core.model.carves import Carve
from fleet_core.model.runtime import AgentSettings, CarveSettings, ServerRuntime
from fleet_core.services import Services
from fleet_core.services.carves import CarveService
from fleet_osquery.app import create_app
from fleet_osquery.handlers import CARVE_BLOCKS_AT_ONCE
from tests.osquery.conftest import SECRET
from tests.osquery.test_osquery_api import PREFIXES, enroll

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Any]
REQUEST = "fleet_distributed_query_30"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def begin(client: Client, node_key: str, prefix: str = PREFIXES[0], **over: Any) -> Any:
    body = {"block_count": 2, "block_size": 4, "carve_size": 6, "carve_id": "guid-1", "request_id": REQUEST,
            "node_key": node_key, **over}
    return await client.post(f"{prefix}/carve/begin", json=body)


async def block(client: Client, session: str, block_id: int, data: str, prefix: str = PREFIXES[0],
                request_id: str = REQUEST) -> Any:
    return await client.post(f"{prefix}/carve/block", json={
        "block_id": block_id, "session_id": session, "request_id": request_id, "data": data})


async def stored(kit: InMemoryKit, session: str) -> Any:
    async with kit.store.unit_of_work() as uow:
        carve = await uow.carves.get_by_session(session)
    blocks = [await kit.carve_store.get_block(carve, i) for i in range(carve.block_count)] if carve else []
    return carve, blocks


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_a_carve_arrives_block_by_block(client: Client, kit: InMemoryKit, prefix: str) -> None:
    node_key = await enroll(client, prefix=prefix)
    response = await begin(client, node_key, prefix)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and "error" not in body
    session = body["session_id"]
    assert (await block(client, session, 0, b64(b"abcd"), prefix)).json() == {"success": True}
    assert (await block(client, session, 1, b64(b"ef"), prefix)).json() == {"success": True}
    carve, blocks = await stored(kit, session)
    assert blocks == [b"abcd", b"ef"]
    assert carve.max_block == 1 and carve.error is None
    stamp = kit.clock.now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert carve.name == f"mbp.local-{stamp}-{REQUEST}"


async def test_gzip_bodies_are_accepted(client: Client, kit: InMemoryKit) -> None:
    node_key = await enroll(client)
    raw = gzip.compress(json.dumps({"block_count": 1, "block_size": 8, "carve_size": 3, "carve_id": "g",
                                    "request_id": REQUEST, "node_key": node_key}).encode())
    response = await client.post("/api/osquery/carve/begin", content=raw, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.json()["session_id"]


@pytest.mark.parametrize("over", [
    {"carve_size": 0}, {"block_size": 256 * 1024 * 1024 + 1, "carve_size": 300 * 1024 * 1024, "block_count": 2},
    {"carve_size": 8 * 1024**3 + 1, "block_size": 256 * 1024 * 1024, "block_count": 33},
    {"block_count": 3}, {"carve_size": 9}, {"request_id": "x" * 65},
])
async def test_unsound_sizes_are_an_osquery_error(client: Client, over: dict[str, Any]) -> None:
    response = await begin(client, await enroll(client), **over)
    assert response.status_code == 400
    assert response.json()["error"]


async def test_begin_needs_a_valid_node_key(client: Client) -> None:
    response = await begin(client, "wrong")
    assert response.status_code == 401 and response.json()["node_invalid"] is True


async def test_refused_blocks_are_400_and_recorded(client: Client, kit: InMemoryKit) -> None:
    session = (await begin(client, await enroll(client))).json()["session_id"]
    response = await block(client, session, 1, b64(b"abcd"))
    assert response.status_code == 400 and "expected block" in response.json()["error"]
    carve, _ = await stored(kit, session)
    assert "expected block (0): 1" in carve.error and carve.max_block == -1
    response = await block(client, session, 0, b64(b"too long"))
    assert response.status_code == 400 and "block size" in response.json()["error"]
    response = await block(client, session, 5, b64(b"ab"))
    assert response.status_code == 400 and "exceeds expected max" in response.json()["error"]
    assert (await block(client, session, 0, "!!not base64!!")).status_code == 400
    # A good block still goes in after the refusals.
    assert (await block(client, session, 0, b64(b"abcd"))).status_code == 200


async def test_unknown_sessions_and_wrong_request_ids_are_refused_unrecorded(client: Client,
                                                                            kit: InMemoryKit) -> None:
    session = (await begin(client, await enroll(client))).json()["session_id"]
    assert (await block(client, "no-such-session", 0, b64(b"ab"))).status_code == 404
    response = await block(client, session, 0, b64(b"ab"), request_id="other")
    assert response.status_code == 404 and response.json()["error"]
    carve, _ = await stored(kit, session)
    assert carve.error is None and carve.max_block == -1


async def test_malformed_block_json_is_400(client: Client) -> None:
    response = await client.post("/api/osquery/carve/block", json={"block_id": "zero", "session_id": "s"})
    assert response.status_code == 400


async def test_a_retried_block_is_accepted_when_identical_and_refused_when_different(client: Client,
                                                                                     kit: InMemoryKit) -> None:
    session = (await begin(client, await enroll(client))).json()["session_id"]
    for _ in range(2):
        response = await block(client, session, 0, b64(b"abcd"))
        assert (response.status_code, response.json()) == (200, {"success": True})
    response = await block(client, session, 0, b64(b"ABCD"))
    assert response.status_code == 400 and "different data" in response.json()["error"]
    _, blocks = await stored(kit, session)
    assert blocks == [b"abcd", None]


async def test_the_size_limits_are_flags(agent_settings: AgentSettings) -> None:
    kit = in_memory_kit(runtime=ServerRuntime(carves=CarveSettings(max_block_size=1024, max_carve_size=4096)))
    async with agent_client(kit) as client:
        node_key = await enroll(client)
        too_big = await begin(client, node_key, block_count=2, block_size=2048, carve_size=4096)
        assert too_big.status_code == 400 and too_big.json()["error"] == "block_size exceeds max"
        too_much = await begin(client, node_key, block_count=5, block_size=1024, carve_size=4097)
        assert too_much.status_code == 400 and too_much.json()["error"] == "carve_size exceeds max"
        assert (await begin(client, node_key, block_count=4, block_size=1024, carve_size=4096)).status_code == 200


class FailingOnceStore:
    """The in-memory store failing its first write, as an unreachable database or bucket would."""

    def __init__(self, inner: InMemoryCarveStore) -> None:
        self.inner, self.failed = inner, False

    async def put_block(self, carve: Carve, block_id: int, data: bytes) -> None:
        if not self.failed:
            self.failed = True
            raise Unavailable("carve store unavailable")
        await self.inner.put_block(carve, block_id, data)

    async def get_block(self, carve: Carve, block_id: int) -> bytes | None:
        return await self.inner.get_block(carve, block_id)

    async def delete(self, carve: Carve) -> None:
        await self.inner.delete(carve)


async def test_a_store_failure_is_a_5xx_with_an_error_so_the_agent_retries() -> None:
    kit = in_memory_kit()
    carves = CarveService(uow=kit.store.unit_of_work, clock=kit.clock, store=FailingOnceStore(kit.carve_store))
    async with agent_client(kit, attrs.evolve(kit.services, carves=carves)) as client:
        session = (await begin(client, await enroll(client))).json()["session_id"]
        failed = await block(client, session, 0, b64(b"abcd"))
        assert failed.status_code == 503 and failed.json()["error"]
        carve, blocks = await stored(kit, session)
        assert (carve.max_block, carve.error, blocks) == (-1, None, [None, None])
        assert (await block(client, session, 0, b64(b"abcd"))).status_code == 200
        assert (await stored(kit, session))[1] == [b"abcd", None]


@asynccontextmanager
async def agent_client(kit: InMemoryKit, services: Services | None = None) -> AsyncIterator[Client]:
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()

    @asynccontextmanager
    async def serve() -> AsyncIterator[Services]:
        yield services or kit.services

    async with AsyncTestClient(create_app(serve)) as client:
        yield client


async def test_the_agent_config_points_the_carver_here_unless_the_agent_options_say_otherwise(
        client: Client, kit: InMemoryKit) -> None:
    node_key = await enroll(client)
    options = (await client.post("/api/osquery/config", json={"node_key": node_key})).json()["options"]
    carver = {k: v for k, v in options.items() if k.startswith("carver_")}
    assert carver == {"carver_start_endpoint": "/api/v1/osquery/carve/begin",
                      "carver_continue_endpoint": "/api/v1/osquery/carve/block", "carver_block_size": 2 * 1024 * 1024}
    async with kit.store.unit_of_work() as uow:
        team = await uow.teams.add(name="Carvers", description="", at=kit.clock.now())
        await uow.teams.set_agent_options(team.id, {"config": {"options": {
            "carver_block_size": 5242880, "carver_start_endpoint": "/custom/begin", "distributed_interval": 9}}})
        await uow.enroll_secrets.replace(team.id, ["carvers-secret"], kit.clock.now())
        await uow.commit()
    in_team = await enroll(client, "carver", secret="carvers-secret")
    options = (await client.post("/api/osquery/config", json={"node_key": in_team})).json()["options"]
    assert options == {"carver_start_endpoint": "/custom/begin", "carver_block_size": 5242880,
                       "carver_continue_endpoint": "/api/v1/osquery/carve/block", "distributed_interval": 9}


async def test_the_block_size_sent_to_agents_is_a_setting() -> None:
    kit = in_memory_kit(runtime=ServerRuntime(agents=AgentSettings(carver_block_size=8 * 1024 * 1024)))
    async with agent_client(kit) as client:
        node_key = await enroll(client)
        config = (await client.post("/api/osquery/config", json={"node_key": node_key})).json()
    assert config["options"]["carver_block_size"] == 8 * 1024 * 1024


class GatedStore:
    """The in-memory store holding every write until the gate opens, counting writes in flight."""

    def __init__(self, inner: InMemoryCarveStore) -> None:
        self.inner, self.gate = inner, asyncio.Event()
        self.in_flight = self.most_in_flight = 0

    async def put_block(self, carve: Carve, block_id: int, data: bytes) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.gate.wait()
        self.in_flight -= 1
        await self.inner.put_block(carve, block_id, data)

    async def get_block(self, carve: Carve, block_id: int) -> bytes | None:
        return await self.inner.get_block(carve, block_id)

    async def delete(self, carve: Carve) -> None:
        await self.inner.delete(carve)


async def test_a_process_handles_a_bounded_number_of_blocks_at_once() -> None:
    kit = in_memory_kit()
    store = GatedStore(kit.carve_store)
    services = attrs.evolve(kit.services, carves=CarveService(uow=kit.store.unit_of_work, clock=kit.clock,
                                                              store=store))
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()

    @asynccontextmanager
    async def serve() -> AsyncIterator[Services]:
        yield services

    app = create_app(serve)
    # The app's lifespan (which opens the services) runs as a server would run it, and requests go
    # to the app in this event loop, so many can be in flight at once.
    async with app.lifespan(), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                                                 base_url="http://fleet.test") as client:
        sessions = []
        for n in range(CARVE_BLOCKS_AT_ONCE * 2 + 1):
            node_key = await enroll(client, f"host-{n}")  # type: ignore[arg-type]
            begun = await begin(client, node_key, block_count=1, block_size=4, carve_size=4)  # type: ignore[arg-type]
            sessions.append(begun.json()["session_id"])
        posts = [asyncio.create_task(block(client, s, 0, b64(b"abcd"))) for s in sessions]  # type: ignore[arg-type]
        deadline = asyncio.get_running_loop().time() + 10
        while store.in_flight < CARVE_BLOCKS_AT_ONCE:
            assert asyncio.get_running_loop().time() < deadline, store.in_flight
            await asyncio.sleep(0.01)  # polling for the writes to arrive, with a deadline
        for _ in range(200):
            await asyncio.sleep(0)  # let any further request run as far as it can
        assert store.in_flight == CARVE_BLOCKS_AT_ONCE
        store.gate.set()
        answers = await asyncio.gather(*posts)
    assert [a.status_code for a in answers] == [200] * len(sessions)
    assert store.most_in_flight == CARVE_BLOCKS_AT_ONCE
