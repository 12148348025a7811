"""The SAML adapter's IdP metadata: fetched with a timeout, a size limit and few redirects; every
signing certificate in it is trusted (a key rotation), and no other key."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleet_adapters.saml import OneLoginServiceProvider
from fleet_core.errors import AuthFailed, InvalidArgument
from fleet_core.model.sso import ServiceProvider
from tests.http.sso_test_idp import KeyPair, SigningIdP, encode

pytestmark = pytest.mark.anyio


@pytest.fixture
def stalling_url() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/metadata"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@pytest.fixture
def redirect_loop_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", self.path + "x")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/m"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_a_server_that_never_answers_is_a_clear_refusal(stalling_url: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await OneLoginServiceProvider(fetch_timeout=0.3).fetch_idp_metadata(stalling_url)
    assert refused.value.problems == (("metadata_url", "could not be fetched: ReadTimeout"),)


async def test_endless_redirects_are_refused(redirect_loop_url: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await OneLoginServiceProvider().fetch_idp_metadata(redirect_loop_url)
    assert refused.value.problems == (("metadata_url", "could not be fetched: TooManyRedirects"),)


async def test_a_document_over_the_limit_is_refused_and_one_under_it_is_fetched() -> None:
    with SigningIdP().serve() as idp:
        size = len(idp.metadata().encode())
        url = f"{idp.base_url}/metadata"
        assert await OneLoginServiceProvider(metadata_max_bytes=size).fetch_idp_metadata(url) == idp.metadata()
        with pytest.raises(InvalidArgument, match="more than"):
            await OneLoginServiceProvider(metadata_max_bytes=size - 1).fetch_idp_metadata(url)


@pytest.mark.parametrize("url", ["ftp://idp.example.com/metadata", "file:///etc/passwd", "metadata.xml"])
async def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(InvalidArgument, match="http or https"):
        await OneLoginServiceProvider().fetch_idp_metadata(url)


def test_every_signing_certificate_of_the_metadata_is_trusted() -> None:
    idp = SigningIdP(base_url="http://127.0.0.1:1")
    second = KeyPair.make("next")
    two_keys = idp.metadata().replace("</md:KeyDescriptor>", "</md:KeyDescriptor>" + (
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>'
        f"<ds:X509Certificate>{second.cert_base64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"), 1)
    provider = OneLoginServiceProvider()
    parsed = provider.parse_idp_metadata(two_keys)
    assert parsed.signing_certificates == (idp.keys.cert_base64, second.cert_base64)
    assert (parsed.entity_id, parsed.sso_url) == (idp.entity_id, "http://127.0.0.1:1/sso")
    # During a key rotation the IdP may sign with either key.
    sp = ServiceProvider(entity_id="https://fleet.example.com/saml", acs_url="https://fleet.example.com/acs")
    for keys in (idp.keys, second):
        response = encode(idp.response(acs_url=sp.acs_url, audience=sp.entity_id, keys=keys))
        assert provider.verify_response(sp, parsed, response, request_id=None).name_id == idp.user_email
    with pytest.raises(AuthFailed):
        provider.verify_response(sp, parsed, encode(idp.response(
            acs_url=sp.acs_url, audience=sp.entity_id, keys=KeyPair.make("third"))), request_id=None)
