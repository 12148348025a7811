"""How the console answers failures: HTML pages and redirects instead of the API's JSON bodies.

Handlers that show a form catch InvalidArgument themselves and render the form with the field
errors; what reaches these handlers is everything else.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template

from fleet_core import errors as e
from fleet_http.console.session import (
    FORCED_RESET_PATH,
    SESSION_COOKIE,
    CSRFRefused,
    LoginRequired,
    ResetRequired,
    expired_session_cookie,
    login_path,
)
from fleet_http.errors import request_id

log = structlog.get_logger(__name__)

_STATUS: dict[type[e.FleetError], tuple[int, str]] = {
    e.InvalidArgument: (422, "Some values are not valid"),
    e.BadRequest: (400, "Bad request"),
    e.AuthFailed: (401, "Sign in required"),
    e.PermissionDenied: (403, "You do not have permission to do that"),
    e.NotFound: (404, "Not found"),
    e.AlreadyExists: (409, "It already exists"),
    e.Conflict: (409, "Conflict"),
    e.RateLimited: (429, "Too many attempts, try again later"),
    e.NotConfigured: (400, "Not configured"),
    e.Unavailable: (503, "Service unavailable"),
}


def error_page(request: Request[Any, Any, Any], status: int, title: str, detail: str) -> Template:
    # No viewer lookup here: an error page must render even when the session store is down.
    return Template(template_name="error.html", status_code=status, headers={"Cache-Control": "no-store"},
                    context={"viewer": None, "nav": [], "title": title, "detail": detail, "status": status,
                             "flashes": [], "teams": [], "team_id": None, "can": lambda action: False,
                             "csrf_token": "", "csrf_field_name": "", "current_area": "",
                             "request_path": request.url.path, "uuid": request_id(request)})


def on_login_required(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    # A cookie whose session is gone (expired, signed out elsewhere) is dropped on the way.
    stale = [expired_session_cookie(request)] if request.cookies.get(SESSION_COOKIE) else []
    return Redirect(login_path(exc.next_path), status_code=303, headers={"Cache-Control": "no-store"},
                    cookies=stale)


def on_reset_required(request: Request[Any, Any, Any], exc: ResetRequired) -> Response[Any]:
    return Redirect(FORCED_RESET_PATH, status_code=303, headers={"Cache-Control": "no-store"})


def on_csrf_refused(request: Request[Any, Any, Any], exc: CSRFRefused) -> Response[Any]:
    log.info("console_csrf_refused", path=request.url.path)
    return error_page(request, 403, "Request refused",
                      "The form was missing its security token or it has expired. "
                      "Go back, reload the page and try again.")


def on_fleet_error(request: Request[Any, Any, Any], exc: e.FleetError) -> Response[Any]:
    if isinstance(exc, e.PasswordResetRequired):
        return on_reset_required(request, ResetRequired())
    status, title = next((_STATUS[c] for c in type(exc).__mro__ if c in _STATUS), (500, "Something went wrong"))
    if status >= 500 and not isinstance(exc, e.Unavailable):
        log.warning("console_request_failed", error=type(exc).__name__, reason=str(exc), uuid=request_id(request))
        detail = "An internal error happened; the server log has the details under the id below."
    else:
        detail = str(exc)
    return error_page(request, status, title, detail)


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        return on_unexpected(request, exc)
    titles = {404: "Not found", 405: "Not allowed", 403: "Forbidden", 400: "Bad request"}
    return error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), exc.detail)


def on_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    return error_page(request, 400, "Bad request", "The request had a malformed value.")


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("console_unhandled_error", uuid=request_id(request))
    return error_page(request, 500, "Something went wrong",
                      "An internal error happened; the server log has the details under the id below.")


CONSOLE_EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    LoginRequired: on_login_required,
    ResetRequired: on_reset_required,
    CSRFRefused: on_csrf_refused,
    e.FleetError: on_fleet_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
