"""The console's first run and accounts in headless Chromium against `fleet serve`: setup, login
and logout, an invite accepted from its email, a password reset from its email, CSRF refusal,
and host data rendered as text."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_support import ConsoleServer, enroll_raw_host, screenshot, sign_in
from tests.e2e.fleet_process import FleetServer

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a-new-passw0rd!"


def test_setup_on_a_fresh_server_creates_the_admin_and_lands_on_the_dashboard(page: Page,
                                                                              fresh_server: FleetServer) -> None:
    url = fresh_server.base_url
    page.goto(url + "/")
    expect(page).to_have_url(url + "/setup")
    expect(page.get_by_role("heading", name="Set up Fleet")).to_be_visible()
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Confirm password").fill("short")
    page.get_by_label("Organisation name").fill("Navy")
    page.get_by_role("button", name="Set up").click()
    # The service's rules, shown on the field: nothing was created.
    expect(page.locator("#field-password-error")).to_be_visible()
    screenshot(page, "setup-errors", docs=False)
    page.get_by_label("Password", exact=True).fill("compilers-42!x")
    page.get_by_label("Confirm password").fill("compilers-42!x")
    screenshot(page, "setup")
    page.get_by_role("button", name="Set up").click()
    expect(page).to_have_url(url + "/")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    expect(page.locator(".whoami")).to_have_text("Grace Hopper")
    # Setup happens once: the page now sends people to sign in.
    page.goto(url + "/setup")
    expect(page).to_have_url(url + "/")


def test_login_and_logout(page: Page, console_server: ConsoleServer) -> None:
    url = console_server.url
    page.goto(url + "/account")
    expect(page).to_have_url(url + "/login?next=/account")
    screenshot(page, "login")
    page.get_by_label("Email").fill(console_server.admin_email)
    page.get_by_label("Password", exact=True).fill("not-the-password-1!")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or password is not right.")
    page.get_by_label("Password", exact=True).fill(console_server.admin_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(url + "/account")
    cookie = next(c for c in page.context.cookies() if c["name"] == "fleet_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # The cookie holds the API's own session: it works as a bearer token.
    me = httpx.get(url + "/api/v1/fleet/me", headers={"Authorization": f"Bearer {cookie['value']}"})
    assert me.status_code == 200
    # My account hands that token out for scripts (the screenshot is taken before it shows).
    screenshot(page, "account")
    page.get_by_role("button", name="Show API token").click()
    expect(page.get_by_label("Your API token")).to_have_value(cookie["value"])
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(url + "/login")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    # Logging out deleted the server session, not just the cookie.
    me = httpx.get(url + "/api/v1/fleet/me", headers={"Authorization": f"Bearer {cookie['value']}"})
    assert me.status_code == 401
    page.goto(url + "/")
    expect(page).to_have_url(url + "/login")


def test_an_invited_colleague_joins_from_the_email_link(page: Page, console_server: ConsoleServer) -> None:
    email = f"colleague-{uuid.uuid4().hex[:8]}@example.com"
    with console_server.api() as api:
        invited = api.post("/api/v1/fleet/invites", json={"email": email, "name": "Col League",
                                                          "sso_enabled": False, "global_role": "observer"})
        assert invited.status_code == 200, invited.text
    link = console_server.inbox.wait_for(r"Accept the invitation: (\S+)", to=email).group(1)
    page.goto(link)
    expect(page.get_by_role("heading", name="Join Fleet")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    expect(page.get_by_label("Full name")).to_have_value("Col League")
    page.get_by_label("Password", exact=True).fill("observe-it-42!")
    page.get_by_label("Confirm password").fill("observe-it-42!")
    screenshot(page, "invite")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(console_server.url + "/")
    expect(page.get_by_text("Welcome to Fleet.")).to_be_visible()
    # An observer is not offered the admin areas.
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Hosts")).to_be_visible()
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    # The link works once.
    page.goto(link)
    expect(page.get_by_role("heading", name="Invitation not found")).to_be_visible()


def test_a_forgotten_password_is_reset_from_the_email(page: Page, console_server: ConsoleServer) -> None:
    email = f"forgetful-{uuid.uuid4().hex[:8]}@example.com"
    with console_server.api() as api:
        created = api.post("/api/v1/fleet/users/admin", json={
            "name": "Forgetful", "email": email, "password": "original-pass-1!", "global_role": "maintainer",
            "admin_forced_password_reset": False})
        assert created.status_code == 200, created.text
    page.goto(console_server.url + "/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_contain_text("an email with a reset link is on its way")
    link = console_server.inbox.wait_for(r"Reset it here: (\S+)", to=email).group(1)
    assert re.match(re.escape(console_server.url) + r"/login/reset\?token=", link)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    screenshot(page, "reset-password")
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(console_server.url + "/login")
    sign_in(page, console_server.url, email, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()


def test_a_form_post_without_the_csrf_token_is_refused(logged_in_page: Page, console_server: ConsoleServer) -> None:
    page = logged_in_page
    # A form another site could make the browser send: same cookies, no token.
    page.set_content(f"""<form method="post" action="{console_server.url}/login/logout" id="f"></form>""")
    with page.expect_navigation():
        page.evaluate("document.getElementById('f').submit()")
    expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    # Still signed in: the logout did not happen.
    page.goto(console_server.url + "/")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()


def test_a_hostname_with_markup_renders_as_text(logged_in_page: Page, console_server: ConsoleServer,
                                                enroll_hosts: Callable[..., list[str]]) -> None:
    page = logged_in_page
    enroll_hosts(3)
    hostile = f'<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">-{uuid.uuid4().hex[:6]}'
    enroll_raw_host(console_server.url, hostname=hostile, uuid=str(uuid.uuid4()))
    page.goto(console_server.url + "/")
    expect(page.locator(".host-name", has_text=hostile).first).to_be_visible()
    assert page.evaluate("window.__pwned === undefined")
    screenshot(page, "dashboard")
