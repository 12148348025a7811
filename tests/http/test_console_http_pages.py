"""The console's pages over the in-memory kit: sessions in cookies, CSRF, escaping, headers.

The browser tests (tests/browser) drive the same pages in Chromium against `fleet serve`; these
check what a browser cannot show directly (status codes, cookie flags, refused requests).
"""

from __future__ import annotations

import re

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fleet_http.console import CONTENT_SECURITY_POLICY
from fleet_http.console.session import PRESESSION_COOKIE, SESSION_COOKIE
from tests.http.support import ADMIN_EMAIL, PASSWORD, Cast, Fleet

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _no_redirects(client: AsyncTestClient[Litestar]) -> None:
    # A browser follows the redirects; these tests look at them.
    client.follow_redirects = False


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def console_login(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD) -> None:
    page = await client.get("/login")
    response = await client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(page)})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"


async def test_a_fresh_server_sends_the_browser_to_setup_and_setup_signs_the_admin_in(blank: Fleet) -> None:
    client = blank.client
    first = await client.get("/")
    assert first.status_code == 303 and first.headers["location"] == "/login"
    login = await client.get("/login")
    assert login.headers["location"] == "/setup"
    page = await client.get("/setup")
    assert page.status_code == 200
    assert client.cookies.get(PRESESSION_COOKIE)
    response = await client.post("/setup", data={
        "name": "Ada", "email": ADMIN_EMAIL, "password": PASSWORD, "password_confirmation": PASSWORD,
        "org_name": "Acme", "server_url": "https://fleet.example.com", "csrf_token": csrf_of(page)})
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    dashboard = await client.get("/")
    assert dashboard.status_code == 200
    assert "<h1>Dashboard</h1>" in dashboard.text
    assert dashboard.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    # The server session is the API's: the cookie's token works as a bearer token.
    token = client.cookies.get(SESSION_COOKIE)
    me = await client.get("/api/v1/fleet/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == ADMIN_EMAIL


async def test_setup_with_bad_values_shows_the_field_errors(blank: Fleet) -> None:
    page = await blank.client.get("/setup")
    response = await blank.client.post("/setup", data={
        "name": "", "email": "not-an-email", "password": "short", "password_confirmation": "short",
        "org_name": "Acme", "server_url": "https://fleet.example.com", "csrf_token": csrf_of(page)})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert await blank.client.get("/")


async def test_a_post_without_the_csrf_token_is_refused(fleet: Fleet) -> None:
    client = fleet.client
    await client.get("/login")
    refused = await client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert refused.status_code == 403
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    wrong = await client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": "0" * 64})
    assert wrong.status_code == 403
    await console_login(client, ADMIN_EMAIL)
    # Signed in, a token from before the session no longer fits: it is bound to the session.
    refused_logout = await client.post("/login/logout", data={"csrf_token": "0" * 64})
    assert refused_logout.status_code == 403
    assert (await client.get("/")).status_code == 200


async def test_the_api_with_a_bearer_token_needs_no_csrf_token(fleet: Fleet) -> None:
    response = await fleet.client.post("/api/v1/fleet/logout", headers=fleet.as_admin)
    assert response.status_code == 200


async def test_logout_deletes_the_server_session(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    token = client.cookies.get(SESSION_COOKIE)
    page = await client.get("/account")
    response = await client.post("/login/logout", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    me = await client.get("/api/v1/fleet/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert (await client.get("/")).headers["location"] == "/login"


async def test_a_page_asked_for_without_a_session_comes_back_after_login(fleet: Fleet) -> None:
    client = fleet.client
    response = await client.get("/account")
    assert response.headers["location"] == "/login?next=/account"
    page = await client.get("/login?next=/account")
    answer = await client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "next": "/account",
                                               "csrf_token": csrf_of(page)})
    assert answer.headers["location"] == "/account"


@pytest.mark.parametrize("next_path", ["//evil.example.com/", "https://evil.example.com/", "/\\evil.example.com",
                                       "/\t/evil.example.com", "evil"])
async def test_login_never_redirects_off_the_server(fleet: Fleet, next_path: str) -> None:
    page = await fleet.client.get("/login")
    answer = await fleet.client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD,
                                                     "next": next_path, "csrf_token": csrf_of(page)})
    assert answer.headers["location"] == "/"


async def test_signing_in_again_works_with_a_stale_session_cookie(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    token = client.cookies.get(SESSION_COOKIE)
    assert (await client.post("/api/v1/fleet/logout", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    # Straight to /login (no page redirected there to drop the cookie first).
    await console_login(client, ADMIN_EMAIL)
    assert client.cookies.get(SESSION_COOKIE) != token
    assert (await client.get("/")).status_code == 200


async def test_a_cookie_whose_session_is_gone_is_dropped(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    token = client.cookies.get(SESSION_COOKIE)
    # Signed out through the API (the same server session): the browser's next page goes to login.
    out = await client.post("/api/v1/fleet/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 200
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert f"{SESSION_COOKIE}=" in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]


async def test_a_wrong_password_is_an_error_on_the_login_page(fleet: Fleet) -> None:
    page = await fleet.client.get("/login")
    answer = await fleet.client.post("/login", data={"email": ADMIN_EMAIL, "password": "wrong-Passw0rd!",
                                                     "csrf_token": csrf_of(page)})
    assert answer.status_code == 401
    assert "The email or password is not right." in answer.text


async def test_nav_offers_only_what_the_role_may_do(cast: Cast) -> None:
    client = cast.fleet.client
    await console_login(client, cast["observer"].email)
    page = (await client.get("/")).text
    assert 'href="/hosts"' in page and 'href="/settings"' not in page and 'href="/carves"' not in page
    client.cookies.clear()
    await console_login(client, cast["admin"].email)
    page = (await client.get("/")).text
    assert 'href="/settings"' in page and 'href="/carves"' in page


async def test_areas_not_built_yet_have_a_placeholder_and_unknown_paths_are_404(fleet: Fleet) -> None:
    await console_login(fleet.client, ADMIN_EMAIL)
    assert (await fleet.client.get("/software")).status_code == 200
    assert (await fleet.client.get("/no-such-area")).status_code == 404


async def test_static_files_are_cached(fleet: Fleet) -> None:
    response = await fleet.client.get("/static/console/console.js")
    assert response.status_code == 200
    assert "max-age=86400" in response.headers["cache-control"]
    assert response.headers["x-content-type-options"] == "nosniff"
