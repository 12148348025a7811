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
    # Fleet documents "email not configured" as a 500 "Unknown Error" (Forgot password).
    e.NotConfigured: (500, "Unknown Error"),
    e.Unavailable: (503, "Service Unavailable"),
}


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
    else:
        details = _base(str(exc))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, e.RateLimited) else None
    if status >= 500:
        log.warning("request_failed", error=type(exc).__name__, status=status)
    return render(request, status, message, details, headers)


def on_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = [
        ErrorDetail(str(item.get("key") or "base"), str(item.get("message", "invalid")))
        for item in extra if isinstance(item, dict)
    ]
    return render(request, 400, "Bad request", details or _base(exc.detail or "malformed request"))


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    messages = {400: "Bad request", 401: "Authentication Failed", 403: "Permission Denied", 404: "Resource Not Found"}
    message = messages.get(exc.status_code, exc.detail)
    return render(request, exc.status_code, message, _base(exc.detail), exc.headers)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled_error", uuid=request_id(request))
    return render(request, 500, "Internal Server Error", _base("internal error, see the server log for this uuid"))


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    e.FleetError: on_fleet_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
