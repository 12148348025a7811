"""Dependency providers: each service of the bundle by its name, and the authenticated viewer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler

from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed, BadRequest, NotFound
from fleet_core.services import Services
from fleet_core.services.auth import AuthService


def service_providers() -> dict[str, Provide]:
    """One dependency per service, keyed by its field name in the bundle (``hosts``,
    ``labels``, ...), so a handler names the one service it uses:
    ``hosts: NamedDependency[HostService]``."""

    def provider(name: str) -> Callable[[State], Any]:
        def provide(state: State) -> Any:
            return getattr(state.services, name)

        return provide

    return {field.name: Provide(provider(field.name), sync_to_thread=False) for field in attrs.fields(Services)}


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    # Fleet also accepts the token as a query parameter (used by its UI for downloads).
    return request.query_params.get("token", "")


async def provide_viewer(request: Request[Any, Any, Any], auth: NamedDependency[AuthService]) -> Viewer:
    token = bearer_token(request)
    if not token:
        raise AuthFailed("Authorization header required")
    viewer = await auth.authenticate(token)
    request.scope["state"]["user_id"] = viewer.user.id
    return viewer


async def provide_viewer_pending_reset(request: Request[Any, Any, Any],
                                       auth: NamedDependency[AuthService]) -> Viewer:
    """Like provide_viewer, but lets through a user who still has to reset the password."""
    token = bearer_token(request)
    if not token:
        raise AuthFailed("Authorization header required")
    viewer = await auth.authenticate(token, allow_pending_reset=True)
    request.scope["state"]["user_id"] = viewer.user.id
    return viewer


def client_address(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else ""


_AT_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$")


async def strict_json_body(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: decode the handler's JSON body strictly, as Fleet's Go decoder does.

    Litestar converts a body leniently (``"false"`` becomes a bool, ``"2"`` an int) because it
    checks the body together with query and path parameters, which arrive as text. A value of
    the wrong JSON type must be a 400 naming the field instead, so the body is checked here
    first; Litestar caches it, so the handler's own decoding reads the same bytes.
    """
    field = handler.parsed_fn_signature.parameters.get("data")
    if field is None or not isinstance(connection, Request):
        return
    raw = await connection.body()
    if not raw.strip() and field.has_default:
        return
    try:
        msgspec.json.decode(raw, type=field.annotation)
    except msgspec.ValidationError as exc:
        match = _AT_PATH.match(str(exc))
        reason = match.group("reason") if match else str(exc)
        name = (match.group("path") if match else None) or "base"
        raise BadRequest(reason, name=name) from None
    except msgspec.DecodeError:
        raise BadRequest("the request body is not valid JSON") from None


INT64_MAX = 2**63 - 1
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _unstorable(value: Any, path: str) -> tuple[str, str] | None:
    """The first value Postgres cannot store (NUL in text, integers beyond 64 bits), if any."""
    if isinstance(value, str):
        return (path or "base", "must not contain NUL characters") if "\x00" in value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (path or "base", "is out of range") if not -INT64_MAX - 1 <= value <= INT64_MAX else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable(key, path) or _unstorable(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found:
                return found
    return None


async def storable_input(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard for every route: ids beyond 64 bits name nothing (404), and body values the
    database cannot hold are a 400 naming the field, rather than a driver error later."""
    for value in connection.path_params.values():
        if isinstance(value, int) and not 0 <= value <= INT64_MAX:
            raise NotFound("Resource Not Found")
    for key, value in connection.query_params.items():
        if "\x00" in key or "\x00" in value:
            raise BadRequest("must not contain NUL characters", name=key.replace("\x00", ""))
    if not isinstance(connection, Request) or connection.method in ("GET", "HEAD", "DELETE"):
        return
    if connection.content_type[0] in FORM_MEDIA_TYPES:
        # Form bodies (POST /download_installer) are read by their handlers, which check them.
        return
    raw = await connection.body()
    if not raw.strip():
        return
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise BadRequest("the request body is not valid JSON") from None
    problem = _unstorable(body, "")
    if problem:
        raise BadRequest(problem[1], name=problem[0])
