"""GET /metrics as `fleet serve` answers it (serve/metrics_endpoint.py): Fleet's three cases of
--prometheus-basic-auth-*, and the request metrics labelled with the route template."""

from __future__ import annotations

import base64

import httpx
import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from fleet_adapters.serve.metrics_endpoint import MetricsEndpoint
from fleet_adapters.settings import Settings

pytestmark = pytest.mark.anyio

USER, PASSWORD = "prom", "pass:with:colons"


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fleet.test")  # type: ignore[arg-type]


def test_served_with_credentials_openly_when_disabled_and_not_at_all_otherwise() -> None:
    assert MetricsEndpoint(Settings(prometheus_basic_auth_username=USER,
                                    prometheus_basic_auth_password=PASSWORD)).enabled
    assert MetricsEndpoint(Settings(prometheus_basic_auth_disable=True)).enabled
    assert not MetricsEndpoint(Settings()).enabled
    # One of the two is not enough (Fleet needs both).
    assert not MetricsEndpoint(Settings(prometheus_basic_auth_username=USER)).enabled


async def test_the_credentials_are_required_when_set_even_with_the_disable_flag() -> None:
    endpoint = MetricsEndpoint(Settings(prometheus_basic_auth_username=USER, prometheus_basic_auth_password=PASSWORD,
                                        prometheus_basic_auth_disable=True))
    async with client(endpoint) as c:
        refused = await c.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="metrics"'
        assert refused.json() == {"message": "Authentication required"}
        for bad in [(USER, "wrong"), ("other", PASSWORD), (USER, PASSWORD + "x"), (USER, "")]:
            assert (await c.get("/metrics", auth=bad)).status_code == 401, bad
        for header in ["Bearer abc", "Basic", "Basic !!notbase64", "Basic " + base64.b64encode(b"nocolon").decode()]:
            assert (await c.get("/metrics", headers={"Authorization": header})).status_code == 401, header
        ok = await c.get("/metrics", auth=(USER, PASSWORD))
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/plain; version=")
        names = {family.name for family in text_string_to_metric_families(ok.text)}
        assert {"fleet_http_request_duration_seconds", "fleet_hosts_enrolled", "fleet_job_duration_seconds",
                "fleet_postgres_pool_connections", "fleet_redis_commands", "fleet_cache_lookups"} <= names
        head = await c.head("/metrics", auth=(USER, PASSWORD))
        assert (head.status_code, head.content) == (200, b"")
        post = await c.post("/metrics", auth=(USER, PASSWORD))
        assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
        # Without the credentials, not even the method is told.
        assert (await c.post("/metrics")).status_code == 401


async def test_disabled_auth_serves_anyone() -> None:
    async with client(MetricsEndpoint(Settings(prometheus_basic_auth_disable=True))) as c:
        assert (await c.get("/metrics")).status_code == 200


@get("/api/v1/fleet/invites/{token:str}")
async def invite(token: FromPath[str]) -> dict[str, str]:
    return {"ok": "yes"}


async def test_requests_are_counted_by_route_template_never_by_raw_path() -> None:
    app = Litestar([invite])
    endpoint = MetricsEndpoint(Settings(prometheus_basic_auth_disable=True))

    async def metered_app(scope: object, receive: object, send: object) -> None:
        await endpoint.metered(app, "fleet", scope, receive, send)  # type: ignore[arg-type]

    def count(route: str, status: str) -> float:
        return REGISTRY.get_sample_value("fleet_http_request_duration_seconds_count", {
            "api": "fleet", "method": "GET", "route": route, "status": status}) or 0.0

    template = "/api/v1/fleet/invites/{token}"
    before, unmatched = count(template, "200"), count("<unmatched>", "404")
    async with client(metered_app) as c:
        assert (await c.get("/api/v1/fleet/invites/secret-token-1")).status_code == 200
        assert (await c.get("/api/v1/fleet/invites/secret-token-2")).status_code == 200
        assert (await c.get("/no/such/secret-path")).status_code == 404
    assert count(template, "200") - before == 2
    assert count("<unmatched>", "404") - unmatched == 1
    # The raw paths (where tokens travel) are nowhere in the metrics.
    assert all("secret" not in str(s.labels) for f in REGISTRY.collect() for s in f.samples)
