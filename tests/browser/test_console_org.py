"""The console's organisation pages in headless Chromium against `fleet serve`: a colleague
invited from the Users page joins from the email and signs in, the organisation name changed in
Settings shows in the layout, agent options YAML errors, the SMTP test email, a team created with
a member, and an observer kept out of Settings."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_support import MAIL_DEADLINE, ConsoleServer, screenshot, sign_in

pytestmark = pytest.mark.e2e

OBSERVER_PASSWORD = "look-dont-touch-7!"


def _unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_colleague_invited_from_the_users_page_joins_and_signs_in(logged_in_page: Page,
                                                                   console_server: ConsoleServer) -> None:
    page = logged_in_page
    email = f"{_unique('colleague')}@example.com"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    invite = page.locator("form[action='/users/invites']")
    invite.get_by_label("Email").fill(email)
    invite.get_by_label("Name").fill("Invited Colleague")
    invite.get_by_label("Global role").select_option("maintainer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to {email}.")
    pending = page.get_by_role("region", name="Pending invitations")
    expect(pending.get_by_role("cell", name=email, exact=True)).to_be_visible()
    screenshot(page, "users")
    link = console_server.inbox.wait_for(r"Accept the invitation: (\S+)", to=email).group(1)
    assert link.startswith(console_server.url + "/login/invites/")
    _sign_out(page)
    page.goto(link)
    expect(page.get_by_role("heading", name="Join Fleet")).to_be_visible()
    expect(page.get_by_label("Full name")).to_have_value("Invited Colleague")
    page.get_by_label("Password", exact=True).fill("colleague-pass-42!")
    page.get_by_label("Confirm password").fill("colleague-pass-42!")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(console_server.url + "/")
    _sign_out(page)
    sign_in(page, console_server.url, email, "colleague-pass-42!")
    expect(page.locator(".whoami")).to_have_text("Invited Colleague")
    # A maintainer sees the users but is offered no way to invite or edit them.
    page.goto(console_server.url + "/users")
    expect(page.get_by_role("cell", name=email, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Send invitation")).to_have_count(0)


def test_the_org_name_changed_in_settings_shows_in_the_layout(logged_in_page: Page,
                                                              console_server: ConsoleServer) -> None:
    page = logged_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    org = page.locator("#org")
    original = org.get_by_label("Organisation name").input_value()
    new_name = _unique("Initech")
    try:
        org.get_by_label("Organisation name").fill(new_name)
        org.get_by_role("button", name="Save organisation").click()
        expect(page.get_by_role("status")).to_contain_text("Organisation saved.")
        expect(page.locator(".brand")).to_have_text(new_name)
        screenshot(page, "settings", full_page=False)
        page.goto(console_server.url + "/teams")
        expect(page.locator(".brand")).to_have_text(new_name)
    finally:
        with console_server.api() as api:
            restored = api.patch("/api/v1/fleet/config", json={"org_info": {"org_name": original}})
            assert restored.status_code == 200, restored.text


def test_agent_options_yaml_with_an_error_shows_the_error(logged_in_page: Page,
                                                          console_server: ConsoleServer) -> None:
    page = logged_in_page
    page.goto(console_server.url + "/settings#agent-options")
    section = page.locator("#agent-options")
    field = section.get_by_label("Global agent options (YAML)")
    field.fill("config:\n  options: [unclosed\n")
    section.get_by_role("button", name="Save agent options").click()
    error = page.locator("#field-agent_options-error")
    expect(error).to_contain_text("is not valid YAML")
    expect(page.get_by_label("Global agent options (YAML)")).to_have_value("config:\n  options: [unclosed\n")
    expect(page.get_by_label("Global agent options (YAML)")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Global agent options (YAML)").fill("surprise: true\n")
    page.locator("#agent-options").get_by_role("button", name="Save agent options").click()
    expect(page.locator("#field-agent_options-error")).to_contain_text("unknown key(s): surprise")
    page.locator("#agent-options").scroll_into_view_if_needed()
    screenshot(page, "settings-agent-options-error", full_page=False)


def test_the_smtp_test_email_arrives(logged_in_page: Page, console_server: ConsoleServer) -> None:
    page = logged_in_page
    page.goto(console_server.url + "/settings#smtp")
    before = len(console_server.inbox.messages)
    page.locator("#smtp").get_by_role("button", name="Send test email").click()
    expect(page.get_by_role("status")).to_contain_text(f"Test email sent to {console_server.admin_email}.")
    def arrived() -> bool:
        return any("Subject: Hello from Fleet" in m and f"To: {console_server.admin_email}" in m
                   for m in console_server.inbox.messages[before:])

    # Poll with a deadline: the server sends it before answering, the SMTP server stores it just after.
    deadline = time.monotonic() + MAIL_DEADLINE
    while time.monotonic() < deadline and not arrived():
        time.sleep(0.05)
    assert arrived(), console_server.inbox.messages[before:]


def test_a_team_is_created_with_a_member(logged_in_page: Page, console_server: ConsoleServer) -> None:
    page = logged_in_page
    member_email = f"{_unique('member')}@example.com"
    with console_server.api() as api:
        home = api.post("/api/v1/fleet/teams", json={"name": _unique("Home team")})
        assert home.status_code == 200, home.text
        created = api.post("/api/v1/fleet/users/admin", json={
            "name": "Team Member", "email": member_email, "password": "member-pass-42!",
            "teams": [{"id": home.json()["team"]["id"], "role": "observer"}], "admin_forced_password_reset": False})
        assert created.status_code == 200, created.text
    team_name = _unique("Blue team")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams").click()
    page.get_by_label("Team name").fill(team_name)
    page.get_by_label("Description").fill("Laptops of the blue team")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", name=f"Team {team_name}")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"Team {team_name} created.")
    page.get_by_label("User", exact=True).select_option(label=f"Team Member ({member_email})")
    page.get_by_label("Role on this team").select_option("maintainer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text("Member added.")
    members = page.get_by_role("region", name=f"Members of {team_name}")
    expect(members.get_by_role("cell", name=member_email, exact=True)).to_be_visible()
    expect(page.get_by_label(f"Role of {member_email}")).to_have_value("maintainer")
    # The button asks for confirmation first (console.js); accept it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Create secret").click()
    expect(page.get_by_role("status")).to_contain_text("Enroll secret rotated.")
    expect(page.get_by_label("Enroll secret 1")).to_have_value(re.compile(r".{20,}"))
    screenshot(page, "team")
    page.goto(console_server.url + "/teams")
    expect(page.get_by_role("link", name=team_name)).to_be_visible()
    screenshot(page, "teams")


def test_an_observer_cannot_see_settings_and_a_crafted_post_is_refused(page: Page,
                                                                      console_server: ConsoleServer) -> None:
    email = f"{_unique('observer')}@example.com"
    with console_server.api() as api:
        created = api.post("/api/v1/fleet/users/admin", json={
            "name": "Olive Observer", "email": email, "password": OBSERVER_PASSWORD, "global_role": "observer",
            "admin_forced_password_reset": False})
        assert created.status_code == 200, created.text
        org_before = api.get("/api/v1/fleet/config").json()["org_info"]["org_name"]
    sign_in(page, console_server.url, email, OBSERVER_PASSWORD)
    # The observer's own valid CSRF token (from the sign-out form), for a crafted form later.
    token = page.locator("input[name='csrf_token']").first.get_attribute("value")
    assert token
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")).to_have_count(0)
    page.goto(console_server.url + "/settings")
    expect(page.get_by_role("heading", name="You do not have permission to do that")).to_be_visible()
    expect(page.get_by_role("button", name="Save organisation")).to_have_count(0)
    # A form the observer crafts with a valid CSRF token: the core refuses it.
    response = page.request.post(console_server.url + "/settings/org",
                                 form={"org_name": "Taken over", "csrf_token": token}, max_redirects=0)
    assert response.status == 403
    with console_server.api() as api:
        assert api.get("/api/v1/fleet/config").json()["org_info"]["org_name"] == org_before


def test_the_activity_feed_pages(logged_in_page: Page, console_server: ConsoleServer) -> None:
    page = logged_in_page
    with console_server.api() as api:
        for _ in range(3):
            assert api.post("/api/v1/fleet/teams", json={"name": _unique("Feed team")}).status_code == 200
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="created team").first).to_be_visible()
    screenshot(page, "activity")
    page.goto(console_server.url + "/activity?per_page=2")
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(page.get_by_role("link", name="Previous")).to_be_visible()
    # At phone width the navigation folds behind the menu button and the table scrolls in its region.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(console_server.url + "/activity")
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    expect(page.get_by_role("region", name="Activity")).to_be_visible()
    screenshot(page, "activity-phone", full_page=False)
