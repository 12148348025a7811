"""One exception class per class of Fleet error, each carrying Fleet's error body.

Fleet answers a failed request with ``{"message": ..., "errors": [{"name": ..., "reason": ...}],
"uuid": ...}``; the ``uuid`` (also sent as the ``X-Request-Id`` header) is what the server's
log records for the request, so it is what to quote when asking why a request failed.
"""

from __future__ import annotations

from typing import Any

import httpx


class FleetClientError(Exception):
    """Anything the client raises: a refused request (FleetAPIError) or no answer at all."""


class FleetConnectionError(FleetClientError):
    """The server could not be reached, or did not answer in time (after any retries)."""


class FleetAPIError(FleetClientError):
    """The server refused the request; ``status``, ``message``, ``errors``, ``request_id``."""

    status_class: int = 0

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None,
                 request_id: str | None = None) -> None:
        self.status = status
        self.message = message
        self.errors = errors or []
        self.request_id = request_id
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line per problem, as a terminal shows it."""
        lines = [f"{self.message} (HTTP {self.status})"]
        lines += [f"  {e.get('name', 'base')}: {e.get('reason', '')}" for e in self.errors]
        if self.request_id:
            lines.append(f"  request id: {self.request_id}")
        return "\n".join(lines)

    def reasons(self) -> dict[str, str]:
        """The errors by name (a name given twice keeps its last reason)."""
        return {e.get("name", "base"): e.get("reason", "") for e in self.errors}


class BadRequest(FleetAPIError):
    status_class = 400


class AuthenticationFailed(FleetAPIError):
    status_class = 401


class PermissionDenied(FleetAPIError):
    status_class = 403


class NotFound(FleetAPIError):
    status_class = 404


class Conflict(FleetAPIError):
    status_class = 409


class ValidationFailed(FleetAPIError):
    status_class = 422


class RateLimited(FleetAPIError):
    status_class = 429


class ServerError(FleetAPIError):
    """Any 5xx."""

    status_class = 500


_BY_STATUS: dict[int, type[FleetAPIError]] = {
    cls.status_class: cls
    for cls in (BadRequest, AuthenticationFailed, PermissionDenied, NotFound, Conflict, ValidationFailed,
                RateLimited)
}


def error_for(response: httpx.Response) -> FleetAPIError:
    """The exception for a non-2xx response, from Fleet's error body when there is one."""
    status = response.status_code
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, FleetAPIError)
    message, errors, request_id = response.reason_phrase or f"HTTP {status}", [], None
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or message)
        raw_errors = body.get("errors")
        if isinstance(raw_errors, list):
            errors = [{"name": str(e.get("name", "base")), "reason": str(e.get("reason", ""))}
                      for e in raw_errors if isinstance(e, dict)]
        if isinstance(body.get("uuid"), str):
            request_id = body["uuid"]
    request_id = request_id or response.headers.get("x-request-id")
    return cls(status, message, errors, request_id)
