"""Errors to osquery responses.

osqueryd ignores HTTP statuses and reads the body: `node_invalid: true` makes it re-enroll and
any `error` key makes the request count as failed, so every error body carries `error`.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

from fleet_core.errors import BadRequest, FleetError, InvalidArgument, NodeInvalid, RateLimited, Unavailable
from fleet_core.services.carves import CarveRejected
from fleet_osquery.codec import BadAgentRequest, json_response

log = structlog.get_logger("fleet.osquery")


class LogWriteFailed(Exception):
    """The log destination refused a batch; 413 makes osquery keep it and retry."""


def error_body(error: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, **extra}


def on_node_invalid(request: Request[Any, Any, Any], exc: NodeInvalid) -> Response[bytes]:
    return json_response(error_body(str(exc), node_invalid=True), 401)


def on_log_write_failed(request: Request[Any, Any, Any], exc: LogWriteFailed) -> Response[bytes]:
    log.warning("log_write_failed", error=str(exc))
    return json_response(error_body(f"error writing logs: {exc}"), 413)


def on_bad_request(request: Request[Any, Any, Any], exc: BadAgentRequest) -> Response[bytes]:
    # Fleet answers decoding errors in its generic shape; the "error" key is added so that
    # osqueryd, which only reads the body, counts the request as failed instead of succeeded.
    return json_response(
        error_body(exc.reason, message="Bad request", errors=[{"name": "base", "reason": exc.reason}]), 400)


def on_rate_limited(request: Request[Any, Any, Any], exc: RateLimited) -> Response[bytes]:
    # osqueryd reads only the body: the error makes it retry enrollment with its own backoff.
    response = json_response(error_body(str(exc)), 429)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def on_fleet_error(request: Request[Any, Any, Any], exc: FleetError) -> Response[bytes]:
    # A refused carve is the client's doing too: Fleet answers it with a 500, but osqueryd reads
    # only the body, and a 5xx must mean the server failed.
    status = (400 if isinstance(exc, InvalidArgument | BadRequest | CarveRejected)
              else 503 if isinstance(exc, Unavailable) else 500)
    if status >= 500:
        log.warning("agent_request_failed", error=type(exc).__name__, path=request.scope.get("path_template"))
    return json_response(error_body(str(exc)), status)


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    return json_response(error_body(exc.detail), exc.status_code)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("agent_request_crashed", path=request.scope.get("path_template"))
    return json_response(error_body("internal error"), 500)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    NodeInvalid: on_node_invalid,
    LogWriteFailed: on_log_write_failed,
    BadAgentRequest: on_bad_request,
    RateLimited: on_rate_limited,
    FleetError: on_fleet_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
