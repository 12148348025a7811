"""The simulator's carver (fleet_osquery/sim/carver.py and SimulatedHost.upload_carve) against the
real osquery API over the in-memory kit: what it carves, how it splits and retries, and that the
server gets the exact bytes. The live-query path end to end is tests/e2e/test_e2e_carving.py."""

from __future__ import annotations

import hashlib

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.model.runtime import AgentSettings, ServerRuntime
from fleet_core.rules.paging import ListOptions
from fleet_core.services.carves import CarveService
from fleet_osquery.sim import carver
from fleet_osquery.sim.agent import SimOptions, SimulatedHost
from fleet_osquery.sim.stats import Endpoint, Outcome, Stats
from fleet_osquery.sim.templates import get_template
from fleet_osquery.sim.wire import Wire
from tests.osquery.conftest import SECRET
from tests.osquery.test_carves import FailingOnceStore, agent_client
from tests.unit.services.support import no_deadline

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("sql", "path"), [
    ("SELECT * FROM carves WHERE carve = 1 AND path = '/etc/passwd';", "/etc/passwd"),
    ("select * from carves where path like '/var/log/%' and carve=1", "/var/log/%"),
    ("SELECT * FROM carves WHERE carve = 0 AND path = '/etc/passwd'", None),
    ("SELECT * FROM carves", None),
    ("SELECT * FROM files WHERE carve = 1 AND path = '/etc/passwd'", None),
])
def test_which_queries_carve_what(sql: str, path: str | None) -> None:
    assert carver.carve_path(sql) == path


@pytest.mark.parametrize(("path", "size"), [
    ("/tmp/sim-carve-10MiB", 10 * 1024**2), ("/tmp/x-1GiB", 1024**3), ("/tmp/x-4096", 4096), ("/tmp/x-3k", 3072),
    ("/etc/passwd", 777), ("/tmp/x-0", 1),
])
def test_the_size_is_named_by_the_path(path: str, size: int) -> None:
    assert carver.file_size(path, 777) == size


@no_deadline
@given(size=st.integers(1, 3 * carver.CHUNK), block_size=st.integers(1000, 2 * carver.CHUNK))
def test_the_file_is_the_same_whatever_the_block_size(size: int, block_size: int) -> None:
    pieces = list(carver.blocks(3, "host", "/p", size, block_size))
    assert all(len(p) == block_size for p in pieces[:-1]) and 0 < len(pieces[-1]) <= block_size
    assert hashlib.sha256(b"".join(pieces)).hexdigest() == carver.file_sha256(3, "host", "/p", size)


async def carved_bytes(kit: InMemoryKit, request_id: str) -> bytes:
    async with kit.store.unit_of_work() as uow:
        [carve] = [c for c in await uow.carves.list(ListOptions(), expired=True) if c.request_id == request_id]
    parts = [await kit.carve_store.get_block(carve, i) for i in range(carve.block_count)]
    assert carve.max_block == carve.block_count - 1 and None not in parts
    return b"".join(p or b"" for p in parts)


async def test_a_host_uploads_its_carve_in_the_servers_block_size_and_retries_a_failed_block() -> None:
    kit = in_memory_kit(runtime=ServerRuntime(agents=AgentSettings(carver_block_size=4096)))
    carves = CarveService(uow=kit.store.unit_of_work, clock=kit.clock, store=FailingOnceStore(kit.carve_store))
    async with agent_client(kit, attrs.evolve(kit.services, carves=carves)) as client:
        stats = Stats()
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        host = SimulatedHost(0, get_template("ubuntu_22.04"), Wire(client, str(client.base_url), "/api/osquery",
                                                                     stats), SECRET, SimOptions(), sleep=sleep)
        assert await host.enroll()
        await host.fetch_config()
        assert host.carver_block_size == 4096
        path = "/home/user/evidence-10000"
        job = carver.CarveJob(request_id="fleet_distributed_query_7", carve_guid="guid-7", path=path, size=10_000)
        assert await host.upload_carve(job)
    assert stats.carves_completed == 1 and stats.carve_bytes_sent == 10_000
    blocks = stats.endpoints[Endpoint.CARVE_BLOCK]
    assert blocks.outcomes[Outcome.OK] == 3 and blocks.outcomes[Outcome.ERROR_BODY] == 1  # block 0 retried
    assert slept == [0.5]
    data = await carved_bytes(kit, "fleet_distributed_query_7")
    assert hashlib.sha256(data).hexdigest() == carver.file_sha256(host.options.seed, host.host_identifier, path,
                                                                   10_000)


async def test_a_refused_carve_is_given_up_after_the_attempts() -> None:
    kit = in_memory_kit()
    async with agent_client(kit) as client:
        stats = Stats()

        async def sleep(seconds: float) -> None:
            return None

        host = SimulatedHost(0, get_template("ubuntu_22.04"), Wire(client, str(client.base_url), "/api/osquery",
                                                                     stats), SECRET, SimOptions(carve_max_attempts=2),
                             sleep=sleep)
        host.carver_block_size = 512 * 1024 * 1024  # above the server's maximum block size
        job = carver.CarveJob(request_id="fleet_distributed_query_8", carve_guid="g", path="/x-1", size=1)
        assert not await host.upload_carve(job)
    assert stats.carves_failed == 1
    assert stats.endpoints[Endpoint.CARVE_BEGIN].outcomes[Outcome.ERROR_BODY] == 2
