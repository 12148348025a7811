"""Pre-built fleetd installers (POST /download_installer/{kind})."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs

INSTALLER_KINDS = ("pkg", "msi", "deb", "rpm")


@attrs.frozen
class InstallerKey:
    """What names an installer: the enroll secret baked into it, its package kind (one of
    INSTALLER_KINDS) and whether it includes Fleet Desktop."""

    enroll_secret: str = attrs.field(repr=False)
    kind: str
    desktop: bool = False

    @property
    def file_name(self) -> str:
        """The name Fleet gives the package (fleet-osquery.pkg, fleet-osquery-desktop.msi, ...)."""
        return f"fleet-osquery{'-desktop' if self.desktop else ''}.{self.kind}"


@attrs.frozen
class InstallerBlob:
    """An installer being read: its size in bytes and its content, which must be iterated at most
    once (the iterator releases what the store opened when it ends or is closed)."""

    size: int
    chunks: AsyncIterator[bytes]
