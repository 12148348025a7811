"""Downloadable installers (HEAD and POST /download_installer/{kind}): pre-built fleetd packages,
placed in the InstallerStore by operators (`fleet installers put`), offered to the users who may
read the enroll secrets baked into them."""

from __future__ import annotations

from collections.abc import AsyncIterable

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import BadRequest, Unavailable
from fleet_core.model.installers import INSTALLER_KINDS, InstallerBlob, InstallerKey
from fleet_core.ports import InstallerStore

log = structlog.get_logger(__name__)

NO_INSTALLER = "installer doesn't exist"


def installer_key(kind: str, enroll_secret: str, desktop: bool) -> InstallerKey:
    """The key of a request.

    Raises:
        BadRequest: an unknown kind, or no enroll secret (Fleet answers every request for an
            installer it cannot offer with a 400).
    """
    if kind not in INSTALLER_KINDS:
        raise BadRequest(f"must be one of {', '.join(INSTALLER_KINDS)}", name="kind")
    if not enroll_secret:
        raise BadRequest("is required", name="enroll_secret")
    return InstallerKey(enroll_secret=enroll_secret, kind=kind, desktop=desktop)


@attrs.frozen
class InstallerService:
    store: InstallerStore

    async def check(self, viewer: Viewer, key: InstallerKey) -> int:
        """The installer's size (HEAD).

        Raises:
            PermissionDenied: the viewer may not read enroll secrets (Fleet: global admins and
                maintainers, as the key is the global enroll secret).
            BadRequest: there is no such installer.
        """
        authorize(viewer, Action.READ_ENROLL_SECRETS)
        size = await self.store.size(key)
        if size is None:
            raise BadRequest(NO_INSTALLER)
        return size

    async def download(self, viewer: Viewer, key: InstallerKey) -> InstallerBlob:
        """The installer, ready to stream (POST). Raises as check() does."""
        authorize(viewer, Action.READ_ENROLL_SECRETS)
        blob = await self.store.open(key)
        if blob is None:
            raise BadRequest(NO_INSTALLER)
        log.info("installer_downloaded", user_id=viewer.user.id, kind=key.kind, desktop=key.desktop, size=blob.size)
        return blob

    async def put(self, key: InstallerKey, chunks: AsyncIterable[bytes]) -> int:
        """Place an installer (the operator's command line; no user involved)."""
        size = await self.store.put(key, chunks)
        log.info("installer_stored", kind=key.kind, desktop=key.desktop, size=size)
        return size


class NoInstallerStore:
    """The store of a server assembled without one: it offers no installer and takes none."""

    async def size(self, key: InstallerKey) -> int | None:
        return None

    async def open(self, key: InstallerKey) -> InstallerBlob | None:
        return None

    async def put(self, key: InstallerKey, chunks: AsyncIterable[bytes]) -> int:
        raise Unavailable("no installer store is configured")
