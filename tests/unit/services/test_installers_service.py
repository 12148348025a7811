"""Downloadable installers (fleet_core.services.installers): who may fetch one, and what names one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, PermissionDenied, Unavailable
from fleet_core.model.installers import INSTALLER_KINDS, InstallerKey
from fleet_core.services.installers import InstallerService, NoInstallerStore, installer_key
from tests.unit.services.support import MakeUser, create_team

pytestmark = pytest.mark.anyio


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.parametrize("kind", INSTALLER_KINDS)
def test_each_documented_kind_names_an_installer(kind: str) -> None:
    key = installer_key(kind, "secret", True)
    assert key == InstallerKey(enroll_secret="secret", kind=kind, desktop=True)
    assert key.file_name == f"fleet-osquery-desktop.{kind}"
    # The secret never shows in a repr (logs, tracebacks).
    assert "secret" not in repr(key)


@pytest.mark.parametrize(("kind", "secret", "field"), [("exe", "s", "kind"), ("PKG", "s", "kind"),
                                                        ("pkg", "", "enroll_secret")])
def test_anything_else_is_a_bad_request_naming_the_field(kind: str, secret: str, field: str) -> None:
    with pytest.raises(BadRequest) as refused:
        installer_key(kind, secret, False)
    assert refused.value.name == field


async def test_global_writers_fetch_what_was_put_and_nobody_else_does(kit: InMemoryKit, admin: Viewer,
                                                                      make_user: MakeUser) -> None:
    key = installer_key("pkg", "secret", False)
    assert await kit.services.installers.put(key, chunks(b"blob")) == 4
    maintainer = await make_user(global_role="maintainer")
    assert await kit.services.installers.check(maintainer, key) == 4
    blob = await kit.services.installers.download(admin, key)
    assert (blob.size, b"".join([c async for c in blob.chunks])) == (4, b"blob")

    team = await create_team(kit, admin, "Apples")
    for viewer in (await make_user(global_role="observer"), await make_user(teams=[(team, "admin")])):
        with pytest.raises(PermissionDenied):
            await kit.services.installers.check(viewer, key)
        with pytest.raises(PermissionDenied):
            await kit.services.installers.download(viewer, key)
    for absent in (installer_key("pkg", "secret", True), installer_key("pkg", "other", False)):
        with pytest.raises(BadRequest):
            await kit.services.installers.download(admin, absent)


async def test_a_server_without_a_store_offers_nothing_and_takes_nothing(admin: Viewer) -> None:
    service = InstallerService(store=NoInstallerStore())
    with pytest.raises(BadRequest):
        await service.check(admin, installer_key("msi", "secret", False))
    with pytest.raises(Unavailable):
        await service.put(installer_key("msi", "secret", False), chunks(b"x"))
