"""SAML single sign-on: the public settings, starting a login, the IdP's callback, SP metadata.

The callback answers as Fleet does for a browser (the IdP posts a form): a page that stores the
session token where Fleet's UI keeps it (localStorage ``FLEET::auth_token``) and goes to the relay
URL. A JSON callback (a script) gets the token in a JSON body instead. See docs/sso.md.
"""

from __future__ import annotations

import html
import json
from typing import Any, Final

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from fleet_core.errors import BadRequest
from fleet_core.model.sso import SSOLogin
from fleet_core.services.sso import SSOService
from fleet_http.deps import FORM_MEDIA_TYPES, client_address, strict_json_body
from fleet_http.schemas.sso import (
    InitiateSSORequest,
    InitiateSSOResponse,
    SSOCallbackRequest,
    SSOCallbackResponse,
    SSOSettingsBody,
    SSOSettingsResponse,
)
from fleet_http.schemas.users import to_teams, to_user

# A SAML response with one signed assertion is a few kilobytes, base64 in a form field.
MAX_CALLBACK_BYTES: Final = 1024 * 1024
# The page must never be cached or leak its URL: it carries a session token.
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}


def _js(value: str) -> str:
    # A JSON string is a JavaScript string literal; escaping '<' keeps '</script>' out of it.
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def login_page(login: SSOLogin) -> str:
    """Fleet's relay page: keep the token where the UI reads it, then go to the relay URL."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Fleet</title></head><body>\n"
        "<script type=\"text/javascript\">\n"
        f"window.localStorage.setItem('FLEET::auth_token', {_js(login.token)});\n"
        f"window.location = {_js(login.relay_url)};\n"
        "</script>\n"
        f"<p>Redirecting to Fleet at {html.escape(login.relay_url)} ...</p>\n"
        "</body></html>\n"
    )


class SSOController(Controller):
    path = "/sso"
    tags = ["Authentication"]
    guards = [strict_json_body]

    @get("")
    async def sso_settings(self, sso: NamedDependency[SSOService]) -> SSOSettingsResponse:
        settings = await sso.settings()
        return SSOSettingsResponse(settings=SSOSettingsBody(
            idp_name=settings.idp_name, idp_image_url=settings.idp_image_url, sso_enabled=settings.enable_sso))

    @post("", status_code=200)
    async def initiate_sso(self, data: JSONBody[InitiateSSORequest],
                           sso: NamedDependency[SSOService]) -> InitiateSSOResponse:
        return InitiateSSOResponse(url=await sso.initiate(data.relay_url))

    @post("/callback", status_code=200, request_max_body_size=MAX_CALLBACK_BYTES)
    async def callback(self, request: Request[Any, Any, Any], sso: NamedDependency[SSOService]) -> Response[Any]:
        # JSON is told by its body, not its content type: `curl -d '{...}'` labels JSON as a form.
        raw = await request.body()
        if raw.lstrip().startswith(b"{"):
            try:
                saml_response = msgspec.json.decode(raw, type=SSOCallbackRequest).saml_response
            except (msgspec.ValidationError, msgspec.DecodeError):
                raise BadRequest("expected a JSON object with the string SAMLResponse", name="SAMLResponse") from None
            browser = False
        elif request.content_type[0] in FORM_MEDIA_TYPES:
            form = await request.form()
            value = form.get("SAMLResponse", "")
            saml_response = value if isinstance(value, str) else ""
            browser = True
        else:
            raise BadRequest("expected a form (application/x-www-form-urlencoded) or JSON")
        if not saml_response:
            raise BadRequest("SAMLResponse is required", name="SAMLResponse")
        login = await sso.callback(saml_response, remote_addr=client_address(request))
        request.scope["state"]["user_id"] = login.user.id
        if browser:
            return Response(login_page(login), media_type="text/html", headers=NO_STORE)
        body = SSOCallbackResponse(user=to_user(login.user), token=login.token,
                                   available_teams=to_teams(login.user.teams), relay_url=login.relay_url)
        return Response(body, headers=NO_STORE)

    @get("/metadata", media_type="application/samlmetadata+xml")
    async def sp_metadata(self, sso: NamedDependency[SSOService]) -> str:
        return await sso.sp_metadata()
