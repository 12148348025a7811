"""SAML single sign-on: the identity provider as its metadata describes it, this server as a
service provider, and what a verified assertion tells about the person logging in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from fleet_core.model.users import User


@attrs.frozen
class IdentityProvider:
    """What the IdP's metadata says: who it is, where browsers go to log in, which keys sign."""

    entity_id: str
    sso_url: str
    # Base64 DER certificates (as in the metadata) whose keys may sign responses and assertions.
    signing_certificates: tuple[str, ...]


@attrs.frozen
class ServiceProvider:
    """This server as the IdP must know it."""

    entity_id: str
    # The assertion consumer service: where the IdP posts its response (POST /sso/callback).
    acs_url: str


@attrs.frozen
class AuthnRequest:
    """An SP-initiated login: the request's ID and the IdP URL (HTTP-Redirect binding) to open."""

    id: str
    url: str


@attrs.frozen
class VerifiedAssertion:
    """The claims of a response whose signature, issuer, audience, destination and time window
    the adapter has checked; nothing here comes from an unsigned part of the XML."""

    assertion_id: str
    # The AuthnRequest this answers; None for an IdP-initiated login.
    in_response_to: str | None
    name_id: str
    attributes: Mapping[str, tuple[str, ...]]
    # Until when the assertion is acceptable; a replay must be refused at least that long.
    not_on_or_after: dt.datetime | None = None


@attrs.frozen
class SSOLogin:
    """A finished SSO login: the session token, its user, and where the browser goes next."""

    user: User
    token: str
    relay_url: str
    created_user: bool
