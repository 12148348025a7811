"""Outgoing mail over SMTP (fleet_core.ports.Mailer), configured per call by Fleet's settings."""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final

import anyio.to_thread

from fleet_core.errors import InvalidArgument, NotConfigured, Unavailable
from fleet_core.model.config import SMTPSettings
from fleet_core.model.mail import Email

# The values Fleet stores in smtp_settings (server/fleet/app.go).
AUTH_TYPE_USERNAME_PASSWORD: Final = "authtype_username_password"  # noqa: S105 - a mode name
AUTH_TYPE_NONE: Final = "authtype_none"
AUTH_METHODS: Final = {
    "authmethod_plain": "PLAIN",
    "authmethod_login": "LOGIN",
    "authmethod_cram_md5": "CRAM-MD5",
}

_LOCALHOST: Final = frozenset({"localhost", "127.0.0.1", "::1"})


class SMTPMailer:
    """Sends through smtplib in a worker thread, since smtplib blocks.

    ``cafile`` adds a CA to trust when ``verify_ssl_certs`` is on (tests use a private CA);
    by default the system trust store decides.
    """

    def __init__(self, *, timeout: float = 15.0, cafile: str | os.PathLike[str] | None = None) -> None:
        self._timeout = timeout
        self._cafile = cafile

    async def send(self, settings: SMTPSettings, email: Email) -> None:
        if not settings.enable_smtp:
            raise NotConfigured("email not configured")
        if not settings.server or not settings.sender_address:
            raise NotConfigured("email not configured: SMTP server or sender address missing")
        message = _build_message(settings, email)
        await anyio.to_thread.run_sync(self._deliver, settings, message)

    def _tls_context(self, settings: SMTPSettings) -> ssl.SSLContext:
        if not settings.verify_ssl_certs:
            # Fleet's verify_ssl_certs=false (Go's InsecureSkipVerify): encrypted, unauthenticated.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self._cafile)

    def _deliver(self, settings: SMTPSettings, message: EmailMessage) -> None:
        context = self._tls_context(settings)
        # Go's net/smtp (Fleet) says "localhost" when no domain is set; smtplib would look up
        # this machine's FQDN, which costs a DNS round trip and leaks an internal host name.
        local_hostname = settings.domain or "localhost"
        try:
            client: smtplib.SMTP
            if settings.enable_ssl_tls:
                client = smtplib.SMTP_SSL(
                    settings.server,
                    settings.port,
                    local_hostname=local_hostname,
                    timeout=self._timeout,
                    context=context,
                )
            else:
                client = smtplib.SMTP(
                    settings.server,
                    settings.port,
                    local_hostname=local_hostname,
                    timeout=self._timeout,
                )
            with client:
                client.ehlo()
                encrypted = settings.enable_ssl_tls
                # Like Fleet: STARTTLS only when the server offers it.
                if not encrypted and settings.enable_start_tls and client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                    encrypted = True
                if settings.authentication_type == AUTH_TYPE_USERNAME_PASSWORD:
                    _authenticate(client, settings, encrypted=encrypted)
                client.send_message(message, from_addr=settings.sender_address, to_addrs=[str(message["To"])])
        except smtplib.SMTPAuthenticationError:
            # The server's reply is left out: some servers echo the (base64) credentials back.
            raise Unavailable(_failure(settings, "authentication failed")) from None
        except smtplib.SMTPResponseException as exc:
            reply = f"server replied {exc.smtp_code} {_text(exc.smtp_error)}"
            raise Unavailable(_failure(settings, reply)) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            replies = "; ".join(f"{code} {_text(text)}" for code, text in exc.recipients.values())
            raise Unavailable(_failure(settings, f"recipient refused: {replies}")) from exc
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib reports a read timeout this way ("Connection unexpectedly closed: timed out").
            raise Unavailable(_failure(settings, str(exc) or "connection closed")) from exc
        except smtplib.SMTPException as exc:
            # The remaining ones carry smtplib's own wording, never anything we sent.
            raise Unavailable(_failure(settings, str(exc) or type(exc).__name__)) from exc
        except ssl.SSLError as exc:
            raise Unavailable(_failure(settings, f"TLS failed ({exc.reason})")) from exc
        except TimeoutError as exc:
            raise Unavailable(_failure(settings, "timed out")) from exc
        except OSError as exc:
            raise Unavailable(_failure(settings, exc.strerror or type(exc).__name__)) from exc


def _authenticate(client: smtplib.SMTP, settings: SMTPSettings, *, encrypted: bool) -> None:
    method = AUTH_METHODS.get(settings.authentication_method)
    if method is None:
        raise Unavailable(f"unknown SMTP authentication method {settings.authentication_method!r}")
    if method != "CRAM-MD5" and not encrypted and settings.server not in _LOCALHOST:
        # Go's net/smtp, which Fleet uses, refuses the same: PLAIN and LOGIN would put the
        # password on the wire in clear text.
        raise Unavailable(_failure(settings, "refusing to send credentials over an unencrypted connection"))
    if not client.has_extn("auth"):
        raise Unavailable(_failure(settings, "server does not offer AUTH"))
    client.user, client.password = settings.user_name, settings.password
    if method == "PLAIN":
        client.auth(method, client.auth_plain)
    elif method == "LOGIN":
        client.auth(method, client.auth_login)
    else:
        client.auth(method, client.auth_cram_md5)


def _build_message(settings: SMTPSettings, email: Email) -> EmailMessage:
    message = EmailMessage()
    try:
        message["From"] = settings.sender_address
        message["To"] = email.to
        message["Subject"] = email.subject
    except ValueError as exc:
        # Header values with line breaks would let a caller inject headers.
        raise InvalidArgument(("email", "has a malformed address or subject")) from exc
    message["Date"] = formatdate(localtime=False)
    domain = settings.domain or settings.sender_address.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:200]


def _failure(settings: SMTPSettings, reason: str) -> str:
    # Built from the server address and a reason only: never the user name or password.
    return f"could not send email via {settings.server}:{settings.port}: {reason}"
