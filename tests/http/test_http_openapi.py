"""The served OpenAPI document: it builds, it is valid OpenAPI 3.1, and it lists exactly the
routes both apps answer (the management API and, as `fleet serve` hands them in, osquery's)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute, WebSocketRoute
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate

from fleet_adapters.memory import in_memory_kit
from fleet_http.app import create_app as create_management_app
from fleet_osquery.app import create_app as create_osquery_app
from fleet_osquery.app import openapi_paths

pytestmark = pytest.mark.anyio

DOCUMENT = "/api/openapi/openapi.json"
# The document's own pages are not API routes.
DOCUMENT_PAGES = "/api/openapi"
# HTTP methods the document does not list: Litestar answers them for every route by itself.
IMPLICIT_METHODS = {"OPTIONS", "HEAD"}
OPERATION_KEYS = {"get", "put", "post", "delete", "patch"}


def _apps() -> tuple[Litestar, Litestar]:
    kit = in_memory_kit()
    services = lambda: contextlib.nullcontext(kit.services)  # noqa: E731
    return create_management_app(services, also_documented=openapi_paths), create_osquery_app(services)


@pytest.fixture
async def document() -> AsyncIterator[dict[str, Any]]:
    management, _ = _apps()
    async with AsyncTestClient(management) as client:
        response = await client.get(DOCUMENT)
        assert response.status_code == 200, response.text
        yield response.json()


def _console(route: Any) -> bool:
    # The web console's pages (fleet_http/console) are for browsers, not API operations.
    handlers = getattr(route, "route_handlers", None) or [getattr(route, "route_handler", None)]
    return all(handler is not None and handler.opt.get("console") for handler in handlers)


def _served_routes(*apps: Litestar) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for app in apps:
        for route in app.routes:
            if isinstance(route, WebSocketRoute) or route.path.startswith(DOCUMENT_PAGES) or _console(route):
                continue
            assert isinstance(route, HTTPRoute), route
            routes.setdefault(route.path_format, set()).update(route.methods - IMPLICIT_METHODS)
    return routes


async def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_the_document_lists_every_http_route_of_both_apps_with_its_methods(document: dict[str, Any]) -> None:
    documented = {path: {method.upper() for method in item if method in OPERATION_KEYS}
                  for path, item in document["paths"].items()}
    assert documented == _served_routes(*_apps())


async def test_websocket_routes_are_the_only_ones_left_out(document: dict[str, Any]) -> None:
    # OpenAPI cannot describe a WebSocket; docs/api-errors.md names the live-query stream instead.
    management, osquery = _apps()
    left_out = {route.path_format for app in (management, osquery) for route in app.routes
                if route.path_format not in document["paths"] and not route.path.startswith(DOCUMENT_PAGES)
                and not _console(route)}
    assert left_out
    assert all(path.endswith("/websocket") for path in left_out), left_out


async def test_path_parameters_are_real_and_named_once(document: dict[str, Any]) -> None:
    label_hosts = document["paths"]["/api/v1/fleet/labels/{id}/hosts"]["get"]
    names = [(p["name"], p["in"]) for p in label_hosts["parameters"]]
    assert ("id", "path") in names and ("label_id", "query") in names
    assert len(names) == len(set(names))
    for path, item in document["paths"].items():
        for method in OPERATION_KEYS & set(item):
            in_path = {p["name"] for p in item[method].get("parameters", []) if p["in"] == "path"}
            assert in_path == {segment[1:-1] for segment in path.split("/") if segment.startswith("{")}, path


async def test_every_operation_documents_fleets_error_body(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method in OPERATION_KEYS & set(item):
            responses = item[method]["responses"]
            expected = "AgentError" if path.startswith(("/api/osquery/", "/api/v1/osquery/")) else "ErrorBody"
            assert responses["default"]["content"]["application/json"]["schema"]["$ref"].endswith(expected), path
            if "content" in responses.get("400", {}):
                assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody"), path
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert set(error_body["properties"]) == {"message", "errors", "uuid"}


async def test_osquery_routes_carry_their_bodies(document: dict[str, Any]) -> None:
    enroll = document["paths"]["/api/v1/osquery/enroll"]["post"]
    request_ref = enroll["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    response_ref = enroll["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schemas = document["components"]["schemas"]
    assert "enroll_secret" in schemas[request_ref.rsplit("/", 1)[1]]["properties"]
    assert schemas[response_ref.rsplit("/", 1)[1]]["required"] == ["node_key"]


async def test_the_swagger_page_is_served() -> None:
    management, _ = _apps()
    async with AsyncTestClient(management) as client:
        for page in (DOCUMENT_PAGES, f"{DOCUMENT_PAGES}/swagger"):
            response = await client.get(page)
            assert response.status_code == 200, page
            assert "swagger" in response.text.lower()
            assert "/api/v1/osquery/enroll" in response.text
