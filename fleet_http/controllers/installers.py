"""Downloadable installers (Fleet Sandbox's UI): HEAD asks whether one exists (session token in
the Authorization header), POST downloads it (the token as form field `token`, since a browser
form cannot set headers). See docs/installers.md."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, head, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Stream

from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed, BadRequest
from fleet_core.services.auth import AuthService
from fleet_core.services.installers import InstallerService, installer_key
from fleet_http.deps import FORM_MEDIA_TYPES

# The form is three short fields; anything longer is not a download request.
MAX_FORM_BYTES = 64 * 1024


class DownloadInstallerForm(msgspec.Struct, kw_only=True):
    """The form Fleet's UI posts: the session token (a form cannot set headers) and the installer."""

    token: str = ""
    enroll_secret: str = ""
    desktop: str = ""


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("", "0", "false", "f", "no"):
        return False
    if lowered in ("1", "true", "t", "yes"):
        return True
    raise BadRequest("must be true or false", name=name)


class InstallerController(Controller):
    path = "/download_installer"
    tags = ["Downloadable installers"]

    # A text type renders the empty answer as no bytes (JSON would be "null", 4 bytes long).
    @head("/{kind:str}", status_code=200, media_type="text/plain")
    async def check_installer(self, kind: FromPath[str], viewer: NamedDependency[Viewer],
                              installers: NamedDependency[InstallerService],
                              enroll_secret: FromQuery[str] = "", desktop: FromQuery[bool] = False) -> None:
        await installers.check(viewer, installer_key(kind, enroll_secret, desktop))

    @post("/{kind:str}", status_code=200, request_max_body_size=MAX_FORM_BYTES)
    async def download_installer(
        self, request: Request[Any, Any, Any], kind: FromPath[str],
        data: Annotated[DownloadInstallerForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        auth: NamedDependency[AuthService], installers: NamedDependency[InstallerService],
    ) -> Stream:
        if request.content_type[0] not in FORM_MEDIA_TYPES:
            raise BadRequest("expected a form (application/x-www-form-urlencoded)")
        if not data.token:
            raise AuthFailed("Authentication required")
        viewer = await auth.authenticate(data.token)
        request.scope["state"]["user_id"] = viewer.user.id
        key = installer_key(kind, data.enroll_secret, _flag(data.desktop, "desktop"))
        blob = await installers.download(viewer, key)
        return Stream(blob.chunks, media_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{key.file_name}"',
            "Content-Length": str(blob.size),
        })
