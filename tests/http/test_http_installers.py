"""HEAD and POST /download_installer/{kind}: whether an installer exists (session token header),
and its download (token as a form field), on both API prefixes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from fleet_core.model.installers import InstallerKey
from tests.http.support import assert_error

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

PREFIXES = ["/api/v1/fleet", "/api/latest/fleet"]
SECRET = "global-enroll-secret"
BLOB = os.urandom(300 * 1024)


async def put(fleet: Fleet, key: InstallerKey, data: bytes) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await fleet.kit.services.installers.put(key, chunks())


def form(token: str, **fields: str) -> dict[str, str]:
    return {"token": token, "enroll_secret": SECRET, **fields}


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_a_stored_installer_is_found_and_downloaded_whole(fleet: Fleet, prefix: str) -> None:
    await put(fleet, InstallerKey(enroll_secret=SECRET, kind="pkg"), BLOB)
    await put(fleet, InstallerKey(enroll_secret=SECRET, kind="pkg", desktop=True), b"with desktop")
    assert fleet.admin is not None

    found = await fleet.client.head(f"{prefix}/download_installer/pkg", params={"enroll_secret": SECRET},
                                    headers=fleet.as_admin)
    assert found.status_code == 200, found.text
    assert found.content == b""
    assert found.headers["content-length"] == "0"

    response = await fleet.client.post(f"{prefix}/download_installer/pkg", data=form(fleet.admin.token))
    assert response.status_code == 200, response.text
    assert response.content == BLOB
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(len(BLOB))
    assert response.headers["content-disposition"] == 'attachment; filename="fleet-osquery.pkg"'

    desktop = await fleet.client.post(f"{prefix}/download_installer/pkg", data=form(fleet.admin.token, desktop="true"))
    assert (desktop.status_code, desktop.content) == (200, b"with desktop")
    assert desktop.headers["content-disposition"] == 'attachment; filename="fleet-osquery-desktop.pkg"'
    head_desktop = await fleet.client.head(f"{prefix}/download_installer/pkg", headers=fleet.as_admin,
                                           params={"enroll_secret": SECRET, "desktop": "true"})
    assert head_desktop.status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_an_absent_installer_is_a_400(fleet: Fleet, prefix: str) -> None:
    await put(fleet, InstallerKey(enroll_secret=SECRET, kind="pkg"), b"pkg")
    assert fleet.admin is not None
    for kind, fields in (("msi", {}), ("pkg", {"desktop": "true"}), ("pkg", {"enroll_secret": "another"})):
        params = {"enroll_secret": SECRET, **fields}
        head = await fleet.client.head(f"{prefix}/download_installer/{kind}", params=params, headers=fleet.as_admin)
        assert head.status_code == 400
        assert_error(await fleet.client.post(f"{prefix}/download_installer/{kind}",
                                             data=form(fleet.admin.token, **fields)), 400)


async def test_a_bad_kind_or_flag_or_a_missing_secret_is_a_400_naming_the_field(fleet: Fleet) -> None:
    assert fleet.admin is not None
    url = "/api/v1/fleet/download_installer"
    assert_error(await fleet.client.post(f"{url}/exe", data=form(fleet.admin.token)), 400, "kind")
    assert_error(await fleet.client.post(f"{url}/pkg", data=form(fleet.admin.token, desktop="maybe")), 400, "desktop")
    assert_error(await fleet.client.post(f"{url}/pkg", data={"token": fleet.admin.token}), 400, "enroll_secret")
    assert_error(await fleet.client.post(f"{url}/pkg", json=form(fleet.admin.token)), 400)
    head = await fleet.client.head(f"{url}/exe", params={"enroll_secret": SECRET}, headers=fleet.as_admin)
    assert head.status_code == 400


async def test_without_a_valid_token_it_is_a_401(fleet: Fleet) -> None:
    await put(fleet, InstallerKey(enroll_secret=SECRET, kind="deb"), b"deb")
    url = "/api/v1/fleet/download_installer/deb"
    assert_error(await fleet.client.post(url, data={"enroll_secret": SECRET}), 401)
    assert_error(await fleet.client.post(url, data=form("not-a-session")), 401)
    # The header does not stand in for the form field, which is how Fleet's UI sends it.
    assert_error(await fleet.client.post(url, data={"enroll_secret": SECRET}, headers=fleet.as_admin), 401)
    assert (await fleet.client.head(url, params={"enroll_secret": SECRET})).status_code == 401
    head = await fleet.client.head(url, params={"enroll_secret": SECRET},
                                   headers={"Authorization": "Bearer not-a-session"})
    assert head.status_code == 401


async def test_only_global_admins_and_maintainers_may_download(cast: Cast) -> None:
    fleet = cast.fleet
    await put(fleet, InstallerKey(enroll_secret=SECRET, kind="rpm"), b"rpm")
    url = "/api/v1/fleet/download_installer/rpm"
    for role in ("admin", "maintainer"):
        response = await fleet.client.post(url, data=form(cast[role].token))
        assert (response.status_code, response.content) == (200, b"rpm"), role
        head = await fleet.client.head(url, params={"enroll_secret": SECRET}, headers=cast[role].headers)
        assert head.status_code == 200
    for role in ("observer", "team_admin", "team_maintainer", "team_observer"):
        assert_error(await fleet.client.post(url, data=form(cast[role].token)), 403)
        head = await fleet.client.head(url, params={"enroll_secret": SECRET}, headers=cast[role].headers)
        assert head.status_code == 403, role
