"""The browser's session and CSRF protection for the console.

The console signs people in with the same server-side session the API uses: the token POST
/login returns (AuthService.login) is kept in an HttpOnly cookie instead of an Authorization
header, and every page resolves it with AuthService.authenticate, so revoking a session
(logout, password change, an admin deleting sessions) signs the browser out too.

CSRF: every state-changing console request carries a token derived from the cookie that
identifies the browser (the session cookie once signed in, a random pre-session cookie before).
A cross-site page can make the browser send the cookie but can read neither it nor the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Final
from urllib.parse import quote

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler

from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed, PasswordResetRequired
from fleet_core.services.auth import AuthService

SESSION_COOKIE: Final = "fleet_session"
# Identifies a browser that is not signed in yet, so the login, setup and password forms are
# CSRF-protected too (login CSRF would sign a victim in to the attacker's account).
PRESESSION_COOKIE: Final = "fleet_presession"
CSRF_FIELD: Final = "csrf_token"
# For script requests (fetch) that send no form body.
CSRF_HEADER: Final = "x-csrf-token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
FORCED_RESET_PATH: Final = "/login/password-reset"


class LoginRequired(Exception):
    """No valid session: the console answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__("login required")


class ResetRequired(Exception):
    """The account must choose a new password before anything else."""


def is_tls(request: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return request.url.scheme in ("https", "wss")


def session_cookie(request: ASGIConnection[Any, Any, Any, Any], token: str) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
                  secure=is_tls(request))


def expired_session_cookie(request: ASGIConnection[Any, Any, Any, Any]) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", path="/", httponly=True, samesite="lax",
                  secure=is_tls(request), max_age=0)


def presession_cookie(request: ASGIConnection[Any, Any, Any, Any], value: str) -> Cookie:
    return Cookie(key=PRESESSION_COOKIE, value=value, path="/", httponly=True, samesite="lax",
                  secure=is_tls(request))


def new_presession_value() -> str:
    return secrets.token_urlsafe(32)


def csrf_token_for(browser_secret: str) -> str:
    """The form token for a browser: a one-way digest, so a token seen in a page's HTML never
    reveals the session token it is derived from."""
    return hashlib.sha256(b"fleet-console-csrf\x00" + browser_secret.encode()).hexdigest()


def browser_secret(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The cookie the CSRF token is derived from: the session when signed in, else the pre-session."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE) or ""


def login_path(next_path: str) -> str:
    if not next_path or next_path == "/":
        return "/login"
    return "/login?next=" + quote(next_path, safe="/")


def safe_next(value: str | None) -> str:
    """Only a path on this server: an absolute or protocol-relative URL would be an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    # Browsers drop tabs and newlines from URLs, which would turn "/\t/evil" into "//evil".
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    return value


def _requested_path(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


async def _authenticate(request: Request[Any, Any, Any], auth: AuthService, *, allow_pending_reset: bool) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise LoginRequired(_requested_path(request))
    try:
        viewer = await auth.authenticate(token, allow_pending_reset=allow_pending_reset)
    except AuthFailed:
        raise LoginRequired(_requested_path(request)) from None
    except PasswordResetRequired:
        raise ResetRequired from None
    request.scope["state"]["user_id"] = viewer.user.id
    return viewer


async def provide_console_viewer(request: Request[Any, Any, Any], auth: NamedDependency[AuthService]) -> Viewer:
    """The console's `viewer` dependency: the same Viewer the API's provide_viewer gives, from the
    session cookie; no session (or an expired one) redirects to /login, a pending forced
    password reset to the reset page."""
    return await _authenticate(request, auth, allow_pending_reset=False)


async def provide_console_viewer_pending_reset(request: Request[Any, Any, Any],
                                               auth: NamedDependency[AuthService]) -> Viewer:
    return await _authenticate(request, auth, allow_pending_reset=True)


async def provide_optional_viewer(request: Request[Any, Any, Any],
                                  auth: NamedDependency[AuthService]) -> Viewer | None:
    """The viewer when signed in, else None (pages open to everyone, such as /login)."""
    try:
        return await _authenticate(request, auth, allow_pending_reset=True)
    except (LoginRequired, ResetRequired):
        return None


class CSRFRefused(Exception):
    """A state-changing console request without the browser's CSRF token."""


async def csrf_protected(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard on every console route: a POST (or any unsafe method) must carry the CSRF token of
    the browser's cookie, in the form field `csrf_token` or the X-CSRF-Token header."""
    if not isinstance(connection, Request) or connection.method in SAFE_METHODS:
        return
    secret = browser_secret(connection)
    sent = connection.headers.get(CSRF_HEADER, "")
    if not sent and connection.content_type[0] in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await connection.form()
        value = form.get(CSRF_FIELD, "")
        sent = value if isinstance(value, str) else ""
    if not secret or not sent or not hmac.compare_digest(sent.encode(), csrf_token_for(secret).encode()):
        raise CSRFRefused
