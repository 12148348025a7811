"""Log in, log out, me, session expiry and revocation, the login rate limit, SSO settings."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import ADMIN_EMAIL, PASSWORD, USER_KEYS, assert_error, assert_timestamp, bearer

if TYPE_CHECKING:
    from tests.http.support import Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"


async def test_login_returns_the_user_and_a_token_that_authenticates(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"user", "token"} <= set(body)
    assert USER_KEYS <= set(body["user"])
    assert body["user"]["email"] == ADMIN_EMAIL
    assert body["user"]["global_role"] == "admin"
    assert body["user"]["enabled"] is True
    assert_timestamp(body["user"]["created_at"])
    me = await fleet.client.get(f"{V1}/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["user"]["email"] == ADMIN_EMAIL


async def test_login_email_is_case_insensitive(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/login", json={"email": ADMIN_EMAIL.upper(), "password": PASSWORD})
    assert response.status_code == 200, response.text


async def test_each_login_opens_a_separate_session(fleet: Fleet) -> None:
    first = await fleet.login(ADMIN_EMAIL)
    second = await fleet.login(ADMIN_EMAIL)
    assert first != second
    assert (await fleet.client.get(f"{V1}/me", headers=bearer(first))).status_code == 200
    assert (await fleet.client.get(f"{V1}/me", headers=bearer(second))).status_code == 200


@pytest.mark.parametrize(("email", "password"), [
    (ADMIN_EMAIL, "wrong-password-1!"),
    ("nobody@example.com", PASSWORD),
])
async def test_login_with_bad_credentials_is_401_and_does_not_say_which_part_was_wrong(
    fleet: Fleet, email: str, password: str
) -> None:
    response = await fleet.client.post(f"{V1}/login", json={"email": email, "password": password})
    body = assert_error(response, 401, "base")
    assert body["message"] == "Authentication Failed"
    assert body["errors"][0]["reason"] == "Authentication failed"


@pytest.mark.parametrize(("body", "names"), [
    ({}, ["email", "password"]),
    ({"email": ADMIN_EMAIL}, ["password"]),
    ({"password": PASSWORD}, ["email"]),
])
async def test_login_without_email_or_password_is_422_naming_them(
    fleet: Fleet, body: dict[str, Any], names: list[str]
) -> None:
    assert_error(await fleet.client.post(f"{V1}/login", json=body), 422, *names)


@pytest.mark.parametrize("body", [{"email": 1, "password": PASSWORD}, {"email": ADMIN_EMAIL, "password": None}])
async def test_login_with_wrong_json_types_is_400(fleet: Fleet, body: dict[str, Any]) -> None:
    assert_error(await fleet.client.post(f"{V1}/login", json=body), 400)


async def test_failed_logins_are_rate_limited_with_retry_after(fleet: Fleet) -> None:
    statuses = []
    for _ in range(12):
        response = await fleet.client.post(f"{V1}/login", json={"email": ADMIN_EMAIL, "password": "wrong-pass-12!"})
        statuses.append(response.status_code)
    assert statuses[0] == 401
    assert statuses[-1] == 429
    body = assert_error(response, 429, "base")
    assert body["message"] == "Too Many Requests"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 300
    # The limit holds even for the right password until the window passes.
    blocked = await fleet.client.post(f"{V1}/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert blocked.status_code == 429
    fleet.clock.advance(dt.timedelta(seconds=retry_after))
    after = await fleet.client.post(f"{V1}/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert after.status_code == 200


async def test_successful_logins_are_not_rate_limited(fleet: Fleet) -> None:
    # Only failures count: a script logging in many times from one address keeps working.
    for _ in range(60):
        response = await fleet.client.post(f"{V1}/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
        assert response.status_code == 200, response.text


async def test_failed_logins_are_recorded_as_activities(fleet: Fleet) -> None:
    await fleet.client.post(f"{V1}/login", json={"email": ADMIN_EMAIL, "password": "wrong-pass-12!"})
    activities = (await fleet.client.get(f"{V1}/activities", headers=fleet.as_admin)).json()["activities"]
    failed = [a for a in activities if a["type"] == "user_failed_login"]
    assert len(failed) == 1
    assert failed[0]["details"]["email"] == ADMIN_EMAIL
    assert failed[0]["actor_id"] is None


async def test_me_returns_the_caller(fleet: Fleet) -> None:
    response = await fleet.client.get(f"{V1}/me", headers=fleet.as_admin)
    assert response.status_code == 200
    body = response.json()
    assert USER_KEYS <= set(body["user"])
    assert body["user"]["id"] == fleet.admin.id if fleet.admin else False


async def test_me_accepts_the_token_as_a_query_parameter(fleet: Fleet) -> None:
    assert fleet.admin is not None
    response = await fleet.client.get(f"{V1}/me", params={"token": fleet.admin.token})
    assert response.status_code == 200


async def test_logout_revokes_only_the_session_it_was_sent_with(fleet: Fleet) -> None:
    other = await fleet.login(ADMIN_EMAIL)
    response = await fleet.client.post(f"{V1}/logout", headers=fleet.as_admin)
    assert response.status_code == 200
    assert_error(await fleet.client.get(f"{V1}/me", headers=fleet.as_admin), 401)
    assert (await fleet.client.get(f"{V1}/me", headers=bearer(other))).status_code == 200


async def test_a_session_expires_after_the_session_duration_without_use(fleet: Fleet) -> None:
    duration = fleet.kit.services.runtime.session_duration
    fleet.clock.advance(duration - dt.timedelta(minutes=5))
    assert (await fleet.client.get(f"{V1}/me", headers=fleet.as_admin)).status_code == 200
    fleet.clock.advance(duration + dt.timedelta(seconds=1))
    body = assert_error(await fleet.client.get(f"{V1}/me", headers=fleet.as_admin), 401, "base")
    assert body["message"] == "Authentication Failed"


async def test_a_deleted_users_token_stops_working(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    assert (await fleet.client.delete(f"{V1}/users/{user.id}", headers=fleet.as_admin)).status_code == 200
    assert_error(await fleet.client.get(f"{V1}/me", headers=user.headers), 401)


async def test_list_and_delete_own_sessions(fleet: Fleet) -> None:
    assert fleet.admin is not None
    other = await fleet.login(ADMIN_EMAIL)
    listed = await fleet.client.get(f"{V1}/users/{fleet.admin.id}/sessions", headers=fleet.as_admin)
    assert listed.status_code == 200
    sessions = listed.json()["sessions"]
    assert len(sessions) == 2
    for session in sessions:
        assert set(session) == {"session_id", "user_id", "created_at"}
        assert session["user_id"] == fleet.admin.id
        assert_timestamp(session["created_at"])
    one = await fleet.client.get(f"{V1}/sessions/{sessions[1]['session_id']}", headers=fleet.as_admin)
    assert one.status_code == 200
    assert one.json() == sessions[1]
    deleted = await fleet.client.delete(f"{V1}/sessions/{sessions[1]['session_id']}", headers=fleet.as_admin)
    assert deleted.status_code == 200
    assert_error(await fleet.client.get(f"{V1}/me", headers=bearer(other)), 401)
    assert_error(await fleet.client.get(f"{V1}/sessions/{sessions[1]['session_id']}", headers=fleet.as_admin), 404)


async def test_every_user_may_read_their_own_sessions(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    response = await fleet.client.get(f"{V1}/users/{user.id}/sessions", headers=user.headers)
    assert response.status_code == 200
    session_id = response.json()["sessions"][0]["session_id"]
    assert (await fleet.client.get(f"{V1}/sessions/{session_id}", headers=user.headers)).status_code == 200
    assert (await fleet.client.delete(f"{V1}/users/{user.id}/sessions", headers=user.headers)).status_code == 200
    assert_error(await fleet.client.get(f"{V1}/me", headers=user.headers), 401)


async def test_deleting_a_users_sessions_logs_them_out_everywhere(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    second = await fleet.login(user.email)
    response = await fleet.client.delete(f"{V1}/users/{user.id}/sessions", headers=fleet.as_admin)
    assert response.status_code == 200
    for token in (user.token, second):
        assert_error(await fleet.client.get(f"{V1}/me", headers=bearer(token)), 401)
    listed = await fleet.client.get(f"{V1}/users/{user.id}/sessions", headers=fleet.as_admin)
    assert listed.json() == {"sessions": []}


async def test_sso_settings_are_public(fleet: Fleet) -> None:
    response = await fleet.client.get(f"{V1}/sso")
    assert response.status_code == 200
    assert response.json() == {"settings": {"idp_name": "", "idp_image_url": "", "sso_enabled": False}}


async def test_initiating_sso_when_it_is_not_configured_is_an_error_not_a_silent_success(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/sso", json={"relay_url": "/hosts/manage"})
    assert_error(response, 400, "base")
    assert response.json()["errors"][0]["reason"] == "SSO is not configured"


async def test_a_team_users_login_lists_their_teams(fleet: Fleet) -> None:
    team = await fleet.add_team("Apples")
    user = await fleet.create_user(teams=[{"id": team, "role": "maintainer"}], login=False)
    response = await fleet.client.post(f"{V1}/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["global_role"] is None
    assert [(t["id"], t["name"], t["role"]) for t in body["user"]["teams"]] == [(team, "Apples", "maintainer")]
    assert [t["id"] for t in body["available_teams"]] == [team]
