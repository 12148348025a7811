"""InstallerStore in process memory, for tests and demo mode."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from fleet_adapters.installers import installer_name
from fleet_core.model.installers import InstallerBlob, InstallerKey


class InMemoryInstallerStore:
    def __init__(self) -> None:
        # By the same name the filesystem store uses, so no secret is kept in the clear here either.
        self._blobs: dict[str, bytes] = {}

    async def size(self, key: InstallerKey) -> int | None:
        blob = self._blobs.get(installer_name(key))
        return None if blob is None else len(blob)

    async def open(self, key: InstallerKey) -> InstallerBlob | None:
        blob = self._blobs.get(installer_name(key))
        return None if blob is None else InstallerBlob(size=len(blob), chunks=_chunks(blob))

    async def put(self, key: InstallerKey, chunks: AsyncIterable[bytes]) -> int:
        blob = b"".join([chunk async for chunk in chunks])
        self._blobs[installer_name(key)] = blob
        return len(blob)


async def _chunks(blob: bytes) -> AsyncIterator[bytes]:
    yield blob
