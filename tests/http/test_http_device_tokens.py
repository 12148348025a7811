"""Device tokens over HTTP: expiry, what is never a device token, the error body of every
refusal, rate limits (429), and the agent error reports kept for the admins."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from fleet_core.services.device import DEVICE_CALLS_PER_TOKEN, DEVICE_FAILURES_PER_ADDRESS
from tests.http.support import assert_error, assert_timestamp
from tests.http.test_http_device import issue
from tests.http.test_http_device_routes import ERROR_REPORT, PREFIXES, ROUTES, call
from tests.http.test_http_hosts import add_host

if TYPE_CHECKING:
    from tests.http.support import Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
UNAUTHENTICATED = {"message": "Authentication Failed",
                   "errors": [{"name": "base", "reason": "Authentication required"}]}


def refusal(response: Any) -> dict[str, Any]:
    """A 401's body without its request id (which differs on every answer)."""
    assert response.status_code == 401, response.text
    body = dict(response.json())
    assert body.pop("uuid")
    return body


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_an_expired_token_is_refused_on_every_route_like_an_unknown_one(fleet: Fleet, prefix: str) -> None:
    host = await add_host(fleet, "laptop")
    issued = await fleet.client.post(f"{V1}/hosts/{host}/device_token", headers=fleet.as_admin)
    token, expires_at = issued.json()["device_token"], issued.json()["expires_at"]
    assert_timestamp(expires_at)
    assert dt.datetime.fromisoformat(expires_at) == fleet.clock.now() + dt.timedelta(hours=1)
    assert (await fleet.client.get(f"{prefix}/device/{token}/desktop")).status_code == 200

    fleet.clock.advance(dt.timedelta(hours=1))
    for method, suffix, body, _ in ROUTES:
        expired = await call(fleet, method, f"{prefix}/device/{token}{suffix}", body)
        unknown = await call(fleet, method, f"{prefix}/device/{'x' * len(token)}{suffix}", body)
        assert refusal(expired) == refusal(unknown) == UNAUTHENTICATED, suffix


async def test_a_node_key_or_a_session_token_is_no_device_token_and_headers_unlock_nothing(fleet: Fleet) -> None:
    host = await add_host(fleet, "laptop", node_key="the-node-key")
    await issue(fleet, host)
    assert fleet.admin is not None
    for not_a_device_token in ("the-node-key", fleet.admin.token):
        for method, suffix, body, _ in ROUTES:
            response = await call(fleet, method, f"{V1}/device/{not_a_device_token}{suffix}", body)
            assert refusal(response) == UNAUTHENTICATED
    # An admin's Authorization header does not stand in for the device token.
    response = await fleet.client.get(f"{V1}/device/unknown/policies", headers=fleet.as_admin)
    assert refusal(response) == UNAUTHENTICATED


async def test_failures_from_one_address_end_in_429_with_fleets_error_body(fleet: Fleet) -> None:
    token = await issue(fleet, await add_host(fleet, "laptop"))
    for attempt in range(DEVICE_FAILURES_PER_ADDRESS):
        refusal(await fleet.client.get(f"{V1}/device/guess-{attempt}/desktop"))
    limited = await fleet.client.get(f"{V1}/device/{token}/desktop")
    assert_error(limited, 429)
    assert int(limited.headers["retry-after"]) > 0


async def test_calls_with_one_token_end_in_429(fleet: Fleet) -> None:
    token = await issue(fleet, await add_host(fleet, "laptop"))
    for _ in range(DEVICE_CALLS_PER_TOKEN):
        assert (await fleet.client.get(f"{V1}/device/{token}/api_features")).status_code == 200
    assert_error(await fleet.client.get(f"{V1}/device/{token}/policies"), 429)
    # The window ends and the token works again.
    fleet.clock.advance(dt.timedelta(minutes=1))
    assert (await fleet.client.get(f"{V1}/device/{token}/policies")).status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_error_reports_are_kept_bounded_and_without_the_token(fleet: Fleet, prefix: str) -> None:
    host = await add_host(fleet, "laptop")
    token = await issue(fleet, host)
    response = await fleet.client.post(f"{prefix}/device/{token}/debug/errors", json=ERROR_REPORT)
    assert_error(response, 500)
    huge = {**ERROR_REPORT, "error_message": "y" * 100_000}
    assert_error(await fleet.client.post(f"{prefix}/device/{token}/debug/errors", json=huge), 500)

    first, second = await fleet.kit.services.error_reports.list()
    assert first["host_id"] == host and first["hostname"] == "laptop.local"
    assert first["error_message"] == ERROR_REPORT["error_message"]
    assert first["error_additional_info"] == ERROR_REPORT["error_additional_info"]
    assert second["truncated"] is True and len(second["excerpt"]) < 17 * 1024
    assert token not in repr([first, second])
