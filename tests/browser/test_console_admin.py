"""The console's policies, software, labels, schedule/packs and carves pages in headless Chromium
against `fleet serve`, with simulated hosts answering the policy and label queries."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_support import ConsoleServer, enroll_raw_host, screenshot, sign_in

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
OBSERVER_PASSWORD = "observer-passw0rd!"


def reload_until(page: Page, locator_text: Callable[[], str], wanted: str, *, deadline: float = DEADLINE) -> None:
    """Reload the page until the text of a locator is `wanted` (the hosts answer asynchronously)."""
    end = time.monotonic() + deadline
    while True:
        if locator_text() == wanted:
            return
        if time.monotonic() > end:
            raise AssertionError(f"still {locator_text()!r}, wanted {wanted!r}")
        time.sleep(0.2)
        page.reload()


def test_a_new_policy_shows_the_hosts_answers(logged_in_page: Page, console_server: ConsoleServer,
                                              enroll_hosts: Callable[..., list[str]]) -> None:
    page = logged_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    page.get_by_role("link", name="Add policy").click()
    page.get_by_label("Name").fill("Is Ubuntu")
    page.get_by_label("Query (SQL: a row means the host passes)").fill(
        "SELECT 1 FROM os_version WHERE platform = 'ubuntu';")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Policy Is Ubuntu added.")).to_be_visible()
    policy_url = page.url
    # Hosts enrolled now are asked the policy at their first check-in: one passes, one fails.
    enroll_hosts(2, os_templates="ubuntu_22.04,macos_14")
    reload_until(page, lambda: page.locator("#passing-count").inner_text(), "1")
    expect(page.locator("#failing-count")).to_have_text("1")
    page.get_by_role("link", name="All policies").click()
    row = page.get_by_role("row").filter(has_text="Is Ubuntu")
    expect(row.locator(".count-fail")).to_have_text("1")
    assert row.locator(".count-fail").get_attribute("href", timeout=5000) == \
        f"/hosts?policy_id={policy_url.rsplit('/', 1)[-1]}&policy_response=failing"
    screenshot(page, "policies")


def test_a_dynamic_label_gets_its_hosts(logged_in_page: Page, enroll_hosts: Callable[..., list[str]]) -> None:
    page = logged_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Labels").click()
    page.get_by_role("link", name="Add dynamic label").click()
    page.get_by_label("Name").fill("Macs")
    page.get_by_label("Query (SQL: hosts returning a row are members)").fill(
        "SELECT 1 FROM os_version WHERE platform = 'darwin';")
    page.get_by_role("button", name="Save label").click()
    expect(page.get_by_text("Label Macs added.")).to_be_visible()
    names = enroll_hosts(2, os_templates="macos_14,ubuntu_22.04")
    reload_until(page, lambda: page.locator("#label-host-count").inner_text(), "1")
    table = page.get_by_role("region", name="Hosts in Macs")
    # The console shows a host's display name: its computer name, the hostname without ".local".
    mac, ubuntu = (name.split(".")[0] for name in names)
    expect(table.get_by_role("link", name=mac)).to_be_visible()
    expect(table.get_by_role("link", name=ubuntu)).to_have_count(0)
    page.get_by_role("link", name="All labels").click()
    expect(page.get_by_role("row").filter(has_text="Macs")).to_be_visible()
    screenshot(page, "labels")


def test_software_list_and_search(logged_in_page: Page, console_server: ConsoleServer,
                                  enroll_hosts: Callable[..., list[str]]) -> None:
    enroll_hosts(1, os_templates="ubuntu_22.04")
    with console_server.api() as api:
        # The host counts come from the periodic aggregation job: run it now, wait until it counted.
        assert api.post("/api/v1/fleet/trigger", params={"name": "cleanups_then_aggregation"}).status_code == 200
        end = time.monotonic() + DEADLINE
        while not (listed := api.get("/api/v1/fleet/software").json()["software"]):
            assert time.monotonic() < end, "the software counts were never refreshed"
            time.sleep(0.2)
    name = listed[0]["name"]
    page = logged_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Software").click()
    expect(page.get_by_role("cell", name=name, exact=True).first).to_be_visible()
    screenshot(page, "software")
    page.get_by_label("Search name or version").fill(name)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"query="))
    expect(page.get_by_role("cell", name=name, exact=True).first).to_be_visible()
    # Nothing has vulnerabilities without the vulnerability feeds: the filter empties the list.
    page.get_by_label("Vulnerable only").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No software matches.")).to_be_visible()


def test_create_a_pack_and_schedule_a_query(logged_in_page: Page, console_server: ConsoleServer) -> None:
    with console_server.api() as api:
        made = api.post("/api/v1/fleet/queries", json={"name": f"uptime-{uuid.uuid4().hex[:6]}",
                                                       "query": "SELECT * FROM uptime;"})
        assert made.status_code == 200, made.text
        query_name = made.json()["query"]["name"]
    page = logged_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedule/Packs").click()
    page.get_by_label("Query", exact=True).select_option(label=query_name)
    page.get_by_label("Interval (seconds)").fill("900")
    page.get_by_label("Logging").select_option("snapshot")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_text("Query scheduled.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=query_name)).to_contain_text("900 s")
    page.get_by_role("link", name="Add pack").click()
    page.get_by_label("Name").fill("Compliance pack")
    page.get_by_label("All Hosts").check()
    page.get_by_role("button", name="Save pack").click()
    expect(page.get_by_text("Pack Compliance pack added.")).to_be_visible()
    page.get_by_label("Query", exact=True).select_option(label=query_name)
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("region", name="Queries in Compliance pack")).to_contain_text(query_name)
    page.get_by_role("button", name="Disable pack").click()
    expect(page.locator("#pack-status")).to_have_text("Disabled")
    page.get_by_role("link", name="Schedule and packs").click()
    expect(page.get_by_role("row").filter(has_text="Compliance pack")).to_contain_text("disabled")
    screenshot(page, "packs")


def test_carves_list_and_download(logged_in_page: Page, console_server: ConsoleServer) -> None:
    host_uuid = str(uuid.uuid4())
    node_key = enroll_raw_host(console_server.url, hostname="carve-host", uuid=host_uuid)
    begin = httpx.post(f"{console_server.url}/api/osquery/carve/begin", json={
        "node_key": node_key, "block_count": 1, "block_size": 8, "carve_size": 5,
        "carve_id": str(uuid.uuid4()), "request_id": "fleet_distributed_query_browser"}, timeout=10.0)
    assert begin.status_code == 200, begin.text
    block = httpx.post(f"{console_server.url}/api/osquery/carve/block", json={
        "session_id": begin.json()["session_id"], "request_id": "fleet_distributed_query_browser",
        "block_id": 0, "data": base64.b64encode(b"hello").decode()}, timeout=10.0)
    assert block.status_code == 200, block.text
    page = logged_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Carves").click()
    row = page.get_by_role("row").filter(has_text="carve-host")
    expect(row).to_contain_text("complete")
    with page.expect_download() as download_info:
        row.get_by_role("link", name=re.compile("Download")).click()
    path = download_info.value.path()
    assert path.read_bytes() == b"hello"


def test_an_observer_sees_no_edit_buttons_and_a_crafted_post_is_refused(page: Page,
                                                                        console_server: ConsoleServer) -> None:
    email = f"observer-{uuid.uuid4().hex[:6]}@example.com"
    with console_server.api() as api:
        made = api.post("/api/v1/fleet/users/admin", json={
            "name": "Olive Observer", "email": email, "password": OBSERVER_PASSWORD, "global_role": "observer",
            "admin_forced_password_reset": False})
        assert made.status_code == 200, made.text
    sign_in(page, console_server.url, email, OBSERVER_PASSWORD)
    page.goto(console_server.url + "/policies")
    expect(page.get_by_role("heading", name="Policies")).to_be_visible()
    expect(page.get_by_role("link", name="Add policy")).to_have_count(0)
    page.goto(console_server.url + "/labels")
    expect(page.get_by_role("link", name="Add dynamic label")).to_have_count(0)
    page.goto(console_server.url + "/packs")
    expect(page.get_by_role("link", name="Add pack")).to_have_count(0)
    expect(page.get_by_role("button", name="Schedule")).to_have_count(0)
    # A hand-made form POST with the observer's own valid CSRF token: the core refuses it.
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    answer = page.request.post(console_server.url + "/policies", form={
        "name": "Sneaky", "query": "SELECT 1;", "csrf_token": token}, max_redirects=0)
    assert answer.status == 403
    assert "You do not have permission" in answer.text()
    page.goto(console_server.url + "/policies")
    expect(page.get_by_text("Sneaky")).to_have_count(0)


PHONE_PATHS = ["/policies", "/software", "/labels", "/labels/new?membership=manual", "/packs", "/packs/new", "/carves"]


def test_pages_fit_a_phone_screen(logged_in_page: Page, console_server: ConsoleServer) -> None:
    suffix = uuid.uuid4().hex[:6]
    with console_server.api() as api:
        # Tables with rows and row buttons: what could push a narrow page sideways.
        query = api.post("/api/v1/fleet/queries", json={"name": f"phone-{suffix}", "query": "SELECT 1;"})
        assert query.status_code == 200, query.text
        scheduled = api.post("/api/v1/fleet/global/schedule",
                             json={"query_id": query.json()["query"]["id"], "interval": 3600, "snapshot": False})
        assert scheduled.status_code == 200, scheduled.text
        policy = api.post("/api/v1/fleet/global/policies", json={"name": f"phone-{suffix}", "query": "SELECT 1;"})
        assert policy.status_code == 200, policy.text
    page = logged_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    for path in PHONE_PATHS:
        page.goto(console_server.url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        # Wide tables scroll inside their own region; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
