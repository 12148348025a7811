"""The Mailer contract: SMTPMailer against a real SMTP server (aiosmtpd), with real TLS from a
private CA (trustme), and RecordingMailer where the contract applies to it."""

from __future__ import annotations

import base64
import email
import email.policy
import hmac
import secrets
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from fleet_adapters.mail import SMTPMailer
from fleet_adapters.memory.mail import RecordingMailer
from fleet_core.errors import InvalidArgument, NotConfigured, Unavailable
from fleet_core.model.config import SMTPSettings
from fleet_core.model.mail import Email
from fleet_core.ports import Mailer

pytestmark = pytest.mark.anyio

USER = "fleet-mailer"
PASSWORD = "s3cret-Passw0rd!"
SENDER = "fleet@example.test"
RECIPIENT = "admin@example.test"
REFUSED = "nobody@example.test"


@attrs.frozen
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    ehlo_name: str | None
    login: bytes | None
    tls: bool


class Collector:
    """An aiosmtpd handler that keeps every message and can speak CRAM-MD5 (aiosmtpd has
    PLAIN and LOGIN built in, not CRAM-MD5)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.auth_attempts = 0

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
                ehlo_name=session.host_name,
                login=session.login_data if session.authenticated else None,
                tls=server.transport is not None and server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 Message accepted for delivery"

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        self.auth_attempts += 1
        challenge = f"<{secrets.token_hex(8)}@fleet.test>".encode()
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False)
        assert isinstance(answer, bytes)
        login, _, digest = answer.partition(b" ")
        expected = hmac.new(PASSWORD.encode(), challenge, "md5").hexdigest().encode()
        ok = login == USER.encode() and hmac.compare_digest(digest, expected)
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(login, b""))

    def authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.auth_attempts += 1
        assert isinstance(data, LoginPassword)
        ok = data.login == USER.encode() and data.password == PASSWORD.encode()
        # handled=False: let aiosmtpd send the 535 reply itself.
        return AuthResult(success=ok, handled=False, auth_data=data)


@attrs.frozen
class Server:
    host: str
    port: int
    handler: Collector

    def settings(self, **changes: Any) -> SMTPSettings:
        defaults: dict[str, Any] = {
            "enable_smtp": True,
            "configured": True,
            "sender_address": SENDER,
            "server": self.host,
            "port": self.port,
            "authentication_type": "authtype_none",
            "enable_ssl_tls": False,
            "enable_start_tls": False,
        }
        return SMTPSettings(**(defaults | changes))


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(host: str = "127.0.0.1", **smtp_kwargs: Any) -> Iterator[Server]:
    handler = Collector()
    controller = Controller(
        handler,
        hostname=host,
        port=_free_port(host),
        authenticator=handler.authenticator,
        **smtp_kwargs,
    )
    controller.start()
    try:
        yield Server(host, controller.port, handler)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def plain_server() -> Iterator[Server]:
    with smtp_server(auth_require_tls=False) as server:
        yield server


MESSAGE = Email(
    to=RECIPIENT,
    subject="Welcome to Fleet",
    text="Hello,\nplease confirm.\n",
    html="<p>Hello,<br>please <b>confirm</b>.</p>",
)


def _body(received: Received, subtype: str) -> str:
    part = received.message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_subtype() == subtype
    # SMTP carries CRLF line ends; compare the text as the recipient's client shows it.
    return str(part.get_content()).replace("\r\n", "\n")


# --- the contract, over both mailers


@attrs.frozen
class Subject:
    mailer: Mailer
    settings: SMTPSettings
    delivered: Any  # () -> list[tuple[to, subject, text]]


@pytest.fixture(params=["smtp", "recording"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "recording":
        recording = RecordingMailer()
        return Subject(
            recording,
            SMTPSettings(enable_smtp=True, server="unused.example.test", sender_address=SENDER),
            lambda: [(m.to, m.subject, m.text) for m in recording.sent],
        )
    server: Server = request.getfixturevalue("plain_server")
    return Subject(
        SMTPMailer(timeout=5),
        server.settings(),
        lambda: [(str(r.message["To"]), str(r.message["Subject"]), _body(r, "plain")) for r in server.handler.received],
    )


async def test_an_email_is_delivered_to_its_recipient(subject: Subject) -> None:
    await subject.mailer.send(subject.settings, MESSAGE)
    assert subject.delivered() == [(RECIPIENT, MESSAGE.subject, MESSAGE.text)]


async def test_disabled_smtp_is_not_configured_and_sends_nothing(subject: Subject) -> None:
    disabled = attrs.evolve(subject.settings, enable_smtp=False)
    with pytest.raises(NotConfigured, match="email not configured"):
        await subject.mailer.send(disabled, MESSAGE)
    assert subject.delivered() == []


# --- SMTPMailer on the wire


async def test_the_message_carries_text_and_html_alternatives_and_fleet_headers(plain_server: Server) -> None:
    await SMTPMailer(timeout=5).send(plain_server.settings(), MESSAGE)
    [got] = plain_server.handler.received
    assert got.mail_from == SENDER
    assert got.rcpt_tos == [RECIPIENT]
    assert got.message["From"] == SENDER
    assert got.message["To"] == RECIPIENT
    assert got.message["Subject"] == MESSAGE.subject
    assert got.message["Date"] and got.message["Message-ID"]
    assert got.message.get_content_type() == "multipart/alternative"
    assert _body(got, "plain") == MESSAGE.text
    assert _body(got, "html").strip() == MESSAGE.html
    assert got.login is None and got.tls is False
    assert got.ehlo_name == "localhost"


async def test_a_text_only_email_is_a_single_plain_part(plain_server: Server) -> None:
    await SMTPMailer(timeout=5).send(plain_server.settings(), Email(RECIPIENT, "Hi", "just text"))
    [got] = plain_server.handler.received
    assert got.message.get_content_type() == "text/plain"
    assert got.message.get_content().strip() == "just text"


async def test_non_ascii_subject_and_body_survive(plain_server: Server) -> None:
    await SMTPMailer(timeout=5).send(
        plain_server.settings(), Email(RECIPIENT, "Café ✓ überprüft", "naïve — ok", "<p>ü</p>")
    )
    [got] = plain_server.handler.received
    assert got.message["Subject"] == "Café ✓ überprüft"
    assert _body(got, "plain").strip() == "naïve — ok"


async def test_the_configured_domain_is_the_ehlo_name(plain_server: Server) -> None:
    await SMTPMailer(timeout=5).send(plain_server.settings(domain="mail.fleet.test"), MESSAGE)
    [got] = plain_server.handler.received
    assert got.ehlo_name == "mail.fleet.test"
    assert "@mail.fleet.test>" in str(got.message["Message-ID"])


@pytest.mark.parametrize("method", ["authmethod_plain", "authmethod_login", "authmethod_cram_md5"])
async def test_username_password_authentication_with_each_method(plain_server: Server, method: str) -> None:
    settings = plain_server.settings(
        authentication_type="authtype_username_password",
        authentication_method=method,
        user_name=USER,
        password=PASSWORD,
    )
    await SMTPMailer(timeout=5).send(settings, MESSAGE)
    [got] = plain_server.handler.received
    assert got.login == USER.encode()


@pytest.mark.parametrize("method", ["authmethod_plain", "authmethod_login", "authmethod_cram_md5"])
async def test_a_rejected_password_is_unavailable_and_never_echoed(plain_server: Server, method: str) -> None:
    wrong = "wr0ng-" + PASSWORD
    settings = plain_server.settings(
        authentication_type="authtype_username_password",
        authentication_method=method,
        user_name=USER,
        password=wrong,
    )
    with pytest.raises(Unavailable, match="authentication failed") as caught:
        await SMTPMailer(timeout=5).send(settings, MESSAGE)
    text = str(caught.value)
    assert wrong not in text and base64.b64encode(wrong.encode()).decode() not in text
    assert USER not in text
    assert plain_server.handler.auth_attempts == 1
    assert plain_server.handler.received == []


async def test_authtype_none_does_not_authenticate_even_with_credentials_stored(plain_server: Server) -> None:
    settings = plain_server.settings(authentication_type="authtype_none", user_name=USER, password=PASSWORD)
    await SMTPMailer(timeout=5).send(settings, MESSAGE)
    assert plain_server.handler.auth_attempts == 0
    assert plain_server.handler.received[0].login is None


async def test_an_unknown_authentication_method_is_unavailable(plain_server: Server) -> None:
    settings = plain_server.settings(
        authentication_type="authtype_username_password",
        authentication_method="authmethod_gssapi",
        user_name=USER,
        password=PASSWORD,
    )
    with pytest.raises(Unavailable, match="authmethod_gssapi"):
        await SMTPMailer(timeout=5).send(settings, MESSAGE)
    assert plain_server.handler.received == []


async def test_a_password_is_never_sent_in_clear_text_to_a_remote_server() -> None:
    # 127.0.0.2 is loopback on Linux, but not a name the mailer treats as this machine.
    with smtp_server(host="127.0.0.2", auth_require_tls=False) as server:
        settings = server.settings(
            authentication_type="authtype_username_password",
            authentication_method="authmethod_plain",
            user_name=USER,
            password=PASSWORD,
        )
        with pytest.raises(Unavailable, match="unencrypted"):
            await SMTPMailer(timeout=5).send(settings, MESSAGE)
        assert server.handler.auth_attempts == 0
        assert server.handler.received == []


async def test_a_refused_recipient_is_unavailable_with_the_servers_reply(plain_server: Server) -> None:
    with pytest.raises(Unavailable, match="550"):
        await SMTPMailer(timeout=5).send(plain_server.settings(), Email(REFUSED, "Hi", "text"))
    assert plain_server.handler.received == []


async def test_a_header_injection_attempt_is_rejected_before_connecting(plain_server: Server) -> None:
    with pytest.raises(InvalidArgument):
        await SMTPMailer(timeout=5).send(
            plain_server.settings(), Email(RECIPIENT, "Hi\r\nBcc: victim@example.test", "x")
        )
    assert plain_server.handler.received == []


# --- TLS


async def test_starttls_with_a_trusted_certificate_is_used_when_offered(
    server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    with smtp_server(tls_context=server_tls, require_starttls=True) as server:
        settings = server.settings(
            enable_start_tls=True,
            verify_ssl_certs=True,
            authentication_type="authtype_username_password",
            authentication_method="authmethod_plain",
            user_name=USER,
            password=PASSWORD,
        )
        await SMTPMailer(timeout=5, cafile=ca_file).send(settings, MESSAGE)
        [got] = server.handler.received
        assert got.tls is True
        assert got.login == USER.encode()


async def test_starttls_refuses_a_certificate_the_system_does_not_trust(server_tls: ssl.SSLContext) -> None:
    with smtp_server(tls_context=server_tls, require_starttls=True) as server:
        settings = server.settings(enable_start_tls=True, verify_ssl_certs=True)
        with pytest.raises(Unavailable, match="TLS failed"):
            await SMTPMailer(timeout=5).send(settings, MESSAGE)
        assert server.handler.received == []


async def test_starttls_without_verification_accepts_an_untrusted_certificate(server_tls: ssl.SSLContext) -> None:
    with smtp_server(tls_context=server_tls, require_starttls=True) as server:
        settings = server.settings(enable_start_tls=True, verify_ssl_certs=False)
        await SMTPMailer(timeout=5).send(settings, MESSAGE)
        assert server.handler.received[0].tls is True


async def test_starttls_is_skipped_when_the_server_does_not_offer_it(plain_server: Server) -> None:
    await SMTPMailer(timeout=5).send(plain_server.settings(enable_start_tls=True), MESSAGE)
    assert plain_server.handler.received[0].tls is False


async def test_starttls_is_not_used_when_disabled_even_if_offered(server_tls: ssl.SSLContext) -> None:
    with smtp_server(tls_context=server_tls, auth_require_tls=False) as server:
        await SMTPMailer(timeout=5).send(server.settings(enable_start_tls=False), MESSAGE)
        assert server.handler.received[0].tls is False


async def test_implicit_tls_connects_with_tls_from_the_first_byte(server_tls: ssl.SSLContext, ca_file: Path) -> None:
    # aiosmtpd counts only STARTTLS as encryption when deciding to offer AUTH, hence
    # auth_require_tls=False even though this connection is TLS from the start.
    with smtp_server(ssl_context=server_tls, auth_require_tls=False) as server:
        settings = server.settings(
            enable_ssl_tls=True,
            verify_ssl_certs=True,
            authentication_type="authtype_username_password",
            authentication_method="authmethod_login",
            user_name=USER,
            password=PASSWORD,
        )
        await SMTPMailer(timeout=5, cafile=ca_file).send(settings, MESSAGE)
        [got] = server.handler.received
        assert got.tls is True and got.login == USER.encode()


async def test_implicit_tls_against_a_plain_server_is_unavailable(plain_server: Server, ca_file: Path) -> None:
    settings = plain_server.settings(enable_ssl_tls=True)
    with pytest.raises(Unavailable, match="TLS failed"):
        await SMTPMailer(timeout=5, cafile=ca_file).send(settings, MESSAGE)


# --- unreachable servers


async def test_nothing_listening_is_unavailable() -> None:
    port = _free_port("127.0.0.1")
    settings = SMTPSettings(
        enable_smtp=True,
        sender_address=SENDER,
        server="127.0.0.1",
        port=port,
        enable_ssl_tls=False,
        authentication_type="authtype_none",
    )
    with pytest.raises(Unavailable, match=f"127.0.0.1:{port}"):
        await SMTPMailer(timeout=5).send(settings, MESSAGE)


async def test_a_server_that_never_greets_times_out_as_unavailable() -> None:
    # Accepts the TCP connection (kernel backlog) but never speaks SMTP.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        settings = SMTPSettings(
            enable_smtp=True,
            sender_address=SENDER,
            server="127.0.0.1",
            port=silent.getsockname()[1],
            enable_ssl_tls=False,
            authentication_type="authtype_none",
        )
        with pytest.raises(Unavailable, match="timed out"):
            await SMTPMailer(timeout=0.5).send(settings, MESSAGE)


async def test_a_missing_server_name_is_not_configured() -> None:
    settings = SMTPSettings(enable_smtp=True, sender_address=SENDER, server="")
    with pytest.raises(NotConfigured):
        await SMTPMailer(timeout=5).send(settings, MESSAGE)


# --- RecordingMailer specifics


async def test_the_recording_mailer_keeps_the_emails_and_can_play_a_dead_server() -> None:
    mailer = RecordingMailer()
    settings = SMTPSettings(enable_smtp=True)
    await mailer.send(settings, MESSAGE)
    assert mailer.sent == [MESSAGE]
    mailer.unavailable = True
    with pytest.raises(Unavailable):
        await mailer.send(settings, MESSAGE)
    assert mailer.sent == [MESSAGE]
