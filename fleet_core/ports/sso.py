"""SAML single sign-on: the protocol (an adapter turns XML into verified claims) and the short-lived
state a login needs across server processes (requests in flight, assertions already used)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from fleet_core.model.sso import AuthnRequest, IdentityProvider, ServiceProvider, VerifiedAssertion


class SAMLServiceProvider(Protocol):
    def parse_idp_metadata(self, xml: str) -> IdentityProvider:
        """The IdP an IdP metadata document describes. Raises InvalidArgument (field
        ``metadata``) unless it parses as SAML metadata with an IDPSSODescriptor, an
        HTTP-Redirect SingleSignOnService and at least one signing certificate."""
        ...

    async def fetch_idp_metadata(self, url: str) -> str:
        """The document at ``url`` (http or https), fetched with a timeout and a size limit.
        Raises InvalidArgument (field ``metadata_url``) when it cannot be fetched, answers
        anything but 200, or is too large."""
        ...

    def authn_request(self, sp: ServiceProvider, idp: IdentityProvider, relay_state: str) -> AuthnRequest:
        """A fresh AuthnRequest (a new unguessable ID each call) for the HTTP-Redirect binding."""
        ...

    def claimed_request_id(self, saml_response: str) -> str | None:
        """The InResponseTo of a base64 SAMLResponse as it claims it, before any check (None when
        absent or unreadable); only for finding the request it answers, never for trusting."""
        ...

    def verify_response(self, sp: ServiceProvider, idp: IdentityProvider, saml_response: str, *,
                        request_id: str | None) -> VerifiedAssertion:
        """Check a base64 SAMLResponse and return the claims of its one assertion.

        Refused with AuthFailed: not signed by a key of ``idp`` (response or assertion), claims
        read from an element other than the signed one, a status other than success, an issuer
        other than ``idp``, an audience other than ``sp``, a destination or recipient other than
        ``sp``'s ACS URL, outside its NotBefore/NotOnOrAfter window (a few minutes of clock skew
        allowed), an InResponseTo other than ``request_id`` (when given), or no NameID.
        """
        ...

    def sp_metadata(self, sp: ServiceProvider) -> str:
        """This server's SP metadata XML (entity ID, ACS URL with the HTTP-POST binding)."""
        ...


class SSOStateStore(Protocol):
    """State shared by every server process, kept only as long as a login can take."""

    async def add_request(self, request_id: str, relay_url: str, *, ttl: dt.timedelta) -> None:
        """Remember an AuthnRequest in flight and where its login returns to, for ``ttl``."""
        ...

    async def pending_request(self, request_id: str) -> str | None:
        """The relay URL of a request still in flight (neither expired nor taken), or None."""
        ...

    async def take_request(self, request_id: str) -> str | None:
        """Remove a request in flight and return its relay URL; None if it expired or was
        already taken. Of concurrent takers of one request exactly one gets it."""
        ...

    async def use_assertion(self, assertion_id: str, *, ttl: dt.timedelta) -> bool:
        """Record that an assertion was used; True the first time, False while a use of the same
        ID is remembered (``ttl`` from the first use). Of concurrent callers exactly one wins."""
        ...

    async def put_metadata(self, url: str, xml: str) -> None:
        """Keep the IdP metadata last fetched from ``url`` (replacing what was kept)."""
        ...

    async def metadata(self, url: str) -> str | None:
        """The IdP metadata kept for ``url``, or None."""
        ...
