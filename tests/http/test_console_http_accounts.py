"""The console's account pages over the in-memory kit: forced reset, My account, single sign-on,
the Secure cookie over TLS, and the team switcher."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fleet_http.console.session import SESSION_COOKIE
from tests.http.sso_test_idp import SigningIdP
from tests.http.support import ADMIN_EMAIL, PASSWORD, Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
NEW_PASSWORD = "brand-new-pass-7!"
SSO_EMAIL = "sam@example.com"


@pytest.fixture(autouse=True)
def _no_redirects(client: AsyncTestClient[Litestar]) -> None:
    client.follow_redirects = False


@pytest.fixture
def idp() -> Iterator[SigningIdP]:
    with SigningIdP(user_email=SSO_EMAIL).serve() as served:
        yield served


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def console_login(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    return await client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(page)})


async def test_a_forced_reset_comes_before_every_page_and_then_lets_the_user_in(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer", login=False)
    required = await fleet.client.post(f"{V1}/users/{user.id}/require_password_reset",
                                       json={"require": True}, headers=fleet.as_admin)
    assert required.status_code == 200, required.text
    client = fleet.client
    assert (await console_login(client, user.email)).status_code == 303
    dashboard = await client.get("/")
    assert dashboard.status_code == 303 and dashboard.headers["location"] == "/login/password-reset"
    page = await client.get("/login/password-reset")
    assert page.status_code == 200 and 'aria-label="Main"' not in page.text
    mismatch = await client.post("/login/password-reset", data={
        "new_password": NEW_PASSWORD, "new_password_confirmation": "other", "csrf_token": csrf_of(page)})
    assert mismatch.status_code == 422
    reused = await client.post("/login/password-reset", data={
        "new_password": PASSWORD, "new_password_confirmation": PASSWORD, "csrf_token": csrf_of(page)})
    assert reused.status_code == 422 and "cannot reuse old password" in reused.text
    done = await client.post("/login/password-reset", data={
        "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD, "csrf_token": csrf_of(page)})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert (await client.get("/")).status_code == 200
    assert (await fleet.client.post(f"{V1}/login", json={"email": user.email, "password": NEW_PASSWORD})
            ).status_code == 200


async def test_my_account_changes_the_password_and_shows_the_api_token(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    page = await client.get("/account")
    assert page.status_code == 200 and ADMIN_EMAIL in page.text
    token = client.cookies.get(SESSION_COOKIE)
    assert token and token not in page.text, "the token is shown only when asked for"
    shown = await client.post("/account/api-token", data={"csrf_token": csrf_of(page)})
    assert shown.status_code == 200 and f'value="{token}"' in shown.text
    assert shown.headers["cache-control"] == "no-store"
    wrong = await client.post("/account/password", data={
        "old_password": "not-it-1!", "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD,
        "csrf_token": csrf_of(page)})
    assert wrong.status_code == 422 and "old password does not match" in wrong.text
    # The API session the setup opened is signed out by the change; this browser's stays.
    changed = await client.post("/account/password", data={
        "old_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD,
        "csrf_token": csrf_of(page)})
    assert changed.status_code == 303 and changed.headers["location"] == "/account"
    assert (await client.get("/account")).status_code == 200
    assert (await client.get(f"{V1}/me", headers=fleet.as_admin)).status_code == 401


async def test_the_session_cookie_is_secure_over_tls(fleet: Fleet) -> None:
    page = await fleet.client.get("https://fleet.example.com/login")
    response = await fleet.client.post("https://fleet.example.com/login", data={
        "email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": csrf_of(page)})
    assert response.status_code == 303
    session = next(v for v in response.headers.get_list("set-cookie") if v.startswith(f"{SESSION_COOKIE}="))
    assert "Secure" in session and "HttpOnly" in session
    plain_page = await fleet.client.get("/login")
    assert "Secure" not in plain_page.headers["set-cookie"]


async def test_sign_in_with_the_idp_ends_with_the_session_in_the_cookie(fleet: Fleet, idp: SigningIdP) -> None:
    configured = await fleet.client.patch(f"{V1}/config", headers=fleet.as_admin, json={"sso_settings": {
        "enable_sso": True, "entity_id": "https://fleet.example.com/saml", "idp_name": "Test IdP",
        "metadata": idp.metadata()}})
    assert configured.status_code == 200, configured.text
    created = await fleet.client.post(f"{V1}/users/admin", headers=fleet.as_admin, json={
        "name": "Sam", "email": SSO_EMAIL, "global_role": "observer", "sso_enabled": True})
    assert created.status_code == 200, created.text
    client = fleet.client
    login = await client.get("/login")
    assert "Sign in with Test IdP" in login.text
    started = await client.get("/login/sso")
    assert started.status_code == 303 and started.headers["location"].startswith(idp.base_url)
    async with httpx.AsyncClient() as browser:
        idp_page = (await browser.get(started.headers["location"])).text
    saml = re.search(r'name="SAMLResponse" value="([^"]+)"', idp_page)
    assert saml
    relay = await client.post(f"{V1}/sso/callback", data={"SAMLResponse": html.unescape(saml.group(1))})
    assert relay.status_code == 200
    assert '"/login/sso/complete"' in relay.text
    token = re.search(r"localStorage\.setItem\('FLEET::auth_token', \"([^\"]+)\"\)", relay.text)
    assert token
    # What sso.js does on the complete page: post the token with the page's CSRF token.
    complete = await client.get("/login/sso/complete")
    assert "data-sso-complete" in complete.text
    forged = await client.post("/login/sso/complete", data={"token": "not-a-session", "csrf_token": csrf_of(complete)})
    assert forged.status_code == 303 and forged.headers["location"] == "/login"
    done = await client.post("/login/sso/complete", data={"token": token.group(1), "csrf_token": csrf_of(complete)})
    assert done.status_code == 303 and done.headers["location"] == "/"
    me = await client.get("/account")
    assert me.status_code == 200 and SSO_EMAIL in me.text and "Change password" not in me.text


async def test_the_team_switcher_lists_the_viewers_teams_and_filters_the_dashboard(cast: Cast) -> None:
    client = cast.fleet.client
    await console_login(client, cast["team_observer"].email)
    page = await client.get("/")
    assert page.status_code == 200
    assert "Team One" in page.text and "Team Two" not in page.text and "All teams" not in page.text
    chosen = await client.get(f"/?team_id={cast.team_one}")
    assert re.search(rf'<option value="{cast.team_one}" selected>', chosen.text)
    # A team the viewer is not on is ignored rather than shown.
    other = await client.get(f"/?team_id={cast.team_two}")
    assert other.status_code == 200 and "selected" not in other.text
    client.cookies.clear()
    await console_login(client, cast["admin"].email)
    page = await client.get("/")
    assert "All teams" in page.text and "Team One" in page.text and "Team Two" in page.text


async def test_an_sso_invite_needs_no_password(fleet: Fleet) -> None:
    await fleet.enable_smtp()
    invited = await fleet.client.post(f"{V1}/invites", headers=fleet.as_admin, json={
        "email": "sso.person@example.com", "name": "SSO Person", "sso_enabled": True, "global_role": "observer"})
    assert invited.status_code == 200, invited.text
    token = re.search(r"Invite token: (\S+)", fleet.kit.mailer.sent[-1].text)
    assert token
    page = await fleet.client.get(f"/login/invites/{token.group(1)}")
    assert page.status_code == 200 and 'type="password"' not in page.text
    created = await fleet.client.post(f"/login/invites/{token.group(1)}", data={
        "name": "SSO Person", "csrf_token": csrf_of(page)})
    assert created.status_code == 303 and created.headers["location"] == "/login/sso"
    # SSO is not configured on this server: back to the login page, saying so.
    not_configured = await fleet.client.get("/login/sso")
    assert not_configured.headers["location"] == "/login"
    assert "Single sign-on is not configured." in (await fleet.client.get("/login")).text
    missing = await fleet.client.get(f"/login/invites/{token.group(1)}")
    assert missing.status_code == 404
