"""Render every failure as Fleet's `{"message", "errors": [{"name", "reason"}], "uuid"}` body."""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from fleet_core import errors as e

log = structlog.get_logger(__name__)


class ErrorDetail(msgspec.Struct):
    name: str
    reason: str


class ErrorBody(msgspec.Struct, omit_defaults=True):
    message: str
    errors: list[ErrorDetail] = msgspec.field(default_factory=list)
    uuid: str | None = None


# Most specific class first: the first match along the exception's MRO wins.
_RENDER: dict[type[e.FleetError], tuple[int, str]] = {
    e.InvalidArgument: (422, "Validation Failed"),
    e.MDMNotConfigured: (400, e.MDMNotConfigured.MESSAGE),
    e.BadRequest: (400, "Bad request"),
    e.AuthFailed: (401, "Authentication Failed"),
    e.PasswordResetRequired: (401, "Password reset required"),
    e.NodeInvalid: (401, "Authentication Failed"),
    e.PermissionDenied: (403, "Permission Denied"),
    e.NotFound: (404, "Resource Not Found"),
    e.AlreadyExists: (409, "Resource Already Exists"),
    e.Conflict: (409, "Conflict"),
    e.RateLimited: (429, "Too Many Requests"),
    # Fleet documents "email not configured" as a 500 "Unknown Error" (Forgot password), but
    # nothing is broken: the server is asked for a feature its configuration leaves off, and a
    # retry cannot help. A 400 says so without paging whoever watches the 5xx rate.
    e.NotConfigured: (400, "Bad request"),
    e.Unavailable: (503, "Service Unavailable"),
}


_SERVER_SIDE_REASON = "internal error, see the server log for this uuid"


def request_id(request: Request[Any, Any, Any]) -> str:
    """The id the logging middleware gave this request; routing errors happen outside that
    middleware, so they get one here."""
    state = request.scope.setdefault("state", {})
    rid = state.get("request_id")
    if not isinstance(rid, str):
        rid = state["request_id"] = secrets.token_hex(8)
    return rid


def _base(reason: str) -> list[ErrorDetail]:
    return [ErrorDetail("base", reason)]


def render(request: Request[Any, Any, Any], status: int, message: str, details: list[ErrorDetail],
           headers: dict[str, str] | None = None) -> Response[ErrorBody]:
    return Response(ErrorBody(message, details, request_id(request)), status_code=status, headers=headers)


def on_fleet_error(request: Request[Any, Any, Any], exc: e.FleetError) -> Response[ErrorBody]:
    status, message = next((_RENDER[c] for c in type(exc).__mro__ if c in _RENDER), (500, "Internal Server Error"))
    if isinstance(exc, e.InvalidArgument):
        details = [ErrorDetail(name, reason) for name, reason in exc.problems]
    elif isinstance(exc, e.BadRequest):
        details = [ErrorDetail(exc.name, exc.reason)]
    elif status >= 500 and not isinstance(exc, e.Unavailable):
        # A server-side failure's text may name hosts, statements or paths: it goes to the log
        # under the request id, and the client gets only that id. Unavailable is the exception:
        # its reason is written for the client (which dependency is down, never a driver's text),
        # so it can tell a Redis outage from a database one.
        log.warning("request_failed", error=type(exc).__name__, status=status, reason=str(exc),
                    uuid=request_id(request))
        details = _base(_SERVER_SIDE_REASON)
    else:
        details = _base(str(exc))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, e.RateLimited) else None
    return render(request, status, message, details, headers)


def on_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = [
        ErrorDetail(str(item.get("key") or "base"), str(item.get("message", "invalid")))
        for item in extra if isinstance(item, dict)
    ]
    return render(request, 400, "Bad request", details or _base(exc.detail or "malformed request"))


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    if exc.status_code >= 500:
        # Litestar's own 5xx (e.g. ImproperlyConfiguredException while building the OpenAPI
        # document) carry internals in their detail: treat them as any unexpected failure.
        return on_unexpected(request, exc)
    messages = {400: "Bad request", 401: "Authentication Failed", 403: "Permission Denied", 404: "Resource Not Found"}
    message = messages.get(exc.status_code, exc.detail)
    return render(request, exc.status_code, message, _base(exc.detail), exc.headers)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled_error", uuid=request_id(request))
    return render(request, 500, "Internal Server Error", _base(_SERVER_SIDE_REASON))


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    e.FleetError: on_fleet_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
