"""A 5xx body says only that something failed and under which request id: the exception's text
(which may name hosts, statements or files) goes to the log with the traceback, never to the client."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.exceptions import ImproperlyConfiguredException, InternalServerException
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from fleet_core.errors import FleetError, Unavailable
from fleet_http.errors import EXCEPTION_HANDLERS

pytestmark = pytest.mark.anyio

SECRET = "password=hunter2 at db.internal:5432"


class _Unmapped(FleetError):
    """A FleetError no status is mapped to: a bug, rendered as 500."""


@get("/crash")
async def crash() -> None:
    raise RuntimeError(SECRET)


@get("/framework")
async def framework() -> None:
    raise ImproperlyConfiguredException(SECRET)


@get("/framework-500")
async def framework_500() -> None:
    raise InternalServerException(detail=SECRET)


@get("/unmapped")
async def unmapped() -> None:
    raise _Unmapped(SECRET)


@get("/unavailable")
async def unavailable() -> None:
    raise Unavailable("rate limiter unavailable")


def _app() -> Litestar:
    return Litestar([crash, framework, framework_500, unmapped, unavailable], exception_handlers=EXCEPTION_HANDLERS,
                    logging_config=None, openapi_config=None)


@pytest.mark.parametrize("path", ["/crash", "/framework", "/framework-500", "/unmapped"])
async def test_a_server_error_answers_a_generic_reason_and_the_request_id(path: str) -> None:
    async with AsyncTestClient(_app()) as client:
        with capture_logs() as logs:
            response = await client.get(path)
    assert response.status_code == 500
    assert SECRET not in response.text and "hunter2" not in response.text
    body = response.json()
    assert body["message"] == "Internal Server Error"
    assert body["errors"] == [{"name": "base", "reason": "internal error, see the server log for this uuid"}]
    assert body["uuid"]
    # The details are in the log, under the same id.
    logged = [entry for entry in logs if entry.get("uuid") == body["uuid"]]
    assert logged, logs
    assert any(SECRET in str(entry.get("reason", "")) or entry.get("exc_info") for entry in logged)


async def test_an_unavailable_dependency_is_named_for_the_client() -> None:
    async with AsyncTestClient(_app()) as client:
        response = await client.get("/unavailable")
    assert response.status_code == 503
    assert response.json()["errors"] == [{"name": "base", "reason": "rate limiter unavailable"}]
