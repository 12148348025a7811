"""File carving (fleet_core.services.carves): sessions, blocks strictly in order and idempotent on
retry, who reads carves, store failures, the completion activity, expiry.

The size rules of carve/begin are pure and tested in tests/unit/core/test_carve_rules.py."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock, in_memory_kit
from fleet_adapters.memory.carve_store import InMemoryCarveStore
from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, InvalidArgument, NotFound, PermissionDenied, Unavailable
from fleet_core.model.carves import Carve
from fleet_core.model.runtime import CarveSettings, ServerRuntime
from fleet_core.rules.paging import ListOptions
from fleet_core.services.carves import (
    CARVE_COMPLETED_ACTIVITY,
    CARVE_TTL,
    CarveBegin,
    CarveBlockRejected,
    CarveRejected,
    CarveService,
    CarveSessionUnknown,
)
from tests.unit.services.support import (
    MakeUser,
    activity_types,
    create_team,
    enroll_host,
    first_admin,
    last_activity,
)

pytestmark = pytest.mark.anyio

BLOCK_SIZE = 4


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def begin(kit: InMemoryKit, admin: Viewer, *, identifier: str = "laptop", request_id: str = "req-1",
                blocks: int = 2) -> Carve:
    host = await enroll_host(kit, admin, identifier)
    return await kit.services.carves.begin(host, CarveBegin(
        block_count=blocks, block_size=BLOCK_SIZE, carve_size=blocks * BLOCK_SIZE - 1, carve_id="carve-1",
        request_id=request_id))


async def send(kit: InMemoryKit, carve: Carve, block_id: int, data: bytes) -> None:
    await kit.services.carves.block(session_id=carve.session_id, request_id=carve.request_id, block_id=block_id,
                                    data=b64(data))


async def test_a_session_is_named_after_its_host_time_and_request(kit: InMemoryKit, admin: Viewer,
                                                                  clock: MovableClock) -> None:
    clock.current = dt.datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=dt.UTC)
    carve = await begin(kit, admin)
    assert carve.name == "laptop-2026-03-04T05:06:07Z-req-1"
    assert (carve.max_block, carve.expired, carve.error) == (-1, False, None)
    assert carve.session_id


async def test_a_live_query_carves_each_hosts_file_once(kit: InMemoryKit, admin: Viewer) -> None:
    # While a campaign waits for a listener, osqueryd is asked again and would carve again.
    first = await begin(kit, admin, request_id="fleet_distributed_query_7")
    with pytest.raises(CarveRejected, match="already carved"):
        await begin(kit, admin, request_id="fleet_distributed_query_7")
    other_host = await begin(kit, admin, identifier="server", request_id="fleet_distributed_query_7")
    assert other_host.host_id != first.host_id
    assert (await begin(kit, admin, request_id="fleet_distributed_query_8")).host_id == first.host_id
    # A scheduled carves query carves on every run, as its schedule asks.
    await begin(kit, admin, request_id="pack/evidence/carve")
    await begin(kit, admin, request_id="pack/evidence/carve")


@pytest.mark.parametrize(("count", "size", "total", "carve_id", "request_id"), [
    (2, 4, 9, "c", "r"),  # more bytes than the blocks hold
    (1, 4, 0, "c", "r"),
    (1, 4, 4, "", "r"),
    (1, 4, 4, "c", "x" * 65),
])
async def test_an_unsound_session_is_refused(kit: InMemoryKit, admin: Viewer, count: int, size: int, total: int,
                                             carve_id: str, request_id: str) -> None:
    host = await enroll_host(kit, admin, "laptop")
    with pytest.raises(CarveRejected):
        await kit.services.carves.begin(host, CarveBegin(block_count=count, block_size=size, carve_size=total,
                                                         carve_id=carve_id, request_id=request_id))
    assert await kit.services.carves.list(admin, ListOptions()) == []


async def test_blocks_arrive_in_order_and_are_read_back(kit: InMemoryKit, admin: Viewer) -> None:
    carve = await begin(kit, admin)
    await send(kit, carve, 0, b"abcd")
    with pytest.raises(BadRequest):  # not arrived yet
        await kit.services.carves.get_block(admin, carve.id, 1)
    await send(kit, carve, 1, b"efg")
    assert await kit.services.carves.get_block(admin, carve.id, 0) == b"abcd"
    assert await kit.services.carves.get_block(admin, carve.id, 1) == b"efg"
    assert (await kit.services.carves.get(admin, carve.id)).max_block == 1
    with pytest.raises(NotFound):
        await kit.services.carves.get_block(admin, carve.id, 2)


@pytest.mark.parametrize(("block_id", "data"), [(1, b"abcd"), (2, b"abcd"), (0, b"abcde")])
async def test_a_refused_block_is_recorded_as_the_carves_error(kit: InMemoryKit, admin: Viewer, block_id: int,
                                                               data: bytes) -> None:
    carve = await begin(kit, admin)
    with pytest.raises(CarveBlockRejected) as caught:
        await send(kit, carve, block_id, data)
    stored = await kit.services.carves.get(admin, carve.id)
    assert (stored.error, stored.max_block) == (str(caught.value), -1)


async def test_an_out_of_order_block_is_refused_with_fleets_message(kit: InMemoryKit, admin: Viewer) -> None:
    carve = await begin(kit, admin, blocks=3)
    await send(kit, carve, 0, b"abcd")
    with pytest.raises(CarveBlockRejected, match=r"^block_id does not match expected block \(1\): 2$"):
        await send(kit, carve, 2, b"ijk")
    with pytest.raises(CarveBlockRejected, match=r"^block_id exceeds expected max \(2\): 3$"):
        await send(kit, carve, 3, b"ijk")


async def test_a_block_needs_the_matching_session_and_request_and_valid_base64(kit: InMemoryKit,
                                                                               admin: Viewer) -> None:
    carve = await begin(kit, admin)
    for session_id, request_id in ((carve.session_id, "other"), ("other", carve.request_id), ("", "")):
        with pytest.raises(CarveSessionUnknown):
            await kit.services.carves.block(session_id=session_id, request_id=request_id, block_id=0,
                                            data=b64(b"abcd"))
    with pytest.raises(CarveBlockRejected):
        await kit.services.carves.block(session_id=carve.session_id, request_id=carve.request_id, block_id=0,
                                        data="not base64!")
    assert (await kit.services.carves.get(admin, carve.id)).error is None  # strangers leave no trace


async def test_admins_and_maintainers_read_carves_team_roles_only_their_teams_observers_never(
        kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    in_apples = await begin_on(kit, admin, "apple-host", team_id=apples)
    in_pears = await begin_on(kit, admin, "pear-host", team_id=pears)
    no_team = await begin(kit, admin, identifier="loose")
    for carve, data in ((in_apples, b"ab"), (in_pears, b"cd"), (no_team, b"abcd")):
        await send(kit, carve, 0, data)
    everything = {in_apples.id, in_pears.id, no_team.id}
    for viewer in (admin, await make_user(global_role="admin"), await make_user(global_role="maintainer")):
        assert {c.id for c in await kit.services.carves.list(viewer, ListOptions())} == everything
        assert (await kit.services.carves.get(viewer, in_pears.id)).id == in_pears.id
        assert await kit.services.carves.get_block(viewer, in_pears.id, 0) == b"cd"
    for role in ("admin", "maintainer"):
        team_user = await make_user(teams=[(apples, role), (pears, "observer")])
        assert [c.id for c in await kit.services.carves.list(team_user, ListOptions())] == [in_apples.id]
        assert await kit.services.carves.get_block(team_user, in_apples.id, 0) == b"ab"
        for other in (in_pears, no_team):
            with pytest.raises(PermissionDenied):
                await kit.services.carves.get(team_user, other.id)
            with pytest.raises(PermissionDenied):
                await kit.services.carves.get_block(team_user, other.id, 0)
        with pytest.raises(NotFound):
            await kit.services.carves.get(team_user, 999)
    for observer in (await make_user(global_role="observer"), await make_user(teams=[(apples, "observer")])):
        with pytest.raises(PermissionDenied):
            await kit.services.carves.list(observer, ListOptions())
        for carve_id in (in_apples.id, 999):  # not even whether an id exists
            with pytest.raises(PermissionDenied):
                await kit.services.carves.get(observer, carve_id)
            with pytest.raises(PermissionDenied):
                await kit.services.carves.get_block(observer, carve_id, 0)
    with pytest.raises(NotFound):
        await kit.services.carves.get(admin, 999)


async def begin_on(kit: InMemoryKit, admin: Viewer, identifier: str, *, team_id: int) -> Carve:
    """A one-block carve of 2 bytes on a host of the team."""
    host = await enroll_host(kit, admin, identifier, team_id=team_id)
    return await kit.services.carves.begin(host, CarveBegin(
        block_count=1, block_size=BLOCK_SIZE, carve_size=2, carve_id="carve-1", request_id="req-1"))


async def test_a_retried_identical_block_is_accepted_and_different_data_refused(kit: InMemoryKit,
                                                                                admin: Viewer) -> None:
    carve = await begin(kit, admin, blocks=3)
    await send(kit, carve, 0, b"abcd")
    await send(kit, carve, 0, b"abcd")  # osquery retried: same bytes, same answer
    await send(kit, carve, 1, b"efgh")
    await send(kit, carve, 0, b"abcd")
    with pytest.raises(CarveBlockRejected, match="already stored with different data"):
        await send(kit, carve, 1, b"EFGH")
    assert await kit.services.carves.get_block(admin, carve.id, 1) == b"efgh"
    stored = await kit.services.carves.get(admin, carve.id)
    assert stored.max_block == 1 and stored.error == "block 1 was already stored with different data"


@pytest.mark.parametrize(("block_id", "data", "reason"), [
    (0, b"abc", "block 0 must be 4 bytes: 3"),  # a short block that is not the last
    (-1, b"abcd", r"block_id exceeds expected max \(1\): -1"),
    (0, b"abcde", "exceeded declared block size 4: 5"),
])
async def test_blocks_must_be_in_range_and_of_their_size(kit: InMemoryKit, admin: Viewer, block_id: int,
                                                         data: bytes, reason: str) -> None:
    carve = await begin(kit, admin)
    with pytest.raises(CarveBlockRejected, match=f"^{reason}$"):
        await send(kit, carve, block_id, data)
    await send(kit, carve, 0, b"abcd")
    with pytest.raises(CarveBlockRejected, match=r"^block 1 must be 3 bytes: 2$"):
        await send(kit, carve, 1, b"ef")


async def test_the_size_limits_are_the_servers_settings(clock: MovableClock) -> None:
    kit = in_memory_kit(clock=clock, runtime=ServerRuntime(carves=CarveSettings(max_block_size=8, max_carve_size=16)))
    admin = await first_admin(kit)
    host = await enroll_host(kit, admin, "laptop")
    for count, size, total in ((1, 9, 9), (3, 8, 17)):
        with pytest.raises(CarveRejected, match="exceeds max"):
            await kit.services.carves.begin(host, CarveBegin(count, size, total, "c", "r"))
    assert (await kit.services.carves.begin(host, CarveBegin(2, 8, 16, "c", "r"))).block_count == 2


class FlakyCarveStore:
    """The in-memory store, failing the next ``failures`` writes as an unreachable store would."""

    def __init__(self, inner: InMemoryCarveStore, failures: int) -> None:
        self.inner, self.failures = inner, failures

    async def put_block(self, carve: Carve, block_id: int, data: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise Unavailable("carve store unavailable")
        await self.inner.put_block(carve, block_id, data)

    async def get_block(self, carve: Carve, block_id: int) -> bytes | None:
        return await self.inner.get_block(carve, block_id)

    async def delete(self, carve: Carve) -> None:
        if self.failures:
            self.failures -= 1
            raise Unavailable("carve store unavailable")
        await self.inner.delete(carve)


async def test_a_store_failure_acknowledges_nothing_and_the_retry_stores_the_block(kit: InMemoryKit,
                                                                                   admin: Viewer) -> None:
    flaky = FlakyCarveStore(kit.carve_store, failures=1)
    carves = CarveService(uow=kit.store.unit_of_work, clock=kit.clock, store=flaky)
    carve = await begin(kit, admin)
    with pytest.raises(Unavailable):
        await carves.block(session_id=carve.session_id, request_id=carve.request_id, block_id=0, data=b64(b"abcd"))
    unacknowledged = await kit.services.carves.get(admin, carve.id)
    assert (unacknowledged.max_block, unacknowledged.error) == (-1, None)
    await carves.block(session_id=carve.session_id, request_id=carve.request_id, block_id=0, data=b64(b"abcd"))
    assert await kit.services.carves.get_block(admin, carve.id, 0) == b"abcd"


async def test_a_completed_carve_is_an_activity(kit: InMemoryKit, admin: Viewer) -> None:
    carve = await begin(kit, admin)
    await send(kit, carve, 0, b"abcd")
    assert CARVE_COMPLETED_ACTIVITY not in await activity_types(kit, admin)
    await send(kit, carve, 1, b"efg")
    await send(kit, carve, 1, b"efg")  # a retry of the last block completes nothing twice
    assert (await activity_types(kit, admin)).count(CARVE_COMPLETED_ACTIVITY) == 1
    activity = await last_activity(kit, admin)
    assert activity.actor_id is None
    assert activity.details == {"carve_id": carve.id, "carve_name": carve.name, "host_id": carve.host_id,
                                "carve_size": 7, "request_id": "req-1"}


async def test_a_carve_lives_a_day_from_its_first_block_and_a_failed_delete_is_retried(
        kit: InMemoryKit, admin: Viewer, clock: MovableClock) -> None:
    carve = await begin(kit, admin)
    clock.advance(dt.timedelta(hours=5))
    await send(kit, carve, 0, b"abcd")
    clock.advance(CARVE_TTL - dt.timedelta(hours=1))  # 28 h after begin, 23 h after the first block
    assert await kit.services.carves.expire() == 0
    clock.advance(dt.timedelta(hours=2))
    flaky = FlakyCarveStore(kit.carve_store, failures=1)
    with pytest.raises(Unavailable):
        await CarveService(uow=kit.store.unit_of_work, clock=kit.clock, store=flaky).expire()
    assert not (await kit.services.carves.get(admin, carve.id)).expired  # kept for the next pass
    assert await kit.services.carves.expire() == 1
    expired = await kit.services.carves.get(admin, carve.id)
    assert expired.expired and expired.max_block == 0 and expired.name == carve.name
    assert kit.carve_store.blocks == {}


async def test_carves_expire_after_a_day_and_lose_their_blocks(kit: InMemoryKit, admin: Viewer,
                                                               clock: MovableClock) -> None:
    old = await begin(kit, admin, identifier="old")
    await send(kit, old, 0, b"abcd")
    clock.advance(CARVE_TTL)
    fresh = await begin(kit, admin, identifier="fresh", request_id="req-2")
    assert await kit.services.carves.expire() == 0  # exactly a day old is not older than a day
    clock.advance(dt.timedelta(seconds=1))
    assert await kit.services.carves.expire() == 1
    assert [c.id for c in await kit.services.carves.list(admin, ListOptions())] == [fresh.id]
    assert [c.id for c in await kit.services.carves.list(admin, ListOptions(), expired=True)] == [old.id, fresh.id]
    with pytest.raises(BadRequest):
        await kit.services.carves.get_block(admin, old.id, 0)
    with pytest.raises(CarveBlockRejected):
        await send(kit, old, 1, b"efg")


async def test_listing_pages_after_a_value_of_the_order_key(kit: InMemoryKit, admin: Viewer) -> None:
    first = await begin(kit, admin, identifier="first")
    second = await begin(kit, admin, identifier="second")
    after_first = await kit.services.carves.list(admin, ListOptions(order_key="id"), after=str(first.id))
    assert [c.id for c in after_first] == [second.id]
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.carves.list(admin, ListOptions(), after="1")
    assert [n for n, _ in caught.value.problems] == ["after"]
    with pytest.raises(InvalidArgument):
        await kit.services.carves.list(admin, ListOptions(order_key="id"), after="soon")
