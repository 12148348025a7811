"""Dependency providers: the service bundle from app state, and the authenticated viewer."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed
from fleet_core.services import Services


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    # Fleet also accepts the token as a query parameter (used by its UI for downloads).
    return request.query_params.get("token", "")


async def provide_viewer(request: Request[Any, Any, Any], state: State) -> Viewer:
    token = bearer_token(request)
    if not token:
        raise AuthFailed("Authorization header required")
    viewer = await provide_services(state).auth.authenticate(token)
    request.scope["state"]["user_id"] = viewer.user.id
    return viewer


async def provide_viewer_pending_reset(request: Request[Any, Any, Any], state: State) -> Viewer:
    """Like provide_viewer, but lets through a user who still has to reset the password."""
    token = bearer_token(request)
    if not token:
        raise AuthFailed("Authorization header required")
    viewer = await provide_services(state).auth.authenticate(token, allow_pending_reset=True)
    request.scope["state"]["user_id"] = viewer.user.id
    return viewer


def client_address(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else ""
