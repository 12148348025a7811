"""CarveRepository contract (fleet_core.ports): stored fields, session lookup, blocks acknowledged
strictly in order with their digests, errors, what is due for expiry and marking it, listing
(expired filter, teams, order, after, paging) and the cascade from a deleted host."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.carves import Carve, NewCarve
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import Direction, ListOptions
from tests.contract.conftest import AddTeam
from tests.contract.test_host_repository import enroll

pytestmark = pytest.mark.anyio


def new_carve(host_id: int, at: dt.datetime, n: int, *, block_count: int = 3, block_size: int = 4) -> NewCarve:
    return NewCarve(host_id=host_id, created_at=at, name=f"box-{n}-fleet_distributed_query_{n}",
                    block_count=block_count, block_size=block_size, carve_size=block_count * block_size - 1,
                    carve_id=f"carve-guid-{n}", request_id=f"fleet_distributed_query_{n}", session_id=f"session-{n}")


async def add(uow: UnitOfWork, host_id: int, at: dt.datetime, n: int, **kw: int) -> Carve:
    return await uow.carves.add(new_carve(host_id, at, n, **kw))


async def test_add_stores_every_field_and_starts_before_block_zero(uow_factory: UnitOfWorkFactory,
                                                                  at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host_id = await enroll(uow, "h1", at)
        added = await add(uow, host_id, at, 1)
        await uow.commit()

    async with uow_factory() as uow:
        got = await uow.carves.get(added.id)
        by_session = await uow.carves.get_by_session("session-1")

    assert got == added == by_session
    assert got is not None
    assert (got.host_id, got.created_at, got.name, got.block_count, got.block_size, got.carve_size) == (
        host_id, at, "box-1-fleet_distributed_query_1", 3, 4, 11)
    assert (got.carve_id, got.request_id, got.session_id) == ("carve-guid-1", "fleet_distributed_query_1", "session-1")
    assert (got.expired, got.max_block, got.error) == (False, -1, None)


async def test_unknown_ids_and_sessions_are_none(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.carves.get(999) is None
        assert await uow.carves.get_by_session("nope") is None
        assert await uow.carves.block_digest(999, 0) is None
        assert await uow.carves.host_team(999) is None


async def test_add_needs_a_host_and_a_fresh_session(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await add(uow, 12345, at, 1)
        host_id = await enroll(uow, "h1", at)
        await add(uow, host_id, at, 1)
        with pytest.raises(AlreadyExists):
            await uow.carves.add(attrs.evolve(new_carve(host_id, at, 2), session_id="session-1"))
        # The unit of work is still usable after the refusal.
        second = await add(uow, host_id, at, 2)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.carves.get(second.id) == second


def digest(n: int) -> bytes:
    return bytes([n]) * 32


async def test_blocks_are_acknowledged_strictly_in_order(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        carve = await add(uow, await enroll(uow, "h1", at), at, 1)
        assert await uow.carves.claim_block(carve.id, 1, digest(1), at) is False
        assert await uow.carves.claim_block(carve.id, 0, digest(0), at) is True
        assert await uow.carves.claim_block(carve.id, 0, digest(9), at) is False
        assert await uow.carves.claim_block(carve.id, 1, digest(1), at) is True
        await uow.commit()

    async with uow_factory() as uow:
        got = await uow.carves.get(carve.id)
        assert got is not None and got.max_block == 1
        assert await uow.carves.block_digest(carve.id, 0) == digest(0)
        assert await uow.carves.block_digest(carve.id, 1) == digest(1)
        assert await uow.carves.block_digest(carve.id, 2) is None


async def test_an_uncommitted_acknowledgement_is_not_kept(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        carve = await add(uow, await enroll(uow, "h1", at), at, 1)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.carves.claim_block(carve.id, 0, digest(0), at) is True
    async with uow_factory() as uow:
        got = await uow.carves.get(carve.id)
        assert got is not None and got.max_block == -1
        assert await uow.carves.block_digest(carve.id, 0) is None


async def test_for_host_request_is_the_hosts_newest_carve_for_the_request(uow_factory: UnitOfWorkFactory,
                                                                           at: dt.datetime) -> None:
    async with uow_factory() as uow:
        h1, h2 = await enroll(uow, "h1", at), await enroll(uow, "h2", at)
        await add(uow, h1, at, 1)
        newer = await uow.carves.add(attrs.evolve(new_carve(h1, at, 2), request_id="fleet_distributed_query_1"))
        await add(uow, h2, at, 3)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.carves.for_host_request(h1, "fleet_distributed_query_1") == newer
        assert await uow.carves.for_host_request(h2, "fleet_distributed_query_1") is None
        assert await uow.carves.for_host_request(h1, "fleet_distributed_query_9") is None


async def test_host_team_is_the_team_of_the_carves_host(uow_factory: UnitOfWorkFactory, at: dt.datetime,
                                                        add_team: AddTeam) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "Apples")
        in_team = await add(uow, await enroll(uow, "h1", at, team_id=team.id), at, 1)
        loose = await add(uow, await enroll(uow, "h2", at), at, 2)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.carves.host_team(in_team.id) == team.id
        assert await uow.carves.host_team(loose.id) is None
        assert [c.id for c in await uow.carves.list(ListOptions(), expired=False, team_ids=[team.id])] == [in_team.id]
        assert [c.id for c in await uow.carves.list(ListOptions(), expired=False, team_ids=[])] == []
        assert [c.id for c in await uow.carves.list(ListOptions(), expired=False)] == [in_team.id, loose.id]


async def test_set_error_records_the_latest_error(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        carve = await add(uow, await enroll(uow, "h1", at), at, 1)
        await uow.carves.set_error(carve.id, "first")
        await uow.carves.set_error(carve.id, "second")
        await uow.carves.set_error(999, "ignored")
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.carves.get(carve.id)
    assert got is not None and got.error == "second"


async def test_due_for_expiry_counts_from_the_first_block_and_respects_the_limit(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        host_id = await enroll(uow, "h1", at)
        # Begun 30 h ago, first block 26 h ago: due. Begun 30 h ago, first block 2 h ago: not due.
        oldest = await add(uow, host_id, at - dt.timedelta(hours=30), 1)
        assert await uow.carves.claim_block(oldest.id, 0, digest(0), at - dt.timedelta(hours=26))
        late_start = await add(uow, host_id, at - dt.timedelta(hours=30), 2)
        assert await uow.carves.claim_block(late_start.id, 0, digest(0), at - dt.timedelta(hours=2))
        # Never a block: counted from its beginning.
        idle = await add(uow, host_id, at - dt.timedelta(hours=25), 3)
        fresh = await add(uow, host_id, at - dt.timedelta(hours=1), 4)
        await uow.commit()

    cutoff = at - dt.timedelta(hours=24)
    async with uow_factory() as uow:
        assert [c.id for c in await uow.carves.due_for_expiry(before=cutoff, limit=1)] == [oldest.id]
        assert [c.id for c in await uow.carves.due_for_expiry(before=cutoff, limit=50)] == [oldest.id, idle.id]
        assert await uow.carves.mark_expired([oldest.id]) == 1
        assert await uow.carves.mark_expired([oldest.id]) == 0
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.carves.get(oldest.id)
        assert first is not None and first.expired and first.max_block == 0
        assert await uow.carves.block_digest(oldest.id, 0) is None
        assert await uow.carves.block_digest(late_start.id, 0) == digest(0)
        # An expired carve takes no more blocks.
        assert await uow.carves.claim_block(oldest.id, 1, digest(1), at) is False
        assert [c.id for c in await uow.carves.due_for_expiry(before=cutoff, limit=50)] == [idle.id]
        got = await uow.carves.get(fresh.id)
        assert got is not None and not got.expired


async def test_list_hides_expired_unless_asked_and_orders_and_pages(uow_factory: UnitOfWorkFactory,
                                                                    at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host_id = await enroll(uow, "h1", at)
        a = await add(uow, host_id, at - dt.timedelta(hours=48), 1, block_count=5)
        b = await add(uow, host_id, at - dt.timedelta(hours=2), 2, block_count=2)
        c = await add(uow, host_id, at - dt.timedelta(hours=1), 3, block_count=9)
        await uow.carves.mark_expired([a.id])
        await uow.commit()

    async with uow_factory() as uow:
        assert [x.id for x in await uow.carves.list(ListOptions(), expired=False)] == [b.id, c.id]
        assert [x.id for x in await uow.carves.list(ListOptions(), expired=True)] == [a.id, b.id, c.id]
        by_count = ListOptions(order_key="block_count", order_direction=Direction.DESC)
        assert [x.id for x in await uow.carves.list(by_count, expired=True)] == [c.id, a.id, b.id]
        assert [x.id for x in await uow.carves.list(
            ListOptions(order_key="block_count", page=1, per_page=1), expired=True)] == [a.id]
        assert [x.id for x in await uow.carves.list(
            ListOptions(order_key="block_count"), expired=True, after=2)] == [a.id, c.id]
        assert [x.id for x in await uow.carves.list(by_count, expired=True, after=9)] == [a.id, b.id]
        assert [x.id for x in await uow.carves.list(
            ListOptions(order_key="created_at"), expired=True, after=at - dt.timedelta(hours=3))] == [b.id, c.id]
        assert [x.id for x in await uow.carves.list(
            ListOptions(order_key="name", order_direction=Direction.DESC), expired=False, after="box-3")] == [b.id]


async def test_a_deleted_host_takes_its_carves(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        gone = await enroll(uow, "gone", at)
        kept = await enroll(uow, "kept", at)
        doomed = await add(uow, gone, at, 1)
        await uow.carves.claim_block(doomed.id, 0, digest(0), at)
        survivor = await add(uow, kept, at, 2)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.hosts.delete([gone]) == [gone]
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.carves.get(doomed.id) is None
        assert await uow.carves.get_by_session("session-1") is None
        assert await uow.carves.block_digest(doomed.id, 0) is None
        assert [c.id for c in await uow.carves.list(ListOptions(), expired=True)] == [survivor.id]
