"""Request and response bodies of SAML single sign-on (GET/POST /sso, POST /sso/callback)."""

from __future__ import annotations

import msgspec

from fleet_http.schemas.users import UserBody, UserTeam


class SSOSettingsBody(msgspec.Struct, kw_only=True):
    idp_name: str
    idp_image_url: str
    sso_enabled: bool


class SSOSettingsResponse(msgspec.Struct, kw_only=True):
    settings: SSOSettingsBody


class InitiateSSORequest(msgspec.Struct, kw_only=True):
    relay_url: str = ""


class InitiateSSOResponse(msgspec.Struct, kw_only=True):
    # The IdP URL (an HTTP-Redirect binding AuthnRequest) to send the browser to.
    url: str


class SSOCallbackRequest(msgspec.Struct, kw_only=True, rename={"saml_response": "SAMLResponse"}):
    saml_response: str = ""


class SSOCallbackResponse(msgspec.Struct, kw_only=True):
    """A JSON callback's answer: what a password login answers, and where the browser would go."""

    user: UserBody
    token: str
    available_teams: list[UserTeam]
    relay_url: str
