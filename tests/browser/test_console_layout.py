"""The console's layout in Chromium: a phone-sized screen, keyboard use, no inline script."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.console_support import ConsoleServer, screenshot, sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def test_on_a_phone_the_navigation_folds_behind_the_menu_button(browser: Browser,
                                                                 console_server: ConsoleServer) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        sign_in(page, console_server.url, console_server.admin_email, console_server.admin_password)
        nav = page.get_by_role("navigation", name="Main")
        menu = page.get_by_role("button", name="Menu")
        expect(nav).to_be_hidden()
        expect(menu).to_have_attribute("aria-expanded", "false")
        screenshot(page, "dashboard-phone")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(nav.get_by_role("link", name="Hosts")).to_be_visible()
        # Nothing wider than the screen: no sideways scrolling of the whole page.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def test_the_keyboard_reaches_the_content_first_and_every_link_in_order(logged_in_page: Page) -> None:
    page = logged_in_page
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # From the top, Tab walks the header, then the navigation in its order.
    page.goto(page.url.split("#")[0])
    labels = []
    for _ in range(12):
        page.keyboard.press("Tab")
        labels.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert "Dashboard" in labels, labels
    assert labels.index("Dashboard") < labels.index("Hosts") < labels.index("Queries")


def test_no_page_needs_an_inline_script(page: Page, console_server: ConsoleServer) -> None:
    # The CSP forbids inline script; the pages must not contain any for it to block.
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in(page, console_server.url, console_server.admin_email, console_server.admin_password)
    for path in ("/", "/account", "/hosts"):
        page.goto(console_server.url + path)
        assert page.locator("script:not([src])").count() == 0
        assert page.locator("[onclick], [onload], [onsubmit], [style]").count() == 0
    assert violations == []
