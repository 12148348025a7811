"""The hosts, "Add hosts", queries and live query pages in headless Chromium against `fleet serve`:
list and filter hosts, a host whose hostname is markup renders as text, "Add hosts" instructions
followed to the letter enroll simulated agents, a live query shows every simulated host's row as
it arrives, and an observer is offered no edit or delete buttons."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
import pytest
from playwright.sync_api import Locator, Page, expect

from fleet_osquery.sim import AnswerRules, Simulator
from fleet_osquery.sim.agent import SimOptions
from tests.browser.console_support import ConsoleServer, enroll_raw_host, screenshot, sign_in

pytestmark = pytest.mark.e2e

# Agents check in this often while a test runs (osqueryd's distributed loop, sped up).
CHECK_IN_EVERY = 0.5
# Agents stop by themselves after this long even if a test forgets to stop them.
AGENTS_AT_MOST = 180.0


class RunningAgents:
    """Simulated osqueryd agents enrolled with `secret` that keep checking in (answering live
    queries) on a thread of their own until stopped."""

    def __init__(self, server_url: str, secret: str, count: int, *, seed: int, api_prefix: str = "/api/osquery"):
        self.server_url, self.secret, self.count = server_url, secret, count
        self.seed, self.api_prefix = seed, api_prefix
        self.hostnames: list[str] = []
        self.enrolled = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        try:
            anyio.run(self._run)
        except BaseException as exc:  # reported by wait_enrolled / stop
            self.error = exc
            self.enrolled.set()

    async def _run(self) -> None:
        options = SimOptions(seed=self.seed, rules=AnswerRules(live_query_no_results_prob=0.0))
        async with Simulator(self.server_url, self.secret, hosts=self.count, os_templates="ubuntu_22.04,macos_14",
                             options=options, start_period=0, api_prefix=self.api_prefix) as sim:
            for host in sim.hosts:
                assert await host.enroll(), "enrollment refused"
                await host.fetch_config()
                await host.check_in()
            self.hostnames = [host.identity.hostname for host in sim.hosts]
            self.enrolled.set()
            deadline = time.monotonic() + AGENTS_AT_MOST
            while not self._stop.is_set() and time.monotonic() < deadline:
                for host in sim.hosts:
                    await host.check_in()
                await anyio.sleep(CHECK_IN_EVERY)

    def start(self) -> RunningAgents:
        self._thread.start()
        assert self.enrolled.wait(60), "agents did not enroll in 60 s"
        if self.error is not None:
            raise AssertionError(f"agents failed: {self.error!r}")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


@contextmanager
def running_agents(server_url: str, secret: str, count: int, *, seed: int,
                   api_prefix: str = "/api/osquery") -> Iterator[RunningAgents]:
    agents = RunningAgents(server_url, secret, count, seed=seed, api_prefix=api_prefix).start()
    try:
        yield agents
    finally:
        agents.stop()


def host_link(page: Page, hostname: str) -> Locator:
    """The link to a host in a list: its display name is the computer name, which drops the
    hostname's domain (mac-00001.local shows as mac-00001)."""
    return page.get_by_role("link", name=re.compile("^" + re.escape(hostname.split(".")[0]) + r"(\.|$)"))


def new_team(console_server: ConsoleServer, stem: str) -> tuple[int, str, str]:
    """A new team with an enroll secret of its own: (id, name, secret)."""
    secret = f"team-secret-{uuid.uuid4().hex}"
    with console_server.api() as api:
        created = api.post("/api/v1/fleet/teams", json={"name": f"{stem} {uuid.uuid4().hex[:6]}"})
        assert created.status_code == 200, created.text
        team = created.json()["team"]
        given = api.patch(f"/api/v1/fleet/teams/{team['id']}/secrets", json={"secrets": [{"secret": secret}]})
        assert given.status_code == 200, given.text
        return team["id"], team["name"], secret


def test_list_filter_and_open_a_host_whose_name_is_markup(logged_in_page: Page, console_server: ConsoleServer,
                                                          enroll_hosts: Callable[..., list[str]]) -> None:
    page = logged_in_page
    url = console_server.url
    names = enroll_hosts(3, os_templates="ubuntu_22.04,macos_14,windows_11")
    evil = f"<script>alert('{uuid.uuid4().hex[:6]}')</script>"
    enroll_raw_host(url, hostname=evil, uuid=str(uuid.uuid4()))
    page.get_by_role("link", name="Hosts", exact=True).click()
    expect(page.get_by_role("heading", name="Hosts", exact=True)).to_be_visible()
    for name in names:
        expect(host_link(page, name)).to_be_visible()
    screenshot(page, "hosts-list")
    # On a phone the page does not scroll sideways: the table scrolls inside its own box.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "hosts-list-phone", full_page=False)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_label("Search (hostname, UUID, serial, IP)").fill(names[0])
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#host-count")).to_have_text("1 host")
    expect(host_link(page, names[1])).to_have_count(0)
    # Status filter and a narrower set of columns, both kept in the URL.
    page.get_by_role("combobox", name="Status").select_option("online")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=online"))
    page.locator("summary", has_text="Columns").click()
    page.get_by_role("checkbox", name="Serial").check()
    page.get_by_role("checkbox", name="Platform").uncheck()
    page.get_by_role("button", name="Show columns").click()
    expect(page.get_by_role("columnheader", name="Serial")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Platform")).to_have_count(0)
    # The hostname with markup is a link whose text is that markup, and nothing ran.
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url + "/hosts?query=" + "script")
    page.get_by_role("link", name=evil, exact=True).click()
    expect(page.get_by_role("heading", name=evil, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Vitals")).to_be_visible()
    assert dialogs == []
    page.goto(url + "/hosts?query=" + names[0])
    host_link(page, names[0]).click()
    expect(page.get_by_role("heading", name="Software", exact=False)).to_be_visible()
    expect(page.get_by_role("link", name="Query this host")).to_be_visible()
    screenshot(page, "host-details")


def test_add_hosts_instructions_enroll_simulated_hosts(logged_in_page: Page, console_server: ConsoleServer) -> None:
    page = logged_in_page
    _, team_name, team_secret = new_team(console_server, "Enrolled here")
    page.goto(console_server.url + "/hosts")
    page.get_by_role("link", name="Add hosts").click()
    expect(page.get_by_role("heading", name="Add hosts")).to_be_visible()
    screenshot(page, "add-hosts")
    # Everything the agents need comes off the page, exactly as shown.
    secret = page.get_by_label(f"Team {team_name}").input_value()
    assert secret == team_secret
    flagfile = page.get_by_label("/etc/osquery/osquery.flags").input_value()
    flags = dict(line.split("=", 1) for line in flagfile.splitlines())
    server_url = page.get_by_label("Server URL").input_value()
    assert flags["--tls_hostname"] == server_url.split("://", 1)[1]
    enroll_endpoint = flags["--enroll_tls_endpoint"]
    assert enroll_endpoint.endswith("/enroll")
    api_prefix = enroll_endpoint.rsplit("/", 1)[0]
    assert flags["--config_tls_endpoint"] == api_prefix + "/config"
    assert flags["--distributed_tls_read_endpoint"] == api_prefix + "/distributed/read"
    assert flags["--logger_tls_endpoint"] == api_prefix + "/log"
    assert "--tls_server_certs" not in flags  # plain HTTP: no certificate to trust
    # The fleet-sim line does the same with the first secret shown, against the same server.
    sim_line = page.get_by_label("fleet-sim command line").input_value().split()
    assert sim_line[0].startswith("FLEET_SIM_ENROLL_SECRET=") and sim_line[1] == "fleet-sim"
    assert sim_line[sim_line.index("--server-url") + 1] == server_url
    with running_agents(server_url, secret, 2, seed=7100, api_prefix=api_prefix) as agents:
        page.goto(console_server.url + "/hosts")
        for name in agents.hostnames:
            row = page.get_by_role("row").filter(has=host_link(page, name))
            expect(row).to_contain_text(team_name)


def test_a_live_query_shows_every_hosts_row_as_it_arrives(logged_in_page: Page, console_server: ConsoleServer) -> None:
    page = logged_in_page
    _, team_name, secret = new_team(console_server, "Live")
    with running_agents(console_server.url, secret, 3, seed=7200) as agents:
        page.goto(console_server.url + "/live")
        page.get_by_role("checkbox", name=team_name).check()
        expect(page.locator("#target-count [data-count=total]")).to_have_text("3")
        page.get_by_label("SQL").fill("SELECT * FROM osquery_info;")
        expect(page.locator("#sql-compatibility")).to_contain_text("Compatible with")
        screenshot(page, "live-query-targets")
        page.get_by_role("button", name="Run").click()
        expect(page.get_by_role("heading", name="Live query results")).to_be_visible()
        results = page.locator("#live-results")
        for name in agents.hostnames:
            expect(results.get_by_role("cell", name=name, exact=True).first).to_be_visible(timeout=60_000)
        expect(page.locator("[data-progress=responded]")).to_have_text("3")
        expect(page.locator("[data-progress=state]")).to_have_text("finished", timeout=30_000)
        screenshot(page, "live-query-results")
        with page.expect_download() as download:
            page.get_by_role("button", name="Export CSV").click()
        text = open(download.value.path()).read()
        assert all(name in text for name in agents.hostnames)
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("[data-progress=state]")).to_have_text("stopped")


def test_an_observer_sees_no_edit_or_delete_buttons(page: Page, console_server: ConsoleServer,
                                                    enroll_hosts: Callable[..., list[str]]) -> None:
    [name] = enroll_hosts(1, os_templates="ubuntu_22.04")
    email = f"observer-{uuid.uuid4().hex[:8]}@example.com"
    password = "observer-passw0rd!"
    with console_server.api() as api:
        created = api.post("/api/v1/fleet/users/admin", json={
            "name": "Olly Observer", "email": email, "password": password, "global_role": "observer",
            "admin_forced_password_reset": False})
        assert created.status_code == 200, created.text
        saved = api.post("/api/v1/fleet/queries", json={"name": f"obs {uuid.uuid4().hex[:6]}", "query": "SELECT 1;"})
        assert saved.status_code == 200, saved.text
    sign_in(page, console_server.url, email, password)
    page.goto(console_server.url + "/hosts?query=" + name)
    host_link(page, name).click()
    expect(page.get_by_role("heading", name="Vitals")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
    expect(page.get_by_role("button", name="Transfer")).to_have_count(0)
    page.goto(console_server.url + "/queries")
    expect(page.get_by_role("link", name=saved.json()["query"]["name"])).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
    expect(page.get_by_role("link", name="Create query")).to_have_count(0)
