"""Fixtures for the console's browser tests: a real `fleet serve`, a local SMTP server, simulated
hosts, and the distribution's headless Chromium driven by Playwright.

Chromium comes from the system (Debian's `chromium` package, /usr/bin/chromium; `make test`
installs it when missing), never from Playwright's own download. Each test gets a fresh browser
context (no cookies or storage shared between tests); Playwright launches the browser with a
fresh temporary profile directory of its own.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from fleet_osquery.sim import Simulator
from fleet_osquery.sim.agent import SimOptions
from tests.browser.console_support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ENROLL_SECRET,
    SCREENSHOT_DIR,
    ConsoleServer,
    Inbox,
    sign_in,
)
from tests.e2e.fleet_process import FleetServer, free_port

CHROMIUM = Path(os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Playwright's wait for an element or a navigation; generous for a loaded 2-core machine.
ACTION_TIMEOUT_MS = 15_000
LAPTOP = {"width": 1366, "height": 900}

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every browser test starts the real server: they are end-to-end tests.
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCREENSHOT_DIR.exists() and any(SCREENSHOT_DIR.glob("*.png")):
        terminalreporter.write_line(f"console screenshots: {SCREENSHOT_DIR}")


@pytest.fixture(scope="session")
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def _start_server(root: Path) -> FleetServer:
    return FleetServer(root / "data", root / "logs", tls=False).start()


def _configure(server: FleetServer, inbox: Inbox, smtp_port: int) -> ConsoleServer:
    """Set up the first admin, SMTP and the enroll secret through the API."""
    with server.client() as client:
        setup = client.post("/api/v1/setup", json={
            "admin": {"admin": True, "email": ADMIN_EMAIL, "name": "Ada Admin", "password": ADMIN_PASSWORD,
                      "password_confirmation": ADMIN_PASSWORD},
            "org_info": {"org_name": "Example Org"}, "server_url": server.base_url})
        assert setup.status_code == 200, setup.text
        token = setup.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        smtp = client.patch("/api/v1/fleet/config", headers=auth, json={"smtp_settings": {
            "enable_smtp": True, "server": "127.0.0.1", "port": smtp_port, "sender_address": "fleet@example.com",
            "authentication_type": "authtype_none", "enable_ssl_tls": False, "enable_start_tls": False}})
        assert smtp.status_code == 200, smtp.text
        secret = client.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                             json={"spec": {"secrets": [{"secret": ENROLL_SECRET}]}})
        assert secret.status_code == 200, secret.text
    return ConsoleServer(server=server, url=server.base_url, admin_email=ADMIN_EMAIL,
                         admin_password=ADMIN_PASSWORD, admin_token=token, inbox=inbox)


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory,
                   smtp_inbox: tuple[Inbox, int]) -> Iterator[ConsoleServer]:
    """One `fleet serve` for the session, set up: `.url`, `.admin_email`/`.admin_password`,
    `.inbox` (the mail the server sent), `.api()` (an httpx client as the admin)."""
    inbox, port = smtp_inbox
    server = _start_server(tmp_path_factory.mktemp("console-fleet"))
    try:
        yield _configure(server, inbox, port)
    finally:
        if server.process is not None and server.process.poll() is None:
            server.terminate()
        server.kill_if_running()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[FleetServer]:
    """A `fleet serve` nobody has set up yet (for the first-run tests only: it costs a start)."""
    server = _start_server(tmp_path)
    try:
        yield server
    finally:
        server.terminate()
        server.kill_if_running()


# Per module, not per session: Playwright's sync API keeps an event loop running on the main
# thread while it is started, which would break the async tests that run after these.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context at laptop size."""
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def logged_in_page(page: Page, console_server: ConsoleServer) -> Page:
    """A page signed in to the console as the admin, on the dashboard."""
    sign_in(page, console_server.url, console_server.admin_email, console_server.admin_password)
    return page


_seeds = itertools.count(1000)


@pytest.fixture
def enroll_hosts(console_server: ConsoleServer) -> Callable[..., list[str]]:
    """enroll_hosts(n, os_templates="ubuntu_22.04,macos_14") -> the hostnames of n new simulated
    hosts, enrolled, configured and checked in once (a fresh seed each call: new hosts)."""

    def enroll(count: int, os_templates: str = "ubuntu_22.04,macos_14,windows_11") -> list[str]:
        seed = next(_seeds)

        async def run() -> list[str]:
            async with Simulator(console_server.url, ENROLL_SECRET, hosts=count, os_templates=os_templates,
                                 options=SimOptions(seed=seed), start_period=0) as sim:
                for host in sim.hosts:
                    assert await host.enroll()
                    await host.fetch_config()
                    await host.check_in()
                return [host.identity.hostname for host in sim.hosts]

        # Playwright's sync API keeps an event loop running on this thread: the agents get their own.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(anyio.run, run).result()

    return enroll
