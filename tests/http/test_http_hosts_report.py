"""Hosts: device mapping, macadmins (per host and aggregated), OS versions and the CSV report."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import pytest

from fleet_core.model.hosts import DeviceMapping, HostFacts, MDMInfo, MunkiInfo
from tests.http.support import assert_error, assert_timestamp
from tests.http.test_http_hosts import HOSTS, V1, add_host

if TYPE_CHECKING:
    import httpx

    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

REPORT = f"{HOSTS}/report"
CHROME = "google_chrome_profiles"


# ---- device mapping ---------------------------------------------------------------------------

async def test_device_mapping_lists_the_hosts_emails(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "mapped", facts=HostFacts(device_mapping=(
        DeviceMapping(email="b@example.com", source=CHROME), DeviceMapping(email="a@example.com", source="custom"))))
    response = await fleet.client.get(f"{HOSTS}/{host_id}/device_mapping", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["host_id"] == host_id
    assert sorted((m["email"], m["source"]) for m in body["device_mapping"]) == [
        ("a@example.com", "custom"), ("b@example.com", CHROME)]


async def test_device_mapping_of_a_host_without_emails_is_empty(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "plain")
    response = await fleet.client.get(f"{HOSTS}/{host_id}/device_mapping", headers=fleet.as_admin)
    assert response.json() == {"host_id": host_id, "device_mapping": []}


@pytest.mark.parametrize("suffix", ["device_mapping", "macadmins"])
async def test_per_host_extras_of_unknown_or_invisible_hosts(cast: Cast, suffix: str) -> None:
    fleet = cast.fleet
    assert_error(await fleet.client.get(f"{HOSTS}/404/{suffix}", headers=fleet.as_admin), 404)
    other = await add_host(fleet, "other", team_id=cast.team_two)
    assert_error(await fleet.client.get(f"{HOSTS}/{other}/{suffix}", headers=cast["team_observer"].headers), 403)
    response = await fleet.client.get(f"{HOSTS}/{other}/{suffix}", headers=cast["observer"].headers)
    assert response.status_code == 200


# ---- macadmins --------------------------------------------------------------------------------

@pytest.mark.parametrize(("dep", "enrolled", "wording"), [
    (True, True, "Enrolled (automated)"),
    (False, True, "Enrolled (manual)"),
    (False, False, "Unenrolled"),
])
async def test_host_macadmins_reports_mdm_and_munki(fleet: Fleet, dep: bool, enrolled: bool, wording: str) -> None:
    host_id = await add_host(fleet, "mac", platform="darwin", facts=HostFacts(
        mdm=MDMInfo(enrolled=enrolled, server_url="http://some.url/mdm", installed_from_dep=dep, name="MDM Vendor"),
        munki=MunkiInfo(version="1.2.3")))
    response = await fleet.client.get(f"{HOSTS}/{host_id}/macadmins", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"macadmins": {
        "munki": {"version": "1.2.3"},
        "mobile_device_management": {"enrollment_status": wording, "server_url": "http://some.url/mdm",
                                     "name": "MDM Vendor"},
    }}


async def test_host_macadmins_is_null_for_a_host_that_never_reported_it(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "linux")
    response = await fleet.client.get(f"{HOSTS}/{host_id}/macadmins", headers=fleet.as_admin)
    assert response.json() == {"macadmins": None}
    munki_only = await add_host(fleet, "munki", facts=HostFacts(munki=MunkiInfo(version="5.5")))
    response = await fleet.client.get(f"{HOSTS}/{munki_only}/macadmins", headers=fleet.as_admin)
    assert response.json() == {"macadmins": {"munki": {"version": "5.5"}, "mobile_device_management": None}}


async def test_aggregated_macadmins(cast: Cast) -> None:
    fleet = cast.fleet
    simple = MDMInfo(enrolled=True, server_url="https://a.simplemdm.com/mdm", installed_from_dep=True,
                     name="SimpleMDM")
    await add_host(fleet, "m1", team_id=cast.team_one, facts=HostFacts(mdm=simple, munki=MunkiInfo(version="5.5")))
    await add_host(fleet, "m2", team_id=cast.team_one, facts=HostFacts(
        mdm=MDMInfo(enrolled=True, server_url="https://a.simplemdm.com/mdm", name="SimpleMDM"),
        munki=MunkiInfo(version="5.5", errors=("disk full",))))
    await add_host(fleet, "m3", team_id=cast.team_two, facts=HostFacts(
        mdm=MDMInfo(enrolled=False), munki=MunkiInfo(version="5.4")))
    response = await fleet.client.get(f"{V1}/macadmins", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    macadmins = response.json()["macadmins"]
    assert_timestamp(macadmins["counts_updated_at"])
    assert sorted((v["version"], v["hosts_count"]) for v in macadmins["munki_versions"]) == [("5.4", 1), ("5.5", 2)]
    status = macadmins["mobile_device_management_enrollment_status"]
    assert (status["enrolled_manual_hosts_count"], status["enrolled_automated_hosts_count"],
            status["unenrolled_hosts_count"]) == (1, 1, 1)
    [solution] = macadmins["mobile_device_management_solution"]
    assert set(solution) == {"id", "name", "hosts_count", "server_url"}
    assert (solution["name"], solution["hosts_count"], solution["server_url"]) == (
        "SimpleMDM", 2, "https://a.simplemdm.com/mdm")
    [issue] = macadmins["munki_issues"]
    assert (issue["name"], issue["type"], issue["hosts_count"]) == ("disk full", "error", 1)

    team_two = (await fleet.client.get(f"{V1}/macadmins", headers=fleet.as_admin,
                                       params={"team_id": cast.team_two})).json()["macadmins"]
    assert [(v["version"], v["hosts_count"]) for v in team_two["munki_versions"]] == [("5.4", 1)]
    assert team_two["mobile_device_management_solution"] == []
    mine = (await fleet.client.get(f"{V1}/macadmins", headers=cast["team_observer"].headers)).json()["macadmins"]
    assert sorted(v["version"] for v in mine["munki_versions"]) == ["5.5"]
    assert_error(await fleet.client.get(f"{V1}/macadmins", headers=cast["team_observer"].headers,
                                        params={"team_id": cast.team_two}), 403)


# ---- OS versions ------------------------------------------------------------------------------

async def test_os_versions_count_hosts_per_os(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "u1", team_id=cast.team_one)
    await add_host(fleet, "u2", team_id=cast.team_two)
    await add_host(fleet, "c1", team_id=cast.team_one, platform="rhel", os_version="CentOS Linux 8.3.2011")
    response = await fleet.client.get(f"{V1}/os_versions", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_timestamp(body["counts_updated_at"])
    for version in body["os_versions"]:
        assert set(version) == {"hosts_count", "name", "name_only", "version", "platform", "os_id"}
    found = {(v["name"], v["name_only"], v["version"], v["platform"]): v["hosts_count"] for v in body["os_versions"]}
    assert found == {("Ubuntu 22.04.1 LTS", "Ubuntu", "22.04.1 LTS", "ubuntu"): 2,
                     ("CentOS Linux 8.3.2011", "CentOS Linux", "8.3.2011", "rhel"): 1}

    async def names(**params: Any) -> list[str]:
        response = await fleet.client.get(f"{V1}/os_versions", headers=fleet.as_admin, params=params)
        assert response.status_code == 200, response.text
        return sorted(v["name"] for v in response.json()["os_versions"])

    assert await names(platform="rhel") == ["CentOS Linux 8.3.2011"]
    assert await names(os_name="Ubuntu", os_version="22.04.1 LTS") == ["Ubuntu 22.04.1 LTS"]
    assert await names(os_name="Ubuntu", os_version="20.04") == []
    team_two = (await fleet.client.get(f"{V1}/os_versions", headers=fleet.as_admin,
                                       params={"team_id": cast.team_two})).json()["os_versions"]
    assert [(v["name"], v["hosts_count"]) for v in team_two] == [("Ubuntu 22.04.1 LTS", 1)]


@pytest.mark.parametrize(("params", "name"), [({"os_name": "Ubuntu"}, "os_version"),
                                              ({"os_version": "22.04"}, "os_name")])
async def test_os_versions_needs_name_and_version_together(fleet: Fleet, params: dict[str, str], name: str) -> None:
    assert_error(await fleet.client.get(f"{V1}/os_versions", headers=fleet.as_admin, params=params), 422, name)


# ---- CSV report -------------------------------------------------------------------------------

def parse_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_report_has_every_column_by_default(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "csv1", uptime_seconds=8305, percent_disk_space_available=73.0,
                             gigs_disk_space_available=46.1, facts=HostFacts(device_mapping=(
                                 DeviceMapping(email="a@example.com", source=CHROME),
                                 DeviceMapping(email="b@example.com", source=CHROME))))
    response = await fleet.client.get(REPORT, headers=fleet.as_admin, params={"format": "csv"})
    today = fleet.clock.now().strftime("%Y-%m-%d")
    assert response.headers["content-disposition"] == f'attachment; filename="Hosts {today}.csv"'
    header = response.text.splitlines()[0].split(",")
    assert header[:9] == ["created_at", "updated_at", "id", "detail_updated_at", "label_updated_at",
                          "policy_updated_at", "last_enrolled_at", "seen_time", "refetch_requested"]
    assert {"hostname", "uuid", "platform", "uptime", "team_id", "team_name", "issues", "device_mapping",
            "status", "display_text"} <= set(header)
    [row] = parse_csv(response)
    assert row["id"] == str(host_id)
    assert row["hostname"] == "csv1.local"
    assert row["refetch_requested"] == "false"
    # Fleet writes the uptime as a Go duration and the team as empty cells when there is none.
    assert row["uptime"] == "2h18m25s"
    assert (row["team_id"], row["team_name"]) == ("", "")
    assert (row["percent_disk_space_available"], row["gigs_disk_space_available"]) == ("73", "46.1")
    assert row["status"] == "online"
    assert row["issues"] == "0"
    assert row["device_mapping"] == "a@example.com,b@example.com"
    assert_timestamp(row["created_at"])


async def test_report_columns_select_and_order_the_output(fleet: Fleet) -> None:
    await add_host(fleet, "b", primary_ip="10.0.0.2")
    await add_host(fleet, "a", primary_ip="10.0.0.1", hostname="has,comma")
    response = await fleet.client.get(REPORT, headers=fleet.as_admin, params={
        "format": "csv", "columns": "hostname, primary_ip,platform", "order_key": "primary_ip"})
    assert response.text.splitlines()[0] == "hostname,primary_ip,platform"
    # A proper CSV: the comma inside a value is quoted, not a column break.
    assert '"has,comma",10.0.0.1,ubuntu' in response.text
    assert parse_csv(response) == [
        {"hostname": "has,comma", "primary_ip": "10.0.0.1", "platform": "ubuntu"},
        {"hostname": "b.local", "primary_ip": "10.0.0.2", "platform": "ubuntu"},
    ]


async def test_report_applies_the_list_filters(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "one", team_id=cast.team_one)
    await add_host(fleet, "two", team_id=cast.team_two)
    rows = parse_csv(await fleet.client.get(REPORT, headers=fleet.as_admin, params={
        "format": "csv", "columns": "hostname,team_name", "team_id": cast.team_two}))
    assert rows == [{"hostname": "two.local", "team_name": "Team Two"}]
    rows = parse_csv(await fleet.client.get(REPORT, headers=cast["team_observer"].headers, params={
        "format": "csv", "columns": "hostname"}))
    assert rows == [{"hostname": "one.local"}]
    rows = parse_csv(await fleet.client.get(REPORT, headers=fleet.as_admin, params={
        "format": "csv", "columns": "hostname", "query": "nothing"}))
    assert rows == []


@pytest.mark.parametrize(("params", "name"), [
    ({}, "format"),
    ({"format": "json"}, "format"),
    ({"format": "csv", "columns": "hostname,shoe_size"}, "columns"),
])
async def test_report_validation(fleet: Fleet, params: dict[str, str], name: str) -> None:
    assert_error(await fleet.client.get(REPORT, headers=fleet.as_admin, params=params), 422, name)


async def test_report_for_another_team_is_forbidden(cast: Cast) -> None:
    response = await cast.fleet.client.get(REPORT, headers=cast["team_admin"].headers,
                                           params={"format": "csv", "team_id": cast.team_two})
    assert_error(response, 403)
