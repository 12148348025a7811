"""Change password, forgot/reset password (token read from the delivered mail), required reset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import ADMIN_EMAIL, OTHER_PASSWORD, PASSWORD, assert_error, bearer, mail_token

if TYPE_CHECKING:
    from tests.http.support import Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"


async def login_status(fleet: Fleet, email: str, password: str) -> int:
    response = await fleet.client.post(f"{V1}/login", json={"email": email, "password": password})
    return response.status_code


# ---- change password --------------------------------------------------------------------------

async def test_change_password_takes_effect_and_revokes_the_other_sessions(fleet: Fleet) -> None:
    other = await fleet.login(ADMIN_EMAIL)
    response = await fleet.client.post(f"{V1}/change_password", headers=fleet.as_admin,
                                       json={"old_password": PASSWORD, "new_password": OTHER_PASSWORD})
    assert response.status_code == 200, response.text
    assert await login_status(fleet, ADMIN_EMAIL, PASSWORD) == 401
    assert await login_status(fleet, ADMIN_EMAIL, OTHER_PASSWORD) == 200
    assert_error(await fleet.client.get(f"{V1}/me", headers=bearer(other)), 401)
    # The session that made the change stays usable.
    assert (await fleet.client.get(f"{V1}/me", headers=fleet.as_admin)).status_code == 200


async def test_change_password_with_the_wrong_old_password_is_the_documented_422(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/change_password", headers=fleet.as_admin,
                                       json={"old_password": "not-my-password-1!", "new_password": OTHER_PASSWORD})
    body = assert_error(response, 422, "old_password")
    assert body == {"message": "Validation Failed",
                    "errors": [{"name": "old_password", "reason": "old password does not match"}],
                    "uuid": body["uuid"]}


@pytest.mark.parametrize("new_password", ["short1!", "nodigitsatall!!", "n0symb0lsatall12", "a1!" * 17])
async def test_change_password_enforces_the_password_rules(fleet: Fleet, new_password: str) -> None:
    response = await fleet.client.post(f"{V1}/change_password", headers=fleet.as_admin,
                                       json={"old_password": PASSWORD, "new_password": new_password})
    assert_error(response, 422, "new_password")
    assert await login_status(fleet, ADMIN_EMAIL, PASSWORD) == 200


async def test_change_password_without_fields_is_422_naming_both(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/change_password", headers=fleet.as_admin, json={})
    assert_error(response, 422, "old_password", "new_password")


async def test_change_password_with_wrong_types_is_400(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/change_password", headers=fleet.as_admin,
                                       json={"old_password": PASSWORD, "new_password": 123456789012})
    assert_error(response, 400)


# ---- forgot / reset password ------------------------------------------------------------------

async def test_forgot_password_without_smtp_is_a_client_error_naming_the_missing_configuration(
        fleet: Fleet) -> None:
    # Fleet answers 500 "Unknown Error" here; nothing is broken, so this server answers a 400
    # (docs/api-errors.md) with the same reason.
    response = await fleet.client.post(f"{V1}/forgot_password", json={"email": ADMIN_EMAIL})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Bad request"
    assert body["errors"] == [{"name": "base", "reason": "email not configured"}]


async def test_forgot_password_mails_a_token_that_resets_the_password_once(fleet: Fleet) -> None:
    await fleet.enable_smtp()
    sent_before = len(fleet.kit.mailer.sent)
    response = await fleet.client.post(f"{V1}/forgot_password", json={"email": ADMIN_EMAIL})
    assert response.status_code == 200, response.text
    assert len(fleet.kit.mailer.sent) == sent_before + 1
    mail = fleet.kit.mailer.sent[-1]
    assert mail.to == ADMIN_EMAIL
    token = mail_token(mail.text, "Token")
    assert f"https://fleet.example.com/login/reset?token={token}" in mail.text

    reset = await fleet.client.post(f"{V1}/reset_password", json={
        "new_password": OTHER_PASSWORD, "new_password_confirmation": OTHER_PASSWORD, "password_reset_token": token})
    assert reset.status_code == 200, reset.text
    assert await login_status(fleet, ADMIN_EMAIL, OTHER_PASSWORD) == 200
    assert await login_status(fleet, ADMIN_EMAIL, PASSWORD) == 401
    # A reset logs out every session.
    assert_error(await fleet.client.get(f"{V1}/me", headers=fleet.as_admin), 401)

    again = await fleet.client.post(f"{V1}/reset_password", json={
        "new_password": PASSWORD, "new_password_confirmation": PASSWORD, "password_reset_token": token})
    assert_error(again, 404, "base")


async def test_forgot_password_for_an_unknown_email_succeeds_silently(fleet: Fleet) -> None:
    await fleet.enable_smtp()
    sent_before = len(fleet.kit.mailer.sent)
    response = await fleet.client.post(f"{V1}/forgot_password", json={"email": "nobody@example.com"})
    assert response.status_code == 200
    assert len(fleet.kit.mailer.sent) == sent_before


async def test_forgot_password_without_email_is_422(fleet: Fleet) -> None:
    assert_error(await fleet.client.post(f"{V1}/forgot_password", json={}), 422, "email")


async def test_forgot_password_with_a_wrong_type_is_400(fleet: Fleet) -> None:
    assert_error(await fleet.client.post(f"{V1}/forgot_password", json={"email": ["a@example.com"]}), 400)


async def test_reset_password_with_an_unknown_token_is_404(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/reset_password", json={
        "new_password": OTHER_PASSWORD, "new_password_confirmation": OTHER_PASSWORD,
        "password_reset_token": "no-such-token"})
    assert_error(response, 404, "base")


@pytest.mark.parametrize(("body", "names"), [
    ({}, ["password_reset_token", "new_password"]),
    ({"new_password": OTHER_PASSWORD, "new_password_confirmation": OTHER_PASSWORD + "x",
      "password_reset_token": "t"}, ["new_password_confirmation"]),
    ({"new_password": "weak", "new_password_confirmation": "weak", "password_reset_token": "t"}, ["new_password"]),
])
async def test_reset_password_validates_before_touching_the_token(
    fleet: Fleet, body: dict[str, Any], names: list[str]
) -> None:
    assert_error(await fleet.client.post(f"{V1}/reset_password", json=body), 422, *names)


async def test_reset_password_with_a_wrong_type_is_400(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/reset_password", json={
        "new_password": OTHER_PASSWORD, "new_password_confirmation": OTHER_PASSWORD, "password_reset_token": 5})
    assert_error(response, 400)


# ---- required password reset ------------------------------------------------------------------

async def test_require_password_reset_logs_the_user_out_and_forces_a_reset(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    response = await fleet.client.post(f"{V1}/users/{user.id}/require_password_reset", headers=fleet.as_admin,
                                       json={"require": True})
    assert response.status_code == 200, response.text
    assert response.json()["user"]["force_password_reset"] is True
    assert_error(await fleet.client.get(f"{V1}/me", headers=user.headers), 401)

    token = await fleet.login(user.email)
    # Until the reset, the new session reaches nothing but me, logout and the reset itself.
    assert_error(await fleet.client.get(f"{V1}/config", headers=bearer(token)), 401)
    me = await fleet.client.get(f"{V1}/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["user"]["force_password_reset"] is True

    same = await fleet.client.post(f"{V1}/perform_required_password_reset", headers=bearer(token),
                                   json={"new_password": PASSWORD})
    assert_error(same, 422, "new_password")
    done = await fleet.client.post(f"{V1}/perform_required_password_reset", headers=bearer(token),
                                   json={"new_password": OTHER_PASSWORD})
    assert done.status_code == 200, done.text
    assert done.json()["user"]["force_password_reset"] is False
    assert (await fleet.client.get(f"{V1}/config", headers=bearer(token))).status_code == 200
    assert await login_status(fleet, user.email, OTHER_PASSWORD) == 200


async def test_perform_required_password_reset_when_none_is_pending_is_422(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/perform_required_password_reset", headers=fleet.as_admin,
                                       json={"new_password": OTHER_PASSWORD})
    assert_error(response, 422, "new_password")


async def test_perform_required_password_reset_enforces_the_password_rules(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    await fleet.client.post(f"{V1}/users/{user.id}/require_password_reset", headers=fleet.as_admin,
                            json={"require": True})
    token = await fleet.login(user.email)
    response = await fleet.client.post(f"{V1}/perform_required_password_reset", headers=bearer(token),
                                       json={"new_password": "tooweak"})
    assert_error(response, 422, "new_password")


async def test_require_password_reset_can_be_withdrawn(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    url = f"{V1}/users/{user.id}/require_password_reset"
    await fleet.client.post(url, headers=fleet.as_admin, json={"require": True})
    response = await fleet.client.post(url, headers=fleet.as_admin, json={"require": False})
    assert response.status_code == 200
    assert response.json()["user"]["force_password_reset"] is False
    token = await fleet.login(user.email)
    assert (await fleet.client.get(f"{V1}/config", headers=bearer(token))).status_code == 200


async def test_require_password_reset_with_a_wrong_type_is_400(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer", login=False)
    response = await fleet.client.post(f"{V1}/users/{user.id}/require_password_reset", headers=fleet.as_admin,
                                       json={"require": "yes"})
    assert_error(response, 400)


async def test_a_user_created_by_an_admin_must_reset_the_password_by_default(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/users/admin", headers=fleet.as_admin, json={
        "name": "New Hire", "email": "hire@example.com", "password": PASSWORD, "global_role": "observer"})
    assert response.status_code == 200
    assert response.json()["user"]["force_password_reset"] is True
    token = await fleet.login("hire@example.com")
    assert_error(await fleet.client.get(f"{V1}/config", headers=bearer(token)), 401)


@pytest.mark.parametrize(("new_password", "ok"), [
    ("abcdefghi1!", False),        # 11 characters
    ("abcdefghij1!", True),        # 12
    ("a" * 46 + "1!", True),       # 48
    ("a" * 47 + "1!", False),      # 49
    ("abcdefghijk 1", False),      # a space is not a symbol
])
async def test_password_length_bounds_are_12_to_48(fleet: Fleet, new_password: str, ok: bool) -> None:
    response = await fleet.client.post(f"{V1}/change_password", headers=fleet.as_admin,
                                       json={"old_password": PASSWORD, "new_password": new_password})
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert_error(response, 422, "new_password")


async def test_forgot_password_is_rate_limited_per_account(fleet: Fleet) -> None:
    await fleet.enable_smtp()
    statuses = [
        (await fleet.client.post(f"{V1}/forgot_password", json={"email": ADMIN_EMAIL})).status_code
        for _ in range(12)
    ]
    assert statuses[0] == 200
    assert statuses[-1] == 429
    response = await fleet.client.post(f"{V1}/forgot_password", json={"email": ADMIN_EMAIL})
    assert_error(response, 429)
    assert int(response.headers["Retry-After"]) > 0
