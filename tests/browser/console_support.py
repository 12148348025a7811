"""What the console's browser tests share: the mail catcher, the server handle, host enrollment
and screenshots. The fixtures themselves are in tests/browser/conftest.py."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs
import httpx
from playwright.sync_api import Page

from tests.e2e.fleet_process import FleetServer

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "browser-admin-1!"
ENROLL_SECRET = "console-browser-secret"
MAIL_DEADLINE = 15.0
REPO = Path(__file__).resolve().parents[2]
# Every test's screenshots land here (printed at the end of the session); with
# CONSOLE_DOCS_SCREENSHOTS=1 the ones named for the docs are copied to docs/console/ too.
SCREENSHOT_DIR = Path(os.environ.get("CONSOLE_SCREENSHOT_DIR", REPO / "build" / "screenshots"))
DOCS_SCREENSHOT_DIR = REPO / "docs" / "console"


class Inbox:
    """An aiosmtpd handler keeping every message the server sends."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # Decoded as a mail client would (long lines arrive quoted-printable, split with soft breaks).
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        self.messages.append(f"To: {message['To']}\nSubject: {message['Subject']}\n\n{text}")
        return "250 OK"

    def wait_for(self, pattern: str, *, to: str | None = None, deadline: float = MAIL_DEADLINE) -> re.Match[str]:
        """The first match of pattern in a message (to `to`, when given), polling until one arrives."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            for message in self.messages:
                if to is not None and to not in message:
                    continue
                found = re.search(pattern, message)
                if found:
                    return found
            time.sleep(0.05)
        raise AssertionError(f"no mail matching {pattern!r} arrived in {deadline}s: {self.messages!r}")


@attrs.define
class ConsoleServer:
    """A running `fleet serve` with its first admin set up and SMTP pointing at `inbox`."""

    server: FleetServer
    url: str
    admin_email: str
    admin_password: str
    admin_token: str
    inbox: Inbox

    def api(self) -> httpx.Client:
        """The REST API as the admin, for arranging what a test needs (the console itself is
        what the test drives)."""
        client = self.server.client()
        client.headers["Authorization"] = f"Bearer {self.admin_token}"
        return client


def screenshot(page: Page, name: str, *, full_page: bool = True, docs: bool = True) -> Path:
    """Save a screenshot as a test artifact; `name` is also its file name in docs/console/
    (unless docs=False: an artifact only)."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if docs and os.environ.get("CONSOLE_DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOT_DIR / path.name)
    return path


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")


def enroll_raw_host(base_url: str, *, hostname: str, uuid: str, platform: str = "ubuntu") -> str:
    """Enroll one agent over the osquery protocol with the hostname it reports (the simulator
    derives its own hostnames); returns the node key."""
    response = httpx.post(f"{base_url}/api/osquery/enroll", json={
        "enroll_secret": ENROLL_SECRET, "host_identifier": uuid, "platform_type": "linux",
        "host_details": {
            "system_info": {"hostname": hostname, "uuid": uuid, "computer_name": hostname,
                            "hardware_serial": uuid[:12], "cpu_brand": "x", "physical_memory": "1024"},
            "os_version": {"name": "Ubuntu", "platform": platform, "platform_like": "debian", "version": "22.04",
                           "major": "22", "minor": "4", "patch": "0"},
            "osquery_info": {"version": "5.12.1", "uuid": uuid},
        },
    }, timeout=10.0)
    assert response.status_code == 200, response.text
    node_key = response.json()["node_key"]
    assert isinstance(node_key, str) and node_key
    return node_key
