"""InstallerStore on the filesystem (fleet_core.ports.InstallerStore): by default the directory
<data dir>/installers of `fleet serve`, filled by `fleet installers put`.

An installer lives at <root>/<sha256 of the enroll secret>/fleet-osquery[-desktop].<kind>, so the
directory names no secret. Writes go to a temporary file renamed over the old one: a download in
progress keeps reading the file it opened, and no reader ever sees half an installer.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread

from fleet_core.errors import Unavailable
from fleet_core.model.installers import InstallerBlob, InstallerKey

CHUNK_BYTES: Final = 256 * 1024


def installer_name(key: InstallerKey) -> str:
    """The path of an installer under the store's root, the same in every store (an S3 object
    key too): a digest of the enroll secret, then the file name Fleet gives the package."""
    secret_digest = hashlib.sha256(key.enroll_secret.encode()).hexdigest()
    return f"{secret_digest}/{key.file_name}"


class FilesystemInstallerStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: InstallerKey) -> Path:
        return self._root / installer_name(key)

    async def size(self, key: InstallerKey) -> int | None:
        try:
            return (await anyio.Path(self._path(key)).stat()).st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise Unavailable(f"installer store unavailable: {exc.strerror}") from exc

    async def open(self, key: InstallerKey) -> InstallerBlob | None:
        try:
            file = await anyio.open_file(self._path(key), "rb")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise Unavailable(f"installer store unavailable: {exc.strerror}") from exc
        # The size of the file just opened, not of the path (a put may rename another over it).
        size = (await anyio.to_thread.run_sync(os.fstat, file.wrapped.fileno())).st_size
        return InstallerBlob(size=size, chunks=_read(file))

    async def put(self, key: InstallerKey, chunks: AsyncIterable[bytes]) -> int:
        path = self._path(key)
        try:
            await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
            fd, temporary = await anyio.to_thread.run_sync(
                lambda: tempfile.mkstemp(dir=path.parent, prefix=".upload-"))
        except OSError as exc:
            raise Unavailable(f"installer store unavailable: {exc.strerror}") from exc
        size = 0
        try:
            async with await anyio.open_file(fd, "wb", closefd=True) as out:
                async for chunk in chunks:
                    await out.write(chunk)
                    size += len(chunk)
                await anyio.to_thread.run_sync(os.fsync, fd)
            await anyio.to_thread.run_sync(os.replace, temporary, path)
        except BaseException as exc:
            await anyio.Path(temporary).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise Unavailable(f"installer store unavailable: {exc.strerror}") from exc
            raise
        return size


async def _read(file: anyio.AsyncFile[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await file.read(CHUNK_BYTES):
            yield chunk
    finally:
        await file.aclose()
