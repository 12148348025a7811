"""A SAML identity provider for the tests: a key pair and certificate made here, responses and
assertions signed with python3-saml (the toolkit the server verifies with), served over HTTP.

`SigningIdP.serve()` starts it on 127.0.0.1: GET /metadata answers its IdP metadata, and GET /sso
takes an HTTP-Redirect AuthnRequest (as POST /sso hands out) and answers the auto-posting form an
IdP sends the browser back with. `response(...)` builds any response a test wants, well formed or
crafted, so the refusal table can tamper with what a real IdP would send.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import html
import re
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}


@attrs.frozen
class KeyPair:
    key_pem: str
    cert_pem: str

    @property
    def cert_base64(self) -> str:
        return "".join(line for line in self.cert_pem.splitlines() if "CERTIFICATE" not in line)

    @staticmethod
    def make(common_name: str = "test-idp") -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
        return KeyPair(
            key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode(),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        )


def _instant(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign(xml: str, keys: KeyPair) -> str:
    signed = OneLogin_Saml2_Utils.add_sign(xml, keys.key_pem, keys.cert_pem)
    return signed.decode() if isinstance(signed, bytes) else str(signed)


def encode(xml: str) -> str:
    """The base64 form a SAMLResponse travels in."""
    return base64.b64encode(xml.encode()).decode()


@attrs.define
class SigningIdP:
    entity_id: str = "https://idp.test/metadata"
    keys: KeyPair = attrs.field(factory=KeyPair.make)
    base_url: str = ""
    # Who the IdP logs in when a browser arrives at /sso, with the attributes it asserts.
    user_email: str = "sam@example.com"
    user_attributes: dict[str, list[str]] = attrs.field(factory=lambda: {"name": ["Sam Single"]})
    # How often GET /metadata was answered (the refresh job's test counts fetches).
    metadata_fetches: int = 0
    # When set, GET /metadata answers this instead of the metadata (a failed fetch, a huge one).
    metadata_override: tuple[int, bytes] | None = None

    def metadata(self, *, sso_url: str | None = None, cert_base64: str | None = None) -> str:
        location = html.escape(sso_url or f"{self.base_url}/sso", quote=True)
        return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{self.entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
        <ds:X509Certificate>{cert_base64 or self.keys.cert_base64}</ds:X509Certificate>
      </ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{location}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""

    def assertion(self, *, acs_url: str, audience: str, email: str, in_response_to: str | None,
                  attributes: Mapping[str, list[str]] | None = None, issued: dt.datetime | None = None,
                  lifetime: dt.timedelta = dt.timedelta(minutes=5), assertion_id: str | None = None) -> str:
        issued = issued or dt.datetime.now(dt.UTC)
        until = issued + lifetime
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        attrs_xml = "".join(
            f'<saml:Attribute Name="{html.escape(k, quote=True)}">'
            + "".join(f"<saml:AttributeValue>{html.escape(v)}</saml:AttributeValue>" for v in values)
            + "</saml:Attribute>"
            for k, values in (attributes if attributes is not None else self.user_attributes).items())
        return f"""<saml:Assertion xmlns:saml="{SAML}" ID="{assertion_id or '_a' + uuid.uuid4().hex}" Version="2.0" IssueInstant="{_instant(issued)}"><saml:Issuer>{self.entity_id}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{html.escape(email)}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{_instant(until)}" Recipient="{acs_url}"{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{_instant(issued - dt.timedelta(seconds=30))}" NotOnOrAfter="{_instant(until)}"><saml:AudienceRestriction><saml:Audience>{html.escape(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{_instant(issued)}" SessionIndex="_s{uuid.uuid4().hex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>{f'<saml:AttributeStatement>{attrs_xml}</saml:AttributeStatement>' if attrs_xml else ''}</saml:Assertion>"""  # noqa: E501

    def response(self, *, acs_url: str, audience: str, email: str | None = None, in_response_to: str | None = None,
                 sign: str = "assertion", keys: KeyPair | None = None, destination: str | None = None,
                 **assertion_options: object) -> str:
        """A SAML response XML; ``sign`` is "assertion", "response", "both" or "none"."""
        keys = keys or self.keys
        assertion = self.assertion(acs_url=acs_url, audience=audience, email=email or self.user_email,
                                   in_response_to=in_response_to, **assertion_options)  # type: ignore[arg-type]
        if sign in ("assertion", "both"):
            assertion = re.sub(r"^<\?xml[^>]*\?>\s*", "", _sign(assertion, keys))
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        response = (f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_r{uuid.uuid4().hex}" '
                    f'Version="2.0" IssueInstant="{_instant(dt.datetime.now(dt.UTC))}" '
                    f'Destination="{destination or acs_url}"{irt}><saml:Issuer>{self.entity_id}</saml:Issuer>'
                    f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
                    f"</samlp:Status>{assertion}</samlp:Response>")
        if sign in ("response", "both"):
            response = _sign(response, keys)
        return response

    def login(self, authn_request_url: str) -> tuple[str, str]:
        """What the IdP does when a browser arrives with an AuthnRequest: the ACS URL to post to
        and the signed SAMLResponse (base64) for the configured user."""
        query = parse_qs(urlparse(authn_request_url).query)
        request = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15))
        issuer = request.findtext("saml:Issuer", namespaces=NS)
        acs_url = request.get("AssertionConsumerServiceURL")
        assert issuer and acs_url, "the AuthnRequest names its issuer and where to answer"
        return acs_url, encode(self.response(acs_url=acs_url, audience=issuer, in_response_to=request.get("ID")))

    @contextlib.contextmanager
    def serve(self) -> Iterator[SigningIdP]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlparse(self.path).path
                if path == "/metadata":
                    idp.metadata_fetches += 1
                    status, body = idp.metadata_override or (200, idp.metadata().encode())
                    self._answer(status, body, "application/samlmetadata+xml")
                elif path == "/sso":
                    acs_url, saml_response = idp.login(self.path)
                    form = (f'<html><body onload="document.forms[0].submit()"><form method="post" '
                            f'action="{html.escape(acs_url, quote=True)}"><input type="hidden" name="SAMLResponse" '
                            f'value="{saml_response}"/></form></body></html>')
                    self._answer(200, form.encode(), "text/html")
                else:
                    self._answer(404, b"not found", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def wrap_signed_assertion(signed_response_xml: str, *, forged_email: str) -> str:
    """XML signature wrapping: a forged assertion (new ID, another user) that carries the genuine
    signed assertion inside it, so the signature still verifies on the element it references."""
    root = etree.fromstring(signed_response_xml.encode())
    original = root.find("saml:Assertion", NS)
    forged = copy.deepcopy(original)
    forged.set("ID", "_forged" + uuid.uuid4().hex)
    forged.remove(forged.find("ds:Signature", NS))
    forged.find("saml:Subject/saml:NameID", NS).text = forged_email
    root.replace(original, forged)
    forged.find("saml:Subject", NS).append(original)
    return etree.tostring(root).decode()


def move_signature_to_response(signed_response_xml: str, *, forged_email: str) -> str:
    """The assertion's signature moved onto the response (still referencing the assertion), and the
    now unsigned assertion edited to name another user."""
    root = etree.fromstring(signed_response_xml.encode())
    assertion = root.find("saml:Assertion", NS)
    signature = assertion.find("ds:Signature", NS)
    assertion.remove(signature)
    root.insert(1, signature)
    assertion.find("saml:Subject/saml:NameID", NS).text = forged_email
    return etree.tostring(root).decode()


def tamper_attribute(signed_response_xml: str, name: str, value: str) -> str:
    """Change an attribute's value after signing (the signature no longer matches)."""
    root = etree.fromstring(signed_response_xml.encode())
    for attribute in root.iter(f"{{{SAML}}}Attribute"):
        if attribute.get("Name") == name:
            attribute.find("saml:AttributeValue", NS).text = value
    return etree.tostring(root).decode()
