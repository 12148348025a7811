"""POST /api/v1/setup (contributor API "Setup"), healthz, version, and the two API prefixes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from fleet_core.version import VERSION
from tests.http.support import assert_error, assert_timestamp

if TYPE_CHECKING:
    from tests.http.support import Fleet

pytestmark = pytest.mark.anyio

PASSWORD = "correct-horse-9!battery"


def setup_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "admin": {"admin": True, "email": "jane@example.com", "name": "Jane Doe", "password": PASSWORD,
                  "password_confirmation": PASSWORD},
        "org_info": {"org_name": "Fleet Device Management"},
        "server_url": "https://localhost:8080",
    }
    body.update(overrides)
    return body


async def test_setup_creates_the_first_admin_and_returns_a_working_token(blank: Fleet) -> None:
    response = await blank.client.post("/api/v1/setup", json=setup_body())
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"admin", "org_info", "server_url", "osquery_enroll_secret", "token"}
    assert body["admin"]["global_role"] == "admin"
    assert body["admin"]["email"] == "jane@example.com"
    assert body["admin"]["teams"] == []
    assert body["org_info"]["org_name"] == "Fleet Device Management"
    assert body["server_url"] == "https://localhost:8080"
    me = await blank.client.get("/api/v1/fleet/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["user"]["id"] == body["admin"]["id"]


async def test_setup_works_under_the_latest_prefix(blank: Fleet) -> None:
    response = await blank.client.post("/api/latest/setup", json=setup_body())
    assert response.status_code == 200, response.text


async def test_setup_timestamps_are_rfc3339_utc(blank: Fleet) -> None:
    admin = (await blank.client.post("/api/v1/setup", json=setup_body())).json()["admin"]
    assert_timestamp(admin["created_at"])
    assert_timestamp(admin["updated_at"])


async def test_setup_can_only_run_once(fleet: Fleet) -> None:
    second = setup_body(admin={"admin": True, "email": "mallory@example.com", "name": "Mallory",
                               "password": PASSWORD, "password_confirmation": PASSWORD})
    response = await fleet.client.post("/api/v1/setup", json=second)
    assert_error(response, 409, "base")
    login = await fleet.client.post("/api/v1/fleet/login", json={"email": "mallory@example.com", "password": PASSWORD})
    assert login.status_code == 401


async def test_setup_with_nothing_filled_in_names_every_missing_field(blank: Fleet) -> None:
    response = await blank.client.post("/api/v1/setup", json={})
    assert_error(response, 422, "admin.name", "admin.email", "admin.password", "org_info.org_name", "server_url")


@pytest.mark.parametrize(("field", "value"), [
    ("password", "short1!"),
    ("password", "no-digits-in-here!"),
    ("password", "n0symbolsinthisone"),
    ("password", "x1!" * 17),
    ("email", "not-an-email"),
    ("name", "   "),
])
async def test_setup_rejects_an_invalid_admin_field_with_422(blank: Fleet, field: str, value: str) -> None:
    admin = {"admin": True, "email": "jane@example.com", "name": "Jane", "password": PASSWORD,
             "password_confirmation": PASSWORD, field: value}
    if field == "password":
        admin["password_confirmation"] = value
    response = await blank.client.post("/api/v1/setup", json=setup_body(admin=admin))
    body = assert_error(response, 422, f"admin.{field}")
    assert body["message"] == "Validation Failed"
    assert (await blank.client.post("/api/v1/setup", json=setup_body())).status_code == 200


async def test_setup_rejects_a_password_confirmation_that_does_not_match(blank: Fleet) -> None:
    admin = {"email": "jane@example.com", "name": "Jane", "password": PASSWORD,
             "password_confirmation": PASSWORD + "x"}
    response = await blank.client.post("/api/v1/setup", json=setup_body(admin=admin))
    assert_error(response, 422, "admin.password_confirmation")


async def test_setup_rejects_a_server_url_without_scheme(blank: Fleet) -> None:
    response = await blank.client.post("/api/v1/setup", json=setup_body(server_url="localhost:8080"))
    assert_error(response, 422, "server_url")


@pytest.mark.parametrize("body", [
    {"admin": "jane@example.com"},
    {"admin": {"email": 42}},
    {"admin": {"password": ["a"]}},
    {"org_info": {"org_name": 7}},
    {"server_url": 8080},
])
async def test_setup_rejects_wrong_json_types_with_400(blank: Fleet, body: dict[str, Any]) -> None:
    response = await blank.client.post("/api/v1/setup", json=setup_body(**body))
    assert_error(response, 400)


async def test_healthz_needs_no_token_and_reports_each_backing_service(blank: Fleet) -> None:
    response = await blank.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"memory": True}


async def test_version_reports_fleet_fields(fleet: Fleet) -> None:
    for prefix in ("/api/v1", "/api/latest"):
        response = await fleet.client.get(f"{prefix}/fleet/version", headers=fleet.as_admin)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"version", "branch", "revision", "go_version", "build_date", "build_user"}
        assert body["version"] == VERSION


async def test_error_bodies_carry_the_request_id_as_uuid(fleet: Fleet) -> None:
    response = await fleet.client.get("/api/v1/fleet/users/9999", headers=fleet.as_admin)
    assert response.status_code == 404
    assert response.json()["uuid"] == response.headers["x-request-id"]
