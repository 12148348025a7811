"""The SAML protocol through python3-saml (OneLogin's toolkit, over the xmlsec bindings).

The toolkit does the XML work that must not be hand-written: parsing with DTDs and entities
forbidden, XML signature verification against the IdP's certificates, reading claims only from
the element the signature covers (no signature wrapping), the schema check, and the checks of
status, issuer, audience, destination, recipient, InResponseTo and time windows. This module only
maps the core's values to its settings and its errors to AuthFailed / InvalidArgument.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any, Final
from urllib.parse import urlencode, urlparse

import httpx
import structlog
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from fleet_core.errors import AuthFailed, InvalidArgument
from fleet_core.model.sso import AuthnRequest, IdentityProvider, ServiceProvider, VerifiedAssertion

log = structlog.get_logger(__name__)

# IdP metadata is a few kilobytes (a large federation file is not an IdP's own metadata).
METADATA_MAX_BYTES: Final = 1024 * 1024
METADATA_FETCH_TIMEOUT_SECONDS: Final = 10.0
# A SAML response with one assertion is a few kilobytes; anything far larger is not one.
RESPONSE_MAX_CHARS: Final = 512 * 1024


class OneLoginServiceProvider:
    def __init__(self, *, fetch_timeout: float = METADATA_FETCH_TIMEOUT_SECONDS,
                 metadata_max_bytes: int = METADATA_MAX_BYTES) -> None:
        self._fetch_timeout = fetch_timeout
        self._metadata_max_bytes = metadata_max_bytes

    def parse_idp_metadata(self, xml: str) -> IdentityProvider:
        if len(xml.encode()) > self._metadata_max_bytes:
            raise InvalidArgument(("metadata", "is too large for IdP metadata"))
        try:
            parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
        except Exception as exc:  # the toolkit raises lxml's, ValueError and its own errors alike
            raise InvalidArgument(("metadata", f"is not valid SAML IdP metadata: {_reason(exc)}")) from None
        idp = parsed.get("idp", {})
        if not idp.get("entityId"):
            raise InvalidArgument(("metadata", "has no EntityDescriptor with an IDPSSODescriptor"))
        sso_url = idp.get("singleSignOnService", {}).get("url")
        if not sso_url:
            raise InvalidArgument(("metadata", "has no SingleSignOnService with the HTTP-Redirect binding"))
        certificates = [idp["x509cert"]] if "x509cert" in idp else idp.get("x509certMulti", {}).get("signing", [])
        if not certificates:
            raise InvalidArgument(("metadata", "has no signing certificate"))
        return IdentityProvider(entity_id=idp["entityId"], sso_url=sso_url, signing_certificates=tuple(certificates))

    async def fetch_idp_metadata(self, url: str) -> str:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidArgument(("metadata_url", "must be an http or https URL"))
        try:
            async with httpx.AsyncClient(timeout=self._fetch_timeout, follow_redirects=True,
                                         max_redirects=3) as client, client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise InvalidArgument(("metadata_url", f"answered HTTP {response.status_code}"))
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > self._metadata_max_bytes:
                        raise InvalidArgument(
                            ("metadata_url", f"answered more than {self._metadata_max_bytes} bytes"))
        except httpx.HTTPError as exc:
            raise InvalidArgument(("metadata_url", f"could not be fetched: {type(exc).__name__}")) from None
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgument(("metadata_url", "answered something that is not UTF-8 text")) from None

    def authn_request(self, sp: ServiceProvider, idp: IdentityProvider, relay_state: str) -> AuthnRequest:
        request = OneLogin_Saml2_Authn_Request(_settings(sp, idp))
        query = {"SAMLRequest": request.get_request()}
        if relay_state:
            query["RelayState"] = relay_state
        separator = "&" if "?" in idp.sso_url else "?"
        return AuthnRequest(id=request.get_id(), url=idp.sso_url + separator + urlencode(query))

    def claimed_request_id(self, saml_response: str) -> str | None:
        try:
            root = OneLogin_Saml2_XML.to_etree(base64.b64decode(saml_response, validate=False))
        except Exception:  # unreadable: the verification that follows refuses it properly
            return None
        value = root.get("InResponseTo")
        return str(value) if value else None

    def verify_response(self, sp: ServiceProvider, idp: IdentityProvider, saml_response: str, *,
                        request_id: str | None) -> VerifiedAssertion:
        if not saml_response or len(saml_response) > RESPONSE_MAX_CHARS:
            raise AuthFailed("SAML response refused: missing or too large")
        try:
            base64.b64decode(saml_response, validate=True)
        except (binascii.Error, ValueError):
            raise AuthFailed("SAML response refused: not base64") from None
        try:
            response = OneLogin_Saml2_Response(_settings(sp, idp), saml_response)
        except Exception as exc:
            raise AuthFailed(f"SAML response refused: {_reason(exc)}") from None
        if not response.is_valid(_request_data(sp.acs_url), request_id):
            raise AuthFailed(f"SAML response refused: {response.get_error()}")
        try:
            name_id = response.get_nameid()
            assertion_id = response.get_assertion_id()
        except Exception as exc:
            raise AuthFailed(f"SAML response refused: {_reason(exc)}") from None
        if not name_id or not assertion_id:
            raise AuthFailed("SAML response refused: the assertion has no NameID or no ID")
        in_response_to = response.get_in_response_to() or None
        # The response's InResponseTo is outside the assertion's signature when only the assertion
        # is signed; the assertion's own (signed) answer must agree with it, so an assertion issued
        # for one of this server's requests cannot be passed off as IdP-initiated, or vice versa.
        # (_query_assertion reads the signed assertion: the toolkit's own guard against wrapping.)
        answered = {node.get("InResponseTo") for node in response._query_assertion(
            "/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData")} - {None, ""}
        if answered and answered != {in_response_to}:
            raise AuthFailed("SAML response refused: its assertion answers another request")
        until = response.get_assertion_not_on_or_after()
        return VerifiedAssertion(
            assertion_id=str(assertion_id),
            in_response_to=in_response_to,
            name_id=str(name_id),
            attributes={str(k): tuple(str(v) for v in values if v is not None)
                        for k, values in response.get_attributes().items()},
            not_on_or_after=None if until is None else dt.datetime.fromtimestamp(until, dt.UTC),
        )

    def sp_metadata(self, sp: ServiceProvider) -> str:
        xml = OneLogin_Saml2_Metadata.builder(_sp_data(sp), authnsign=False, wsign=False)
        return xml.decode() if isinstance(xml, bytes) else str(xml)


def _sp_data(sp: ServiceProvider) -> dict[str, Any]:
    return {
        "entityId": sp.entity_id,
        "assertionConsumerService": {"url": sp.acs_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST},
        "NameIDFormat": OneLogin_Saml2_Constants.NAMEID_UNSPECIFIED,
    }


def _settings(sp: ServiceProvider, idp: IdentityProvider) -> OneLogin_Saml2_Settings:
    return OneLogin_Saml2_Settings({
        # Strict: every check of the response runs (destination, audience, recipient, times...).
        "strict": True,
        "debug": False,
        "sp": _sp_data(sp),
        "idp": {
            "entityId": idp.entity_id,
            "singleSignOnService": {"url": idp.sso_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT},
            "x509certMulti": {"signing": list(idp.signing_certificates)},
        },
        "security": {
            # A response or its assertion must be signed (the toolkit refuses neither); an IdP
            # that sends no attributes still identifies the user by NameID.
            "wantAttributeStatement": False,
            "wantNameId": True,
            "rejectDeprecatedAlgorithm": True,
            # Asking for a password context would make IdPs that log in with MFA or passkeys fail.
            "requestedAuthnContext": False,
        },
    }, sp_validation_only=True)


def _request_data(acs_url: str) -> dict[str, Any]:
    # The destination and recipient are checked against the configured ACS URL, not the Host
    # header of the request (which a proxy may rewrite and a client may choose).
    parsed = urlparse(acs_url)
    return {"https": "on" if parsed.scheme == "https" else "off", "http_host": parsed.netloc,
            "script_name": parsed.path, "get_data": {}, "post_data": {}}


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
