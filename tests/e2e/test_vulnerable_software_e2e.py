"""Issue 12 end to end: the real `fleet serve` with the tests' NVD feed, simulated Ubuntu hosts that
report openssl as a deb package, and the API alone.

One host reports openssl 1.1.1k (CVE-2021-3711 applies: 1.1.1 <= v < 1.1.1l), another the fixed
1.1.1n (the test feed's CVE-2022-0778 also applies to 1.1.1l and 1.1.1m). After the vulnerability
job and the counts job run (POST /trigger), GET /software?vulnerable=true lists 1.1.1k with the CVE
and the scores of the test files and not 1.1.1n; the host details carry the vulnerability; an
observer of another team sees neither host's software. Twice: with the feed files placed in the
databases path by an operator (data sync disabled), and downloaded by the job's data sync from a
local server that serves them as the publishers do.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from test_serve import log_in, set_up

from fleet_osquery.sim import Simulator, Software
from tests import support_vulnfeeds as feeds

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = pytest.mark.e2e

SECRET = "e2e-vulnerable-software"
V1 = "/api/v1/fleet"
LATEST = "/api/latest/fleet"
PASSWORD = "correct-horse-9!battery"
DEADLINE = 60.0
VULNERABLE_CPE = "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*"


def this_year() -> int:
    return dt.datetime.now(dt.UTC).year


@pytest.fixture
def feed_server() -> Iterator[feeds.FeedServer]:
    running = feeds.FeedServer(feeds.sample_files(this_year()))
    running.start()
    try:
        yield running
    finally:
        running.stop()


class Api:
    def __init__(self, client: httpx.Client, token: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        url = path if path.startswith("/api/") else V1 + path
        response = self.client.request(method, url, headers=self.auth, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else None


def poll(what: str, read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """read() until done(value), or fail at the deadline with the last value."""
    deadline = time.monotonic() + DEADLINE
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached in {DEADLINE}s; last: {value!r}")
        time.sleep(0.1)
        value = read()
    return value


def trigger(admin: Api, name: str) -> None:
    """Start a run of the schedule. A trigger answers once its run has started, so the previous
    run of the same schedule may still hold the schedule (409): try again until it is over."""
    deadline = time.monotonic() + DEADLINE
    while True:
        response = admin.client.post(f"{LATEST}/trigger", params={"name": name}, headers=admin.auth)
        if response.status_code != 409:
            assert response.status_code == 200, response.text
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the {name} schedule stayed busy for {DEADLINE}s")
        time.sleep(0.1)


def openssl(version: str) -> list[Software]:
    return [Software(name="openssl", version=version, source="deb_packages", arch="amd64"),
            Software(name="zlib1g", version="1:1.2.11.dfsg-2ubuntu9.2", source="deb_packages", arch="amd64")]


def check_the_fleet(server_url: str, client: httpx.Client) -> None:
    assert set_up(client, server_url).status_code == 200
    admin = Api(client, log_in(client))
    admin.call("POST", "/spec/enroll_secret", json={"spec": {"secrets": [{"secret": SECRET}]}})
    servers = admin.call("POST", "/teams", json={"name": "Servers"})["team"]
    laptops = admin.call("POST", "/teams", json={"name": "Laptops"})["team"]

    async def hosts_report() -> None:
        sim = Simulator(server_url, SECRET, hosts=2, os_templates="ubuntu_22.04", start_period=0)
        async with sim:
            vulnerable, fixed = sim.hosts
            vulnerable.answerer.report_software(openssl("1.1.1k"))
            fixed.answerer.report_software(openssl("1.1.1n"))
            for host in sim.hosts:
                assert await host.enroll()
                await host.check_in()  # the first check-in asks the detail queries, software among them
                assert "fleet_detail_query_software_linux" in host.queries_answered

    anyio.run(hosts_report)
    hosts = {h["hostname"]: h for h in admin.call("GET", "/hosts")["hosts"]}
    assert len(hosts) == 2
    host_ids = [h["id"] for h in hosts.values()]
    admin.call("POST", "/hosts/transfer", json={"team_id": servers["id"], "hosts": host_ids})

    # Both openssl versions are stored from the agents' answers (the host details show them at
    # once; the listing once the counts job has counted them); none is vulnerable before the job.
    for host_id, version in zip(host_ids, ("1.1.1k", "1.1.1n"), strict=True):
        stored = poll(f"host {host_id}'s software stored", lambda h=host_id: admin.call("GET", f"/hosts/{h}")["host"],
                      lambda host: any(s["name"] == "openssl" for s in host["software"]))
        assert {s["name"]: s["version"] for s in stored["software"]}["openssl"] in ("1.1.1k", "1.1.1n"), version
    trigger(admin, "cleanups_then_aggregation")
    every = poll("both openssl versions counted", lambda: admin.call("GET", "/software", params={"query": "openssl"}),
                 lambda body: len(body["software"]) == 2)
    assert sorted(s["version"] for s in every["software"]) == ["1.1.1k", "1.1.1n"]
    assert all(s["vulnerabilities"] is None and s["generated_cpe"] == "" for s in every["software"])
    assert admin.call("GET", "/software", params={"vulnerable": "true"})["software"] == []

    trigger(admin, "vulnerabilities")
    trigger(admin, "cleanups_then_aggregation")

    listed = poll("openssl 1.1.1k listed as vulnerable",
                  lambda: admin.call("GET", "/software", params={"vulnerable": "true"}),
                  lambda body: any(s["name"] == "openssl" for s in body["software"]))
    assert [(s["name"], s["version"]) for s in listed["software"]] == [("openssl", "1.1.1k")]
    software = listed["software"][0]
    assert software["source"] == "deb_packages"
    assert software["generated_cpe"] == VULNERABLE_CPE
    assert software["hosts_count"] == 1
    assert listed["counts_updated_at"] is not None
    # CVE-2022-0778 (1.1.1 <= v < 1.1.1n in the test feed) applies too; the rejected CVE-2022-1002 does not.
    assert sorted(v["cve"] for v in software["vulnerabilities"]) == ["CVE-2021-3711", "CVE-2022-0778"]
    found = next(v for v in software["vulnerabilities"] if v["cve"] == "CVE-2021-3711")
    assert found["details_link"] == "https://nvd.nist.gov/vuln/detail/CVE-2021-3711"
    assert found["cvss_score"] == 9.8
    assert found["epss_probability"] == 0.01234
    assert found["cisa_known_exploit"] is True
    assert found["cve_published"].startswith("2021-08-24T15:15")
    assert found["resolved_in_version"] == "1.1.1l"

    # The fixed version has its CPE and no vulnerability.
    fixed_software = admin.call("GET", "/software", params={"query": "1.1.1n"})["software"]
    assert [(s["version"], s["generated_cpe"], s["vulnerabilities"]) for s in fixed_software] == [
        ("1.1.1n", "cpe:2.3:a:openssl:openssl:1.1.1n:*:*:*:*:*:*:*", None)]
    assert admin.call("GET", "/software/count", params={"vulnerable": "true"})["count"] == 1
    by_cve = admin.call("GET", "/software", params={"query": "CVE-2021-3711"})["software"]
    assert [s["version"] for s in by_cve] == ["1.1.1k"]

    # The host details carry the vulnerability on the vulnerable host only.
    vulnerable_host = admin.call("GET", "/hosts", params={"software_id": software["id"]})["hosts"]
    assert len(vulnerable_host) == 1
    details = admin.call("GET", f"/hosts/{vulnerable_host[0]['id']}")["host"]
    installed = {s["name"]: s for s in details["software"]}
    assert installed["openssl"]["version"] == "1.1.1k"
    assert installed["openssl"]["generated_cpe"] == VULNERABLE_CPE
    assert "CVE-2021-3711" in [v["cve"] for v in installed["openssl"]["vulnerabilities"]]
    fixed_host = next(i for i in host_ids if i != vulnerable_host[0]["id"])
    fixed_details = admin.call("GET", f"/hosts/{fixed_host}")["host"]
    assert {s["name"]: s["vulnerabilities"] for s in fixed_details["software"]}["openssl"] is None

    # Team users see their team's software only.
    for name, team in (("server-observer", servers), ("laptop-observer", laptops)):
        admin.call("POST", "/users/admin", json={
            "name": name, "email": f"{name}@example.com", "password": PASSWORD,
            "admin_forced_password_reset": False, "teams": [{"id": team["id"], "role": "observer"}]})
    as_servers = Api(client, client.post(f"{V1}/login", json={"email": "server-observer@example.com",
                                                               "password": PASSWORD}).json()["token"])
    as_laptops = Api(client, client.post(f"{V1}/login", json={"email": "laptop-observer@example.com",
                                                               "password": PASSWORD}).json()["token"])
    seen = as_servers.call("GET", "/software", params={"vulnerable": "true", "team_id": servers["id"]})
    assert [s["version"] for s in seen["software"]] == ["1.1.1k"]
    assert as_laptops.call("GET", "/software", params={"vulnerable": "true"})["software"] == []
    assert as_laptops.call("GET", "/software", params={"query": "openssl"})["software"] == []
    assert as_laptops.call("GET", "/software/count", params={"query": "openssl"})["count"] == 0
    as_laptops.call("GET", "/software", params={"team_id": servers["id"]}, status=403)
    as_laptops.call("GET", f"/hosts/{vulnerable_host[0]['id']}", status=403)

    # Running the job again finds the same, never twice.
    trigger(admin, "vulnerabilities")
    again = admin.call("GET", "/software", params={"vulnerable": "true"})["software"]
    assert [sorted(v["cve"] for v in s["vulnerabilities"]) for s in again] == [["CVE-2021-3711", "CVE-2022-0778"]]


def test_a_host_with_openssl_1_1_1k_is_vulnerable_with_the_feed_placed_on_disk(
    fleet: FleetCLI, data_dir: Path, tmp_path: Path
) -> None:
    databases = tmp_path / "vulndb"
    feeds.write_files(databases, feeds.sample_files(this_year()))
    server = fleet.serve(data_dir, tls=False, extra=[
        "--vulnerabilities-databases-path", str(databases), "--vulnerabilities-disable-data-sync"])
    with server.client() as client:
        check_the_fleet(server.base_url, client)
    assert server.terminate() == 0


def test_a_host_with_openssl_1_1_1k_is_vulnerable_with_the_feed_downloaded_by_data_sync(
    fleet: FleetCLI, data_dir: Path, tmp_path: Path, feed_server: feeds.FeedServer
) -> None:
    databases = tmp_path / "vulndb"
    server = fleet.serve(data_dir, tls=False, extra=[
        "--vulnerabilities-databases-path", str(databases),
        "--vulnerabilities-cve-feed-prefix-url", feed_server.url,
        "--vulnerabilities-cpe-database-url", feed_server.url + "nvdcpe-2.0.tar.gz",
        "--vulnerabilities-epss-url", feed_server.url + "epss_scores-current.csv.gz",
        "--vulnerabilities-cisa-known-exploits-url", feed_server.url + "known_exploited_vulnerabilities.json"])
    with server.client() as client:
        check_the_fleet(server.base_url, client)
    assert server.terminate() == 0
    # Every file came from the local server, under its publisher's name, and was replaced atomically.
    assert {p.name for p in databases.iterdir() if not p.name.startswith(".")} >= {
        "nvdcve-2.0-2021.json.gz", "nvdcve-2.0-modified.json.gz", "nvdcpe-2.0.tar.gz",
        "epss_scores-current.csv.gz", "known_exploited_vulnerabilities.json"}
    assert feed_server.seen("nvdcve-2.0-2021.json.gz")
    assert feed_server.seen("known_exploited_vulnerabilities.json")
