"""The Software endpoints once the vulnerability job has run (POST /trigger?name=vulnerabilities,
over a fake feed index): the vulnerabilities objects, the vulnerable filter, searching by CVE,
ordering by the CVE scores, the host details' software, team visibility and who may trigger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.model.hosts import HostFacts, SoftwareItem
from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.vulnerability_settings import VulnerabilitiesConfig
from tests.http.support import assert_error
from tests.http.test_http_hosts import add_host
from tests.http.test_http_software import COUNT, SOFTWARE, V1, get, refresh_counts
from tests.unit.services.fake_vulnerability_feed import FakeFeed, openssl_index

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

OPENSSL_OLD = SoftwareItem("openssl", "1.1.1k", "deb_packages")
OPENSSL_FIXED = SoftwareItem("openssl", "1.1.1l", "deb_packages")
CURL = SoftwareItem("curl", "8.0", "deb_packages")
VIM = SoftwareItem("vim", "9.1", "deb_packages")


@pytest.fixture
def kit() -> InMemoryKit:
    return in_memory_kit(vulnerability_feed=FakeFeed(openssl_index()), runtime=ServerRuntime(
        vulnerabilities=VulnerabilitiesConfig(databases_path="/var/lib/fleet/vulndb")))


async def run_jobs(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/trigger", params={"name": "vulnerabilities"}, headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    await refresh_counts(fleet)


async def seed(cast: Cast) -> dict[str, int]:
    """Team one: openssl 1.1.1k + vim; team two: openssl 1.1.1l (fixed) + curl 8.0; then the jobs run."""
    fleet = cast.fleet
    hosts = {
        "old": await add_host(fleet, "old", team_id=cast.team_one, facts=HostFacts(software=(OPENSSL_OLD, VIM))),
        "fixed": await add_host(fleet, "fixed", team_id=cast.team_two, facts=HostFacts(software=(OPENSSL_FIXED, CURL))),
    }
    await run_jobs(cast.fleet)
    return hosts


def titles(body: dict[str, Any]) -> list[str]:
    return [f"{s['name']} {s['version']}" for s in body["software"]]


async def test_the_vulnerable_version_is_listed_with_its_cve_and_scores(cast: Cast) -> None:
    await seed(cast)
    fleet = cast.fleet
    for prefix in ("/api/v1/fleet", "/api/latest/fleet"):
        body = await get(fleet, f"{prefix}/software", fleet.as_admin, vulnerable="true", order_key="name")
        assert titles(body) == ["curl 8.0", "openssl 1.1.1k"]
    openssl = body["software"][1]
    assert openssl | {"id": 0} == {
        "id": 0, "name": "openssl", "version": "1.1.1k", "source": "deb_packages", "release": "", "vendor": "",
        "arch": "", "generated_cpe": "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*", "hosts_count": 1,
        "vulnerabilities": [{
            "cve": "CVE-2021-3711", "details_link": "https://nvd.nist.gov/vuln/detail/CVE-2021-3711",
            "cvss_score": 9.8, "epss_probability": 0.01537, "cisa_known_exploit": False,
            "cve_published": "2021-08-24T15:15:00Z", "resolved_in_version": "1.1.1l"}]}
    assert await get(fleet, COUNT, fleet.as_admin, vulnerable="1") == {"count": 2}
    every = {f"{s['name']} {s['version']}": s for s in (await get(fleet, SOFTWARE, fleet.as_admin))["software"]}
    assert every["openssl 1.1.1l"]["vulnerabilities"] is None
    assert every["openssl 1.1.1l"]["generated_cpe"] == "cpe:2.3:a:openssl:openssl:1.1.1l:*:*:*:*:*:*:*"
    assert every["vim 9.1"]["generated_cpe"] == "" and every["vim 9.1"]["vulnerabilities"] is None


async def test_query_matches_cve_ids_too(cast: Cast) -> None:
    await seed(cast)
    fleet = cast.fleet
    assert titles(await get(fleet, SOFTWARE, fleet.as_admin, query="cve-2021-37")) == ["openssl 1.1.1k"]
    assert await get(fleet, COUNT, fleet.as_admin, query="CVE-2023") == {"count": 1}
    assert await get(fleet, COUNT, fleet.as_admin, query="CVE-1999") == {"count": 0}


@pytest.mark.parametrize(("order_key", "desc_first"), [
    ("cvss_score", None), ("epss_probability", "curl 8.0"), ("cisa_known_exploit", "curl 8.0")])
async def test_ordering_by_the_cve_scores_puts_software_without_cves_last(cast: Cast, order_key: str,
                                                                          desc_first: str | None) -> None:
    await seed(cast)
    fleet = cast.fleet
    for direction in ("asc", "desc"):
        body = await get(fleet, SOFTWARE, fleet.as_admin, order_key=order_key, order_direction=direction)
        listed = titles(body)
        assert set(listed[:2]) == {"curl 8.0", "openssl 1.1.1k"}
        assert set(listed[2:]) == {"openssl 1.1.1l", "vim 9.1"}
        if desc_first is not None:
            assert listed[0] == (desc_first if direction == "desc" else ({"curl 8.0", "openssl 1.1.1k"}
                                                                       - {desc_first}).pop())
    paged = await get(fleet, SOFTWARE, fleet.as_admin, order_key="epss_probability", order_direction="desc",
                      page=0, per_page=1)
    assert titles(paged) == ["curl 8.0"]


async def test_host_details_software_carries_cpe_and_vulnerabilities(cast: Cast) -> None:
    hosts = await seed(cast)
    fleet = cast.fleet
    body = await get(fleet, f"{V1}/hosts/{hosts['old']}", fleet.as_admin)
    software = {s["name"]: s for s in body["host"]["software"]}
    assert software["openssl"]["generated_cpe"] == "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*"
    assert [v["cve"] for v in software["openssl"]["vulnerabilities"]] == ["CVE-2021-3711"]
    assert software["vim"]["vulnerabilities"] is None
    listing = await get(fleet, f"{V1}/hosts", fleet.as_admin, software_id=software["openssl"]["id"])
    assert [h["id"] for h in listing["hosts"]] == [hosts["old"]]
    assert [v["cve"] for v in listing["software"]["vulnerabilities"]] == ["CVE-2021-3711"]
    assert listing["software"]["hosts_count"] == 1


@pytest.mark.parametrize("role", ["team_admin", "team_maintainer", "team_observer"])
async def test_team_users_see_only_their_teams_vulnerable_software(cast: Cast, role: str) -> None:
    await seed(cast)
    headers = cast[role].headers
    assert titles(await get(cast.fleet, SOFTWARE, headers, vulnerable="true")) == ["openssl 1.1.1k"]
    assert await get(cast.fleet, COUNT, headers, query="CVE-2023") == {"count": 0}
    assert_error(await cast.fleet.client.get(SOFTWARE, params={"team_id": cast.team_two, "vulnerable": "true"},
                                             headers=headers), 403)


@pytest.mark.parametrize("role", ["maintainer", "observer", "team_admin"])
async def test_only_global_admins_trigger_the_vulnerability_job(cast: Cast, role: str) -> None:
    response = await cast.fleet.client.post(f"{V1}/trigger", params={"name": "vulnerabilities"},
                                            headers=cast[role].headers)
    assert_error(response, 403)


async def test_get_config_reports_the_vulnerability_settings(fleet: Fleet) -> None:
    body = await get(fleet, f"{V1}/config", fleet.as_admin)
    assert body["vulnerabilities"] == {
        "cpe_database_url": "https://nvd.nist.gov/feeds/json/cpe/2.0/nvdcpe-2.0.tar.gz",
        "current_instance_checks": "auto", "cve_feed_prefix_url": "https://nvd.nist.gov/feeds/json/cve/2.0/",
        "databases_path": "/var/lib/fleet/vulndb", "disable_data_sync": False,
        "periodicity": 3600 * 10**9, "recent_vulnerability_max_age": 30 * 86400 * 10**9}
