"""The served OpenAPI document: Litestar's, with Fleet's error body and the other APIs on the port.

Litestar documents each route's parameters and success body, but describes failures with its own
`{"status_code", "detail", "extra"}` shape, which this API never sends: every error here is
`fleet_http.errors.ErrorBody`. `fleet serve` also answers osquery's API on the same port; that
app documents its routes itself (`fleet_osquery.app.openapi_paths`) and the composition root
hands them in, so one document lists every route the server answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import msgspec
from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin

from fleet_http.errors import ErrorBody

# Path items and the component schemas they refer to, in OpenAPI 3.1 (JSON Schema) form.
PathsAndSchemas: TypeAlias = tuple[dict[str, Any], dict[str, Any]]
OtherDocuments: TypeAlias = Callable[[], PathsAndSchemas]

_REF = "#/components/schemas/{name}"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def complete_document(litestar_schema: dict[str, Any], others: OtherDocuments | None) -> dict[str, Any]:
    """A copy of Litestar's document with the error responses made true and `others` merged in."""
    document: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(litestar_schema))
    (error_ref,), error_schemas = msgspec.json.schema_components([ErrorBody], ref_template=_REF)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(error_schemas)
    error_response = {"description": "Fleet's error body; `uuid` is the request id in the server log",
                      "content": {"application/json": {"schema": error_ref}}}
    for path_item in document.get("paths", {}).values():
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            # Litestar's generated 400 describes its own validation body, which is never sent.
            if _is_litestars_validation_body(responses.get("400")):
                responses["400"] = {**error_response, "description": "Bad request"}
            responses.setdefault("default", error_response)
    if others is not None:
        paths, other_schemas = others()
        for name, schema in other_schemas.items():
            if name in schemas and schemas[name] != schema:
                raise ValueError(f"two APIs document different schemas named {name!r}")
            schemas[name] = schema
        for path in paths:
            if path in document["paths"]:
                raise ValueError(f"two APIs document the path {path!r}")
        document["paths"].update(paths)
    return document


def _is_litestars_validation_body(response: dict[str, Any] | None) -> bool:
    schema = (response or {}).get("content", {}).get("application/json", {}).get("schema", {})
    return {"status_code", "detail"} <= set(schema.get("properties", {}))


class _Completing:
    """Renders the completed document instead of Litestar's (built once, on the first request)."""

    others: OtherDocuments | None
    _source: dict[str, Any] | None = None
    _document: dict[str, Any] | None = None

    def completed(self, litestar_schema: dict[str, Any]) -> dict[str, Any]:
        # Litestar caches its schema dict, so the same object comes back on every request.
        if self._document is None or self._source is not litestar_schema:
            self._document = complete_document(litestar_schema, self.others)
            self._source = litestar_schema
        return self._document


class CompleteJson(_Completing, JsonRenderPlugin):
    def __init__(self, others: OtherDocuments | None) -> None:
        super().__init__()
        self.others = others

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self.completed(openapi_schema))


class CompleteSwagger(_Completing, SwaggerRenderPlugin):
    def __init__(self, others: OtherDocuments | None) -> None:
        super().__init__()
        self.others = others

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self.completed(openapi_schema))


def render_plugins(others: OtherDocuments | None) -> list[OpenAPIRenderPlugin]:
    """The Swagger page at `<path>` and `<path>/swagger`, the document at `<path>/openapi.json`."""
    return [CompleteSwagger(others), CompleteJson(others)]
