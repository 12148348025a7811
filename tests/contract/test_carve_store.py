"""CarveStore contract (fleet_core.ports.CarveStore) on the in-memory store, Postgres and an
S3-compatible server (moto's, over real HTTP): blocks read back byte for byte, a retried block
replaces the earlier attempt, carves of S3-part-sized blocks and of small blocks, delete."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from fleet_adapters.memory import InMemoryStore
from fleet_adapters.memory.carve_store import InMemoryCarveStore
from fleet_adapters.postgres.carve_store import PgCarveStore
from fleet_adapters.postgres.pool import Pool
from fleet_adapters.s3 import S3Options, s3_client
from fleet_adapters.s3_carves import MIN_PART_SIZE, S3CarveStore, is_multipart
from fleet_core.errors import Unavailable
from fleet_core.model.carves import Carve, NewCarve
from fleet_core.ports import CarveStore, UnitOfWorkFactory
from tests.contract.test_host_repository import enroll
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

pytestmark = pytest.mark.anyio


async def make_bucket(endpoint: str) -> S3Options:
    options = S3Options(bucket=f"carves-{uuid.uuid4().hex[:12]}", prefix="fleet/", region=REGION,
                        endpoint_url=endpoint, access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET_ACCESS_KEY,
                        force_path_style=True)
    async with s3_client(options) as client:
        await client.create_bucket(Bucket=options.bucket)
    return options


@pytest.fixture
async def s3_carve_store(s3_endpoint: str) -> AsyncIterator[S3CarveStore]:
    options = await make_bucket(s3_endpoint)
    async with s3_client(options) as client:
        yield S3CarveStore(client, options)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres), "s3"])
def stores(request: pytest.FixtureRequest) -> tuple[CarveStore, UnitOfWorkFactory]:
    """A carve store and the units of work its carves' metadata lives in (looked up lazily, so
    that one implementation's run needs only its own server)."""
    if request.param == "postgres":
        pool: Pool = request.getfixturevalue("pg_pool")
        return PgCarveStore(pool), request.getfixturevalue("pg_uow_factory")
    store: CarveStore = InMemoryCarveStore() if request.param == "memory" else request.getfixturevalue(
        "s3_carve_store")
    return store, InMemoryStore().unit_of_work


async def begun(uow_factory: UnitOfWorkFactory, *, block_count: int, block_size: int, carve_size: int) -> Carve:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    n = uuid.uuid4().hex
    async with uow_factory() as uow:
        host_id = await enroll(uow, f"host-{n}", at)
        carve = await uow.carves.add(NewCarve(
            host_id=host_id, created_at=at, name=f"host-{n}", block_count=block_count, block_size=block_size,
            carve_size=carve_size, carve_id="guid", request_id="fleet_distributed_query_1",
            session_id=str(uuid.uuid4())))
        await uow.commit()
    return carve


def blocks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


async def test_small_blocks_read_back_at_once_and_a_retry_replaces_the_attempt(
        stores: tuple[CarveStore, UnitOfWorkFactory]) -> None:
    store, uow_factory = stores
    data = os.urandom(10_000)
    carve = await begun(uow_factory, block_count=3, block_size=4096, carve_size=len(data))
    assert not is_multipart(carve)
    parts = blocks_of(data, 4096)
    await store.put_block(carve, 0, b"an attempt the agent never heard back about")
    await store.put_block(carve, 0, parts[0])
    assert await store.get_block(carve, 0) == parts[0]
    assert await store.get_block(carve, 1) is None
    for block_id, part in enumerate(parts[1:], start=1):
        await store.put_block(carve, block_id, part)
    assert b"".join([await store.get_block(carve, i) or b"" for i in range(3)]) == data


async def test_a_carve_of_part_sized_blocks_reads_back_whole_once_complete(
        stores: tuple[CarveStore, UnitOfWorkFactory]) -> None:
    store, uow_factory = stores
    data = os.urandom(2 * MIN_PART_SIZE + 1234)
    carve = await begun(uow_factory, block_count=3, block_size=MIN_PART_SIZE, carve_size=len(data))
    assert is_multipart(carve)
    parts = blocks_of(data, MIN_PART_SIZE)
    await store.put_block(carve, 0, parts[0])
    await store.put_block(carve, 0, parts[0])  # a retried first block reuses the open upload
    await store.put_block(carve, 1, parts[1])
    # Before the last block a store may or may not serve what it has (S3 cannot: no object yet).
    assert await store.get_block(carve, 0) in (parts[0], None)
    await store.put_block(carve, 2, parts[2])
    await store.put_block(carve, 2, parts[2])  # the last block again, after it completed the carve
    assert [await store.get_block(carve, i) for i in range(3)] == parts


async def test_a_single_block_carve(stores: tuple[CarveStore, UnitOfWorkFactory]) -> None:
    store, uow_factory = stores
    carve = await begun(uow_factory, block_count=1, block_size=MIN_PART_SIZE, carve_size=11)
    await store.put_block(carve, 0, b"hello world")
    assert await store.get_block(carve, 0) == b"hello world"


async def test_delete_removes_only_that_carve_and_may_repeat(stores: tuple[CarveStore, UnitOfWorkFactory]) -> None:
    store, uow_factory = stores
    small = await begun(uow_factory, block_count=2, block_size=4, carve_size=8)
    unfinished = await begun(uow_factory, block_count=2, block_size=MIN_PART_SIZE, carve_size=MIN_PART_SIZE + 1)
    kept = await begun(uow_factory, block_count=1, block_size=4, carve_size=4)
    for block_id in range(2):
        await store.put_block(small, block_id, b"abcd")
    await store.put_block(unfinished, 0, bytes(MIN_PART_SIZE))
    await store.put_block(kept, 0, b"keep")
    for carve in (small, unfinished):
        await store.delete(carve)
        await store.delete(carve)
        assert [await store.get_block(carve, i) for i in range(2)] == [None, None]
    assert await store.get_block(kept, 0) == b"keep"


async def test_an_unreachable_bucket_is_unavailable() -> None:
    options = S3Options(bucket="nowhere", region=REGION, endpoint_url="http://127.0.0.1:9",
                        access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET_ACCESS_KEY, force_path_style=True)
    memory = InMemoryStore()
    carve = await begun(memory.unit_of_work, block_count=1, block_size=4, carve_size=4)
    async with s3_client(options) as client:
        store = S3CarveStore(client, options)
        with pytest.raises(Unavailable):
            await store.put_block(carve, 0, b"abcd")
        with pytest.raises(Unavailable):
            await store.get_block(carve, 0)
        with pytest.raises(Unavailable):
            await store.delete(carve)


async def test_s3_objects_are_laid_out_under_the_prefix(s3_endpoint: str) -> None:
    options = await make_bucket(s3_endpoint)
    memory = InMemoryStore()
    small = await begun(memory.unit_of_work, block_count=2, block_size=4, carve_size=8)
    large = await begun(memory.unit_of_work, block_count=2, block_size=MIN_PART_SIZE, carve_size=MIN_PART_SIZE + 1)
    async with s3_client(options) as client:
        store = S3CarveStore(client, options)
        for block_id in range(2):
            await store.put_block(small, block_id, b"abcd")
        await store.put_block(large, 0, bytes(MIN_PART_SIZE))
        await store.put_block(large, 1, b"!")
        listed = await client.list_objects_v2(Bucket=options.bucket)
        sizes = {o["Key"]: o["Size"] for o in listed["Contents"]}
        uploads = await client.list_multipart_uploads(Bucket=options.bucket)
    assert sizes == {f"fleet/{small.session_id}/0": 4, f"fleet/{small.session_id}/1": 4,
                     f"fleet/{large.session_id}": MIN_PART_SIZE + 1}
    assert not uploads.get("Uploads")
