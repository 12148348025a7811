"""Pre-built fleetd installers offered by POST /download_installer/{kind}."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Protocol

from fleet_core.model.installers import InstallerBlob, InstallerKey


class InstallerStore(Protocol):
    """Where installers live (a directory, an S3-compatible bucket, ...). Implementations must
    not use the enroll secret itself as a name anyone can list: they name an installer by a
    digest of it."""

    async def size(self, key: InstallerKey) -> int | None:
        """The installer's size in bytes, or None if there is none under this key. Raises
        Unavailable if the store cannot be reached."""
        ...

    async def open(self, key: InstallerKey) -> InstallerBlob | None:
        """The installer under this key, ready to stream, or None if there is none. A put while
        it streams does not mix two installers into one download. Raises Unavailable if the
        store cannot be reached."""
        ...

    async def put(self, key: InstallerKey, chunks: AsyncIterable[bytes]) -> int:
        """Store these bytes as the installer under this key, replacing any previous one
        atomically (readers see the old one or the new one, never part of one); return the size
        stored. Raises Unavailable if the store cannot be written."""
        ...
