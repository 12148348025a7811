"""File carving (fleet_core.services.carves): sessions, blocks strictly in order, admin reads, expiry.

The size rules of carve/begin are pure and tested in tests/unit/core/test_carve_rules.py."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.carves import Carve
from fleet_core.rules.paging import ListOptions
from fleet_core.services.carves import (
    CARVE_TTL,
    CarveBegin,
    CarveBlockRejected,
    CarveRejected,
    CarveSessionUnknown,
)
from tests.unit.services.support import MakeUser, create_team, enroll_host

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


async def test_only_global_admins_read_carves(kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    carve = await begin(kit, admin)
    team_id = await create_team(kit, admin, "Apples")
    for viewer in (await make_user(global_role="maintainer"), await make_user(teams=[(team_id, "admin")])):
        with pytest.raises(PermissionDenied):
            await kit.services.carves.list(viewer, ListOptions())
        with pytest.raises(PermissionDenied):
            await kit.services.carves.get(viewer, carve.id)
        with pytest.raises(PermissionDenied):
            await kit.services.carves.get_block(viewer, carve.id, 0)
    with pytest.raises(NotFound):
        await kit.services.carves.get(admin, 999)


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
