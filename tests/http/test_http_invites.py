"""Invites: create (mailing the link once SMTP is on), list, verify, update, delete, and the
sign-up that consumes the invite (POST /users)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import PASSWORD, USER_KEYS, assert_error, assert_timestamp, mail_token

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
INVITE_KEYS = {"created_at", "updated_at", "id", "invited_by", "email", "name", "sso_enabled", "global_role", "teams"}


async def invite(fleet: Fleet, **fields: Any) -> Any:
    body = {"email": "john_appleseed@example.com", "name": "John", "sso_enabled": False, **fields}
    return await fleet.client.post(f"{V1}/invites", headers=fleet.as_admin, json=body)


async def test_create_invite_with_team_roles_returns_the_documented_invite(cast: Cast) -> None:
    fleet = cast.fleet
    response = await invite(fleet, global_role=None, teams=[{"id": cast.team_one, "role": "observer"},
                                                            {"id": cast.team_two, "role": "maintainer"}])
    assert response.status_code == 200, response.text
    body = response.json()["invite"]
    assert INVITE_KEYS <= set(body)
    assert body["invited_by"] == cast["admin"].id
    assert (body["email"], body["name"], body["sso_enabled"], body["global_role"]) == (
        "john_appleseed@example.com", "John", False, None)
    assert [(t["id"], t["name"], t["role"]) for t in body["teams"]] == [
        (cast.team_one, "Team One", "observer"), (cast.team_two, "Team Two", "maintainer")]
    assert_timestamp(body["created_at"])
    assert_timestamp(body["updated_at"])


async def test_create_invite_without_smtp_sends_no_mail(fleet: Fleet) -> None:
    assert (await invite(fleet, global_role="observer")).status_code == 200
    assert fleet.kit.mailer.sent == []


async def test_an_invite_mail_leads_to_a_working_account(fleet: Fleet) -> None:
    await fleet.enable_smtp()
    response = await invite(fleet, global_role="maintainer")
    assert response.status_code == 200, response.text
    mail = fleet.kit.mailer.sent[-1]
    assert mail.to == "john_appleseed@example.com"
    token = mail_token(mail.text, "Invite token")
    assert f"https://fleet.example.com/login/invites/{token}" in mail.text

    verified = await fleet.client.get(f"{V1}/invites/{token}")
    assert verified.status_code == 200, verified.text
    assert verified.json()["invite"]["email"] == "john_appleseed@example.com"
    assert verified.json()["invite"]["global_role"] == "maintainer"

    created = await fleet.client.post(f"{V1}/users", json={
        "email": "john_appleseed@example.com", "invite_token": token, "name": "John Appleseed",
        "password": PASSWORD, "password_confirmation": PASSWORD})
    assert created.status_code == 200, created.text
    user = created.json()["user"]
    assert USER_KEYS <= set(user)
    assert (user["name"], user["global_role"], user["force_password_reset"]) == ("John Appleseed", "maintainer", False)
    await fleet.login("john_appleseed@example.com")

    # The invite is used up.
    assert_error(await fleet.client.get(f"{V1}/invites/{token}"), 404, "base")
    assert (await fleet.client.get(f"{V1}/invites", headers=fleet.as_admin)).json() == {"invites": []}
    again = await fleet.client.post(f"{V1}/users", json={
        "email": "john_appleseed@example.com", "invite_token": token, "name": "John",
        "password": PASSWORD, "password_confirmation": PASSWORD})
    assert_error(again, 404, "base")


async def test_an_invite_gives_its_team_roles_to_the_new_user(cast: Cast) -> None:
    fleet = cast.fleet
    await fleet.enable_smtp()
    await invite(fleet, teams=[{"id": cast.team_two, "role": "admin"}])
    token = mail_token(fleet.kit.mailer.sent[-1].text, "Invite token")
    created = await fleet.client.post(f"{V1}/users", json={
        "email": "john_appleseed@example.com", "invite_token": token, "name": "John",
        "password": PASSWORD, "password_confirmation": PASSWORD})
    assert created.status_code == 200, created.text
    user = created.json()["user"]
    assert user["global_role"] is None
    assert [(t["id"], t["role"]) for t in user["teams"]] == [(cast.team_two, "admin")]


async def test_signing_up_with_an_invite_checks_email_and_password(fleet: Fleet) -> None:
    await fleet.enable_smtp()
    await invite(fleet, global_role="observer")
    token = mail_token(fleet.kit.mailer.sent[-1].text, "Invite token")
    url = f"{V1}/users"
    other_email = await fleet.client.post(url, json={
        "email": "someone-else@example.com", "invite_token": token, "name": "John",
        "password": PASSWORD, "password_confirmation": PASSWORD})
    assert_error(other_email, 422, "email")
    mismatch = await fleet.client.post(url, json={
        "email": "john_appleseed@example.com", "invite_token": token, "name": "John",
        "password": PASSWORD, "password_confirmation": PASSWORD + "x"})
    assert_error(mismatch, 422, "password_confirmation")
    weak = await fleet.client.post(url, json={
        "email": "john_appleseed@example.com", "invite_token": token, "name": "John",
        "password": "password", "password_confirmation": "password"})
    assert_error(weak, 422, "password")
    assert (await fleet.client.get(f"{V1}/invites/{token}")).status_code == 200


async def test_an_invite_expires_after_five_days(fleet: Fleet) -> None:
    await fleet.enable_smtp()
    await invite(fleet, global_role="observer")
    token = mail_token(fleet.kit.mailer.sent[-1].text, "Invite token")
    fleet.clock.advance(dt.timedelta(days=5, minutes=1))
    assert_error(await fleet.client.get(f"{V1}/invites/{token}"), 404, "base")


async def test_verify_invite_with_an_unknown_token_is_the_documented_404(fleet: Fleet) -> None:
    response = await fleet.client.get(f"{V1}/invites/abc123")
    body = assert_error(response, 404)
    assert body["errors"] == [{"name": "base", "reason": "Invite with token abc123 was not found in the datastore"}]


async def test_inviting_an_existing_user_or_a_pending_invitee_is_409(fleet: Fleet) -> None:
    assert_error(await invite(fleet, email="admin@example.com", global_role="observer"), 409, "base")
    assert (await invite(fleet, global_role="observer")).status_code == 200
    assert_error(await invite(fleet, global_role="admin"), 409, "base")


@pytest.mark.parametrize(("fields", "names"), [
    ({"email": "", "name": "", "global_role": "observer"}, ["email", "name"]),
    ({"email": "not-an-email", "global_role": "observer"}, ["email"]),
    ({}, ["global_role"]),
    ({"global_role": "god"}, ["global_role"]),
    ({"global_role": "observer", "teams": [{"id": 1, "role": "observer"}]}, ["global_role"]),
])
async def test_create_invite_validation_is_422(fleet: Fleet, fields: dict[str, Any], names: list[str]) -> None:
    await fleet.add_team("Team One")
    assert_error(await invite(fleet, **fields), 422, *names)


@pytest.mark.parametrize(("fields", "name"), [
    ({"email": 7, "global_role": "observer"}, "email"),
    # Text that merely looks like the right type is still the wrong JSON type, as in Fleet.
    ({"sso_enabled": "false", "global_role": "observer"}, "sso_enabled"),
    ({"teams": [{"id": "2", "role": "observer"}]}, "teams[0].id"),
    ({"teams": [{"role": "observer"}]}, "teams[0]"),
])
async def test_create_invite_with_wrong_types_is_400_naming_the_field(
    fleet: Fleet, fields: dict[str, Any], name: str
) -> None:
    body = assert_error(await invite(fleet, **fields), 400, name)
    assert body["message"] == "Bad request"
    assert fleet.kit.mailer.sent == []


async def test_create_invite_for_an_unknown_team_is_404(fleet: Fleet) -> None:
    assert_error(await invite(fleet, teams=[{"id": 9999, "role": "observer"}]), 404, "base")


async def test_list_invites_searches_orders_and_pages(fleet: Fleet) -> None:
    for name, email in (("Carol", "carol@example.com"), ("Alice", "alice@example.com"), ("Bob", "bob@corp.test")):
        assert (await invite(fleet, name=name, email=email, global_role="observer")).status_code == 200
    url, admin = f"{V1}/invites", fleet.as_admin
    listed = (await fleet.client.get(url, headers=admin)).json()["invites"]
    assert [i["name"] for i in listed] == ["Carol", "Alice", "Bob"]
    for item in listed:
        assert INVITE_KEYS <= set(item)
    by_name = await fleet.client.get(url, headers=admin, params={"order_key": "name", "order_direction": "desc"})
    assert [i["name"] for i in by_name.json()["invites"]] == ["Carol", "Bob", "Alice"]
    found = await fleet.client.get(url, headers=admin, params={"query": "example.com"})
    assert sorted(i["name"] for i in found.json()["invites"]) == ["Alice", "Carol"]
    page = await fleet.client.get(url, headers=admin, params={"order_key": "name", "per_page": 1, "page": 1})
    assert [i["name"] for i in page.json()["invites"]] == ["Bob"]
    assert_error(await fleet.client.get(url, headers=admin, params={"order_key": "token_hash"}), 422, "order_key")


async def test_update_invite(cast: Cast) -> None:
    fleet = cast.fleet
    invite_id = (await invite(fleet, global_role="observer")).json()["invite"]["id"]
    response = await fleet.client.patch(f"{V1}/invites/{invite_id}", headers=fleet.as_admin, json={
        "email": "john@example.com", "name": "Johnny", "sso_enabled": False, "global_role": None,
        "teams": [{"id": cast.team_one, "role": "observer"}]})
    assert response.status_code == 200, response.text
    body = response.json()["invite"]
    assert (body["email"], body["name"], body["global_role"]) == ("john@example.com", "Johnny", None)
    assert [(t["id"], t["role"]) for t in body["teams"]] == [(cast.team_one, "observer")]
    only_name = await fleet.client.patch(f"{V1}/invites/{invite_id}", headers=fleet.as_admin, json={"name": "J"})
    body = only_name.json()["invite"]
    assert (body["email"], body["name"], body["global_role"]) == ("john@example.com", "J", None)
    assert len(body["teams"]) == 1


@pytest.mark.parametrize(("fields", "status", "name"), [
    ({"email": "bad"}, 422, "email"),
    ({"name": ""}, 422, "name"),
    ({"global_role": "observer", "teams": [{"id": 1, "role": "observer"}]}, 422, "global_role"),
    ({"email": "admin@example.com"}, 409, "base"),
    ({"name": 5}, 400, None),
])
async def test_update_invite_rejects_bad_changes(
    fleet: Fleet, fields: dict[str, Any], status: int, name: str | None
) -> None:
    await fleet.add_team("Team One")
    invite_id = (await invite(fleet, global_role="observer")).json()["invite"]["id"]
    response = await fleet.client.patch(f"{V1}/invites/{invite_id}", headers=fleet.as_admin, json=fields)
    assert_error(response, status, *([name] if name else []))


async def test_delete_invite_makes_its_token_useless(fleet: Fleet) -> None:
    await fleet.enable_smtp()
    invite_id = (await invite(fleet, global_role="observer")).json()["invite"]["id"]
    token = mail_token(fleet.kit.mailer.sent[-1].text, "Invite token")
    response = await fleet.client.delete(f"{V1}/invites/{invite_id}", headers=fleet.as_admin)
    assert response.status_code == 200
    assert_error(await fleet.client.get(f"{V1}/invites/{token}"), 404)
    assert_error(await fleet.client.delete(f"{V1}/invites/{invite_id}", headers=fleet.as_admin), 404)


async def test_a_team_admin_sees_only_invites_to_their_teams(cast: Cast) -> None:
    fleet = cast.fleet
    await invite(fleet, email="global@example.com", global_role="observer")
    await invite(fleet, email="one@example.com", teams=[{"id": cast.team_one, "role": "observer"}])
    await invite(fleet, email="two@example.com", teams=[{"id": cast.team_two, "role": "observer"}])
    response = await fleet.client.get(f"{V1}/invites", headers=cast["team_admin"].headers)
    assert response.status_code == 200
    assert [i["email"] for i in response.json()["invites"]] == ["one@example.com"]


async def test_signing_up_cannot_choose_roles_other_than_the_invites(cast: Cast) -> None:
    fleet = cast.fleet
    await fleet.enable_smtp()
    await invite(fleet, global_role="observer")
    token = mail_token(fleet.kit.mailer.sent[-1].text, "Invite token")
    created = await fleet.client.post(f"{V1}/users", json={
        "email": "john_appleseed@example.com", "invite_token": token, "name": "John", "password": PASSWORD,
        "password_confirmation": PASSWORD, "global_role": "admin", "api_only": True})
    assert created.status_code == 200, created.text
    user = created.json()["user"]
    assert (user["global_role"], user["teams"], user["api_only"]) == ("observer", [], False)
