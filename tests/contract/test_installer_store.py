"""The InstallerStore contract, over the filesystem store and the in-memory one."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from fleet_adapters.installers import FilesystemInstallerStore, installer_name
from fleet_adapters.memory.installers import InMemoryInstallerStore
from fleet_core.errors import Unavailable
from fleet_core.model.installers import InstallerKey
from fleet_core.ports import InstallerStore

pytestmark = pytest.mark.anyio

PKG = InstallerKey(enroll_secret="s3cret", kind="pkg")


@pytest.fixture(params=["filesystem", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> InstallerStore:
    if request.param == "memory":
        return InMemoryInstallerStore()
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
