"""The InstallerStore contract, over the filesystem store, the in-memory one and the S3 one on a real
S3-compatible server (moto's, over HTTP)."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from fleet_adapters.installers import FilesystemInstallerStore, installer_name
from fleet_adapters.memory.installers import InMemoryInstallerStore
from fleet_adapters.s3 import S3Options, s3_client
from fleet_adapters.s3_installers import PART_SIZE, S3InstallerStore
from fleet_core.errors import Unavailable
from fleet_core.model.installers import InstallerKey
from fleet_core.ports import InstallerStore
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

pytestmark = pytest.mark.anyio

PKG = InstallerKey(enroll_secret="s3cret", kind="pkg")


async def installers_bucket(endpoint: str) -> S3Options:
    options = S3Options(bucket=f"installers-{uuid.uuid4().hex[:12]}", prefix="fleet/", region=REGION,
                        endpoint_url=endpoint, access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET_ACCESS_KEY,
                        force_path_style=True)
    async with s3_client(options) as client:
        await client.create_bucket(Bucket=options.bucket)
    return options


@pytest.fixture
async def s3_bucket_options(s3_endpoint: str) -> S3Options:
    return await installers_bucket(s3_endpoint)


@pytest.fixture
async def s3_installer_store(s3_bucket_options: S3Options) -> AsyncIterator[S3InstallerStore]:
    async with s3_client(s3_bucket_options) as client:
        yield S3InstallerStore(client, s3_bucket_options)


@pytest.fixture(params=["filesystem", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> InstallerStore:
    """Looked up lazily, so that only the S3 runs need the S3 server."""
    if request.param == "memory":
        return InMemoryInstallerStore()
    if request.param == "s3":
        s3_store: InstallerStore = request.getfixturevalue("s3_installer_store")
        return s3_store
    return FilesystemInstallerStore(tmp_path / "installers")


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read(store: InstallerStore, key: InstallerKey) -> bytes | None:
    blob = await store.open(key)
    if blob is None:
        return None
    data = b"".join([chunk async for chunk in blob.chunks])
    assert len(data) == blob.size
    return data


async def test_an_absent_installer_has_no_size_and_cannot_be_opened(store: InstallerStore) -> None:
    assert await store.size(PKG) is None
    assert await store.open(PKG) is None


async def test_a_stored_installer_reads_back_whole(store: InstallerStore) -> None:
    big = os.urandom(700 * 1024)
    assert await store.put(PKG, chunks_of(big[:1000], big[1000:], b"")) == len(big)
    assert await store.size(PKG) == len(big)
    assert await read(store, PKG) == big


async def test_secret_kind_and_desktop_each_name_a_different_installer(store: InstallerStore) -> None:
    keys: Sequence[InstallerKey] = [
        PKG, InstallerKey(enroll_secret="s3cret", kind="pkg", desktop=True),
        InstallerKey(enroll_secret="s3cret", kind="msi"), InstallerKey(enroll_secret="other", kind="pkg"),
    ]
    for n, key in enumerate(keys):
        await store.put(key, chunks_of(f"installer {n}".encode()))
    for n, key in enumerate(keys):
        assert await read(store, key) == f"installer {n}".encode()
    assert await store.size(InstallerKey(enroll_secret="other", kind="deb")) is None


async def test_a_put_replaces_the_installer_without_disturbing_a_download_in_progress(store: InstallerStore) -> None:
    await store.put(PKG, chunks_of(b"old" * 1000))
    streaming = await store.open(PKG)
    assert streaming is not None
    await store.put(PKG, chunks_of(b"new"))
    assert b"".join([chunk async for chunk in streaming.chunks]) == b"old" * 1000
    assert await read(store, PKG) == b"new"


async def test_a_put_that_fails_midway_leaves_the_previous_installer(store: InstallerStore) -> None:
    await store.put(PKG, chunks_of(b"good"))

    async def broken() -> AsyncIterator[bytes]:
        yield b"half"
        raise OSError("the source went away")

    with pytest.raises((OSError, Unavailable)):
        await store.put(PKG, broken())
    assert await read(store, PKG) == b"good"


async def test_the_filesystem_store_names_no_secret_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    root = tmp_path / "installers"
    store = FilesystemInstallerStore(root)
    await store.put(PKG, chunks_of(b"data"))
    await store.put(PKG, chunks_of(b"data2"))
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    assert files == [installer_name(PKG)]
    assert installer_name(PKG).endswith("/fleet-osquery.pkg")
    assert "s3cret" not in installer_name(PKG)


async def test_an_unwritable_directory_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    store = FilesystemInstallerStore(blocker / "installers")
    with pytest.raises(Unavailable):
        await store.put(PKG, chunks_of(b"data"))


async def test_an_installer_bigger_than_a_part_reads_back_exactly(store: InstallerStore) -> None:
    # Over two S3 parts: a multipart upload there, read back in chunks by every store.
    big = os.urandom(2 * PART_SIZE + 12345)
    source = (big[i:i + 1024 * 1024] for i in range(0, len(big), 1024 * 1024))
    assert await store.put(PKG, chunks_of(*source)) == len(big)
    assert await store.size(PKG) == len(big)
    blob = await store.open(PKG)
    assert blob is not None and blob.size == len(big)
    digest, chunk_count = hashlib.sha256(), 0
    async for chunk in blob.chunks:
        digest.update(chunk)
        chunk_count += 1
    assert digest.hexdigest() == hashlib.sha256(big).hexdigest()
    if not isinstance(store, InMemoryInstallerStore):
        assert chunk_count > 1  # streamed, not handed over whole


async def test_a_multipart_put_that_fails_midway_leaves_the_previous_installer_and_no_upload(
        s3_bucket_options: S3Options, s3_installer_store: S3InstallerStore) -> None:
    await s3_installer_store.put(PKG, chunks_of(b"good"))

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(PART_SIZE)
        yield os.urandom(PART_SIZE)
        raise OSError("the source went away")

    with pytest.raises(OSError, match="went away"):
        await s3_installer_store.put(PKG, broken())
    assert await read(s3_installer_store, PKG) == b"good"
    async with s3_client(s3_bucket_options) as client:
        open_uploads = await client.list_multipart_uploads(Bucket=s3_bucket_options.bucket)
    assert open_uploads.get("Uploads", []) == []


async def test_s3_installers_are_keyed_as_on_the_filesystem_under_the_prefix(
        s3_bucket_options: S3Options, s3_installer_store: S3InstallerStore) -> None:
    desktop_msi = InstallerKey(enroll_secret="s3cret", kind="msi", desktop=True)
    await s3_installer_store.put(PKG, chunks_of(b"pkg"))
    await s3_installer_store.put(desktop_msi, chunks_of(b"msi"))
    async with s3_client(s3_bucket_options) as client:
        listed = await client.list_objects_v2(Bucket=s3_bucket_options.bucket)
    keys = sorted(item["Key"] for item in listed["Contents"])
    assert keys == sorted(f"fleet/installers/{installer_name(key)}" for key in (PKG, desktop_msi))
    assert not any("s3cret" in key for key in keys)


async def test_an_unreachable_installer_bucket_is_unavailable() -> None:
    options = S3Options(bucket="nowhere", region=REGION, endpoint_url="http://127.0.0.1:9",
                        access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET_ACCESS_KEY, force_path_style=True)
    async with s3_client(options) as client:
        store = S3InstallerStore(client, options)
        with pytest.raises(Unavailable):
            await store.size(PKG)
        with pytest.raises(Unavailable):
            await store.open(PKG)
        with pytest.raises(Unavailable):
            await store.put(PKG, chunks_of(b"data"))


async def test_s3_puts_and_downloads_hold_about_one_part_in_memory(s3_installer_store: S3InstallerStore) -> None:
    block = os.urandom(256 * 1024)
    total = 6 * PART_SIZE

    async def generated() -> AsyncIterator[bytes]:
        for _ in range(total // len(block)):
            yield block

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        assert await s3_installer_store.put(PKG, generated()) == total
        put_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        blob = await s3_installer_store.open(PKG)
        assert blob is not None
        received = 0
        async for chunk in blob.chunks:
            received += len(chunk)
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert received == total
    # A part and its copy while it is cut, never the 48 MiB installer.
    assert put_peak < 2.5 * PART_SIZE
    assert read_peak < PART_SIZE / 2


@pytest.mark.parametrize("size", [0, 1, PART_SIZE - 1, PART_SIZE, 2 * PART_SIZE])
async def test_s3_installers_of_part_boundary_sizes_read_back_exactly(
        s3_installer_store: S3InstallerStore, size: int) -> None:
    data = os.urandom(size)
    source = (data[i:i + 300_000] for i in range(0, size, 300_000))
    assert await s3_installer_store.put(PKG, chunks_of(*source)) == size
    assert await s3_installer_store.size(PKG) == size
    assert await read(s3_installer_store, PKG) == data
