"""Hosts: list, count, summary, get (by id and identifier) with filters, ordering, paging,
validation and team visibility."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from fleet_core.model.hosts import (
    Battery,
    DeviceMapping,
    HostFacts,
    HostUser,
    MDMInfo,
    MunkiInfo,
    SoftwareItem,
)
from tests.http.support import assert_error, assert_timestamp

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
HOSTS = f"{V1}/hosts"

# Every key of a host in Fleet's List hosts example, minus geolocation (no GeoIP database).
HOST_KEYS = {
    "created_at", "updated_at", "id", "detail_updated_at", "label_updated_at", "seen_time", "hostname", "uuid",
    "platform", "osquery_version", "os_version", "build", "platform_like", "code_name", "uptime", "memory",
    "cpu_type", "cpu_subtype", "cpu_brand", "cpu_physical_cores", "cpu_logical_cores", "hardware_vendor",
    "hardware_model", "hardware_version", "hardware_serial", "computer_name", "public_ip", "primary_ip",
    "primary_mac", "distributed_interval", "config_tls_refresh", "logger_tls_period", "status", "display_text",
    "team_id", "team_name", "pack_stats", "issues",
}
# What Get host adds (its example), plus the mdm/munki objects of newer Fleet.
DETAIL_KEYS = HOST_KEYS | {
    "software", "last_enrolled_at", "refetch_requested", "gigs_disk_space_available",
    "percent_disk_space_available", "users", "labels", "packs", "policies", "batteries", "additional", "mdm",
    "munki",
}
TIMESTAMP_KEYS = ("created_at", "updated_at", "detail_updated_at", "label_updated_at", "seen_time")


def vitals(name: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "hostname": f"{name}.local", "uuid": f"uuid-{name}", "platform": "ubuntu", "os_version": "Ubuntu 22.04.1 LTS",
        "osquery_version": "5.9.1", "hardware_serial": f"serial-{name}", "primary_ip": "",
        "distributed_interval": 10, "config_tls_refresh": 10, "logger_tls_period": 10,
    }
    fields.update(overrides)
    return fields


async def add_host(fleet: Fleet, name: str, *, team_id: int | None = None, facts: HostFacts | None = None,
                   node_key: str | None = None, **fields: Any) -> int:
    """Enroll a host straight into the store (seen now) and optionally apply detail facts."""
    now = fleet.clock.now()
    async with fleet.kit.store.unit_of_work() as uow:
        enrollment = await uow.hosts.enroll(
            osquery_host_id=f"osquery-{name}", node_key_hash=fleet.kit.services.hosts.tokens.digest(node_key or name),
            team_id=team_id, at=now, fields=vitals(name, **fields))
        host, created = enrollment.host, enrollment.created
        assert created
        await uow.hosts.apply_facts(host.id, facts or HostFacts(), at=now, details_updated=True,
                                    labels_updated=True, clear_refetch=True)
        await uow.commit()
    return host.id


async def advance(fleet: Fleet, delta: dt.timedelta) -> None:
    """Move the clock, logging the admin in again: sessions expire after a few idle days."""
    fleet.clock.advance(delta)
    assert fleet.admin is not None
    fleet.admin = attrs.evolve(fleet.admin, token=await fleet.login(fleet.admin.email))


async def mark_seen(fleet: Fleet, *host_ids: int) -> None:
    async with fleet.kit.store.unit_of_work() as uow:
        await uow.hosts.mark_seen({host_id: fleet.clock.now() for host_id in host_ids})
        await uow.commit()


async def list_hosts(fleet: Fleet, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    response = await fleet.client.get(HOSTS, headers=headers or fleet.as_admin, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["hosts"])


async def listed_ids(fleet: Fleet, headers: dict[str, str] | None = None, **params: Any) -> list[int]:
    return [h["id"] for h in await list_hosts(fleet, headers, **params)]


async def count(fleet: Fleet, headers: dict[str, str] | None = None, **params: Any) -> int:
    response = await fleet.client.get(f"{HOSTS}/count", headers=headers or fleet.as_admin, params=params)
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


# ---- list: shape ------------------------------------------------------------------------------

async def test_list_hosts_returns_the_documented_host_shape(cast: Cast) -> None:
    fleet = cast.fleet
    host_id = await add_host(fleet, "web1", team_id=cast.team_one, uptime_seconds=8305, memory=2084032512,
                             cpu_brand="Intel(R) Core(TM) i5", computer_name="Web One", primary_ip="10.0.0.7")
    [host] = await list_hosts(fleet)
    assert HOST_KEYS <= set(host)
    assert host["id"] == host_id
    assert host["hostname"] == "web1.local"
    assert host["uuid"] == "uuid-web1"
    # Fleet sends uptime as Go nanoseconds.
    assert host["uptime"] == 8305 * 1_000_000_000
    assert host["memory"] == 2084032512
    assert host["status"] == "online"
    assert host["display_text"] == "web1.local"
    assert host["display_name"] == "Web One"
    assert (host["team_id"], host["team_name"]) == (cast.team_one, "Team One")
    assert host["pack_stats"] is None
    assert host["issues"] == {"failing_policies_count": 0, "total_issues_count": 0}
    for key in TIMESTAMP_KEYS:
        assert_timestamp(host[key])
    # Without additional_info_filters and device_mapping, Fleet leaves those keys out.
    assert "additional" not in host
    assert "device_mapping" not in host


async def test_a_host_without_a_team_has_null_team_fields(fleet: Fleet) -> None:
    await add_host(fleet, "lonely")
    [host] = await list_hosts(fleet)
    assert (host["team_id"], host["team_name"]) == (None, None)


async def test_additional_info_filters_select_fields_and_star_returns_all(fleet: Fleet) -> None:
    await add_host(fleet, "extra", additional={"owner": "alice", "rack": "r12", "ssd": True})
    [named] = await list_hosts(fleet, additional_info_filters="owner, missing")
    # Like Fleet's JSON_EXTRACT, a requested field the host does not have is null.
    assert named["additional"] == {"owner": "alice", "missing": None}
    [everything] = await list_hosts(fleet, additional_info_filters="*")
    assert everything["additional"] == {"owner": "alice", "rack": "r12", "ssd": True}
    [bare] = await list_hosts(fleet)
    assert "additional" not in bare


async def test_device_mapping_true_includes_each_hosts_emails(fleet: Fleet) -> None:
    mapped = await add_host(fleet, "mapped", facts=HostFacts(device_mapping=(
        DeviceMapping(email="ada@example.com", source="google_chrome_profiles"),)))
    plain = await add_host(fleet, "plain")
    hosts = {h["id"]: h for h in await list_hosts(fleet, device_mapping="true")}
    assert hosts[mapped]["device_mapping"] == [{"email": "ada@example.com", "source": "google_chrome_profiles"}]
    assert hosts[plain]["device_mapping"] == []


# ---- list: filters ----------------------------------------------------------------------------

async def test_status_filters_follow_the_check_in_interval_and_the_clock(fleet: Fleet) -> None:
    quiet = await add_host(fleet, "quiet")
    chatty = await add_host(fleet, "chatty")
    # interval = min(10, 10) s plus Fleet's 60 s buffer: 71 s later, only a host seen again is online.
    fleet.clock.advance(dt.timedelta(seconds=71))
    await mark_seen(fleet, chatty)
    assert await listed_ids(fleet, status="online") == [chatty]
    assert await listed_ids(fleet, status="offline") == [quiet]
    assert {h["id"]: h["status"] for h in await list_hosts(fleet)} == {quiet: "offline", chatty: "online"}
    assert await listed_ids(fleet, status="new") == [quiet, chatty]
    assert await listed_ids(fleet, status="missing") == []

    await advance(fleet, dt.timedelta(days=30))
    await mark_seen(fleet, chatty)
    # Not seen for 30 days: missing (and its deprecated name mia), and still offline; no longer new.
    assert await listed_ids(fleet, status="missing") == [quiet]
    assert await listed_ids(fleet, status="mia") == [quiet]
    assert await listed_ids(fleet, status="offline") == [quiet]
    assert await listed_ids(fleet, status="new") == []
    assert await count(fleet, status="online") == 1


async def test_team_filter_and_team_id_zero_for_hosts_without_a_team(cast: Cast) -> None:
    fleet = cast.fleet
    one = await add_host(fleet, "one", team_id=cast.team_one)
    two = await add_host(fleet, "two", team_id=cast.team_two)
    none = await add_host(fleet, "none")
    assert await listed_ids(fleet, team_id=cast.team_one) == [one]
    assert await listed_ids(fleet, team_id=cast.team_two) == [two]
    assert await listed_ids(fleet, team_id=0) == [none]
    assert await count(fleet, team_id=0) == 1


@pytest.mark.parametrize(("query", "expected"), [
    ("alpha.loc", ["alpha"]),         # hostname substring
    ("UUID-BETA", ["beta"]),          # uuid, case-insensitive
    ("serial-gamma", ["gamma"]),      # hardware serial
    ("192.168.7", ["beta"]),          # primary ip
    ("ada@example.com", ["alpha"]),   # device-mapping email, only when the text looks like one
    ("nothing-like-it", []),
])
async def test_query_searches_hostname_uuid_serial_ip_and_emails(fleet: Fleet, query: str,
                                                                 expected: list[str]) -> None:
    ids = {
        "alpha": await add_host(fleet, "alpha", facts=HostFacts(device_mapping=(
            DeviceMapping(email="ada@example.com", source="google_chrome_profiles"),))),
        "beta": await add_host(fleet, "beta", primary_ip="192.168.7.20"),
        "gamma": await add_host(fleet, "gamma"),
    }
    assert await listed_ids(fleet, query=query) == [ids[name] for name in expected]
    assert await count(fleet, query=query) == len(expected)


async def test_os_and_label_filters(fleet: Fleet) -> None:
    ubuntu = await add_host(fleet, "u1")
    await add_host(fleet, "mac", platform="darwin", os_version="macOS 13.4.1")
    hosts = await list_hosts(fleet, os_name="macOS", os_version="13.4.1")
    assert [h["hostname"] for h in hosts] == ["mac.local"]
    os_versions = (await fleet.client.get(f"{V1}/os_versions", headers=fleet.as_admin)).json()["os_versions"]
    ubuntu_os = next(v["os_id"] for v in os_versions if v["name_only"] == "Ubuntu")
    assert await listed_ids(fleet, os_id=ubuntu_os) == [ubuntu]
    # Every enrolled host is a member of the built-in "All Hosts" label.
    summary = (await fleet.client.get(f"{V1}/host_summary", headers=fleet.as_admin)).json()
    all_hosts = next(label["id"] for label in summary["builtin_labels"] if label["name"] == "All Hosts")
    assert await count(fleet, label_id=all_hosts) == 2


async def test_mdm_filters_and_the_solution_aggregate(fleet: Fleet) -> None:
    auto = await add_host(fleet, "auto", facts=HostFacts(mdm=MDMInfo(
        enrolled=True, server_url="https://mdm.example.com", installed_from_dep=True, name="Fleet")))
    manual = await add_host(fleet, "manual", facts=HostFacts(mdm=MDMInfo(
        enrolled=True, server_url="https://mdm.example.com", installed_from_dep=False, name="Fleet")))
    off = await add_host(fleet, "off", facts=HostFacts(mdm=MDMInfo(enrolled=False)))
    assert await listed_ids(fleet, mdm_enrollment_status="automatic") == [auto]
    assert await listed_ids(fleet, mdm_enrollment_status="manual") == [manual]
    assert await listed_ids(fleet, mdm_enrollment_status="unenrolled") == [off]
    macadmins = (await fleet.client.get(f"{V1}/macadmins", headers=fleet.as_admin)).json()["macadmins"]
    [solution] = macadmins["mobile_device_management_solution"]
    response = await fleet.client.get(HOSTS, headers=fleet.as_admin, params={"mdm_id": solution["id"]})
    assert response.status_code == 200
    body = response.json()
    assert sorted(h["id"] for h in body["hosts"]) == [auto, manual]
    assert body["mobile_device_management_solution"] == {
        "id": solution["id"], "name": "Fleet", "hosts_count": 2, "server_url": "https://mdm.example.com"}
    assert "mobile_device_management_solution" not in (await fleet.client.get(HOSTS, headers=fleet.as_admin)).json()


async def test_software_filter(fleet: Fleet) -> None:
    with_tar = await add_host(fleet, "tar", facts=HostFacts(software=(
        SoftwareItem(name="tar", version="1.30", source="deb_packages"),)))
    await add_host(fleet, "bare")
    details = (await fleet.client.get(f"{HOSTS}/{with_tar}", headers=fleet.as_admin)).json()["host"]
    [software] = details["software"]
    assert await listed_ids(fleet, software_id=software["id"]) == [with_tar]
    listed = (await fleet.client.get(HOSTS, headers=fleet.as_admin, params={"software_id": software["id"]})).json()
    assert (listed["software"]["id"], listed["software"]["name"], listed["software"]["version"]) == (
        software["id"], "tar", "1.30")
    assert "software" not in (await fleet.client.get(HOSTS, headers=fleet.as_admin)).json()


# ---- list: ordering and paging ----------------------------------------------------------------

async def test_order_key_direction_and_pages(fleet: Fleet) -> None:
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    for name in names:
        await add_host(fleet, name)
    ascending = [h["hostname"] for h in await list_hosts(fleet, order_key="hostname")]
    assert ascending == [f"{n}.local" for n in sorted(names)]
    descending = [h["hostname"] for h in await list_hosts(fleet, order_key="hostname", order_direction="desc")]
    assert descending == list(reversed(ascending))
    pages = [[h["hostname"] for h in await list_hosts(fleet, order_key="hostname", per_page=2, page=p)]
             for p in range(3)]
    assert pages == [ascending[0:2], ascending[2:4], ascending[4:]]
    assert await list_hosts(fleet, order_key="hostname", per_page=2, page=3) == []


async def test_after_returns_hosts_past_the_value_of_the_order_key(fleet: Fleet) -> None:
    for name in ["a", "b", "c", "d"]:
        await add_host(fleet, name)
    after = [h["hostname"] for h in await list_hosts(fleet, order_key="hostname", after="b.local")]
    assert after == ["c.local", "d.local"]
    before = [h["hostname"] for h in await list_hosts(fleet, order_key="hostname", order_direction="desc",
                                                       after="c.local")]
    assert before == ["b.local", "a.local"]
    ids = await listed_ids(fleet, order_key="id")
    assert await listed_ids(fleet, order_key="id", after=str(ids[1])) == ids[2:]


async def test_after_without_order_key_is_422(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(HOSTS, headers=fleet.as_admin, params={"after": "x"}), 422, "after")


# ---- list and count: validation ---------------------------------------------------------------

FILTER_PROBLEMS = [
    ({"status": "sleeping"}, "status"),
    ({"policy_id": "1"}, "policy_response"),
    ({"policy_response": "passing"}, "policy_id"),
    ({"policy_id": "1", "policy_response": "maybe"}, "policy_response"),
    ({"os_name": "Ubuntu"}, "os_version"),
    ({"os_version": "22.04"}, "os_name"),
    ({"mdm_enrollment_status": "sometimes"}, "mdm_enrollment_status"),
    ({"label_id": "1", "mdm_id": "1"}, "label_id"),
    ({"order_key": "favourite_colour"}, "order_key"),
    ({"order_direction": "desc"}, "order_direction"),
    ({"order_key": "hostname", "order_direction": "sideways"}, "order_direction"),
]
PAGING_PROBLEMS = [
    ({"per_page": "0"}, "per_page"),
    ({"page": "-1"}, "page"),
]


@pytest.mark.parametrize(("path", "params", "name"), [
    *[(path, params, name) for path in ("/hosts", "/hosts/count")
      for params, name in FILTER_PROBLEMS + PAGING_PROBLEMS],
    # The report always returns every matching host, so it takes no paging parameters.
    *[("/hosts/report", {"format": "csv", **params}, name) for params, name in FILTER_PROBLEMS],
])
async def test_invalid_list_parameters_are_422_naming_the_parameter(fleet: Fleet, path: str,
                                                                    params: dict[str, str], name: str) -> None:
    response = await fleet.client.get(f"{V1}{path}", headers=fleet.as_admin, params=params)
    body = assert_error(response, 422, name)
    assert body["message"] == "Validation Failed"


@pytest.mark.parametrize(("params", "name"), [
    ({"team_id": "abc"}, "team_id"),
    ({"policy_id": "x", "policy_response": "passing"}, "policy_id"),
    ({"per_page": "many"}, "per_page"),
    ({"device_mapping": "perhaps"}, "device_mapping"),
])
async def test_list_parameters_of_the_wrong_type_are_400_naming_the_parameter(fleet: Fleet, params: dict[str, str],
                                                                              name: str) -> None:
    assert_error(await fleet.client.get(HOSTS, headers=fleet.as_admin, params=params), 400, name)


# ---- team visibility --------------------------------------------------------------------------

async def test_team_users_see_only_their_teams_hosts(cast: Cast) -> None:
    fleet = cast.fleet
    one = await add_host(fleet, "one", team_id=cast.team_one)
    two = await add_host(fleet, "two", team_id=cast.team_two)
    none = await add_host(fleet, "none")
    for role in ("team_admin", "team_maintainer", "team_observer"):
        headers = cast[role].headers
        assert await listed_ids(fleet, headers) == [one]
        assert await count(fleet, headers) == 1
        assert await listed_ids(fleet, headers, team_id=cast.team_one) == [one]
        assert_error(await fleet.client.get(HOSTS, headers=headers, params={"team_id": cast.team_two}), 403)
        assert_error(await fleet.client.get(f"{HOSTS}/{two}", headers=headers), 403)
        assert (await fleet.client.get(f"{HOSTS}/{one}", headers=headers)).status_code == 200
    for role in ("admin", "maintainer", "observer"):
        assert await listed_ids(fleet, cast[role].headers) == [one, two, none]


# Fleet lets only global roles read a host that belongs to no team; HostService._check_host passes
# team_ids=None for such a host, which authz treats as a global object open to every team role.
async def test_a_team_user_may_not_read_a_host_without_a_team(cast: Cast) -> None:
    fleet = cast.fleet
    none = await add_host(fleet, "none")
    assert_error(await fleet.client.get(f"{HOSTS}/{none}", headers=cast["team_observer"].headers), 403)


async def test_a_team_user_asking_for_hosts_without_a_team_sees_none(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "none")
    assert await listed_ids(fleet, cast["team_observer"].headers, team_id=0) == []


@pytest.mark.parametrize("path", [
    "/hosts", "/hosts/count", "/host_summary", "/hosts/1", "/hosts/identifier/x", "/hosts/1/device_mapping",
    "/hosts/1/macadmins", "/macadmins", "/os_versions", "/hosts/report?format=csv",
])
async def test_read_endpoints_need_a_token(fleet: Fleet, path: str) -> None:
    assert_error(await fleet.client.get(f"{V1}{path}"), 401)
    assert_error(await fleet.client.get(f"{V1}{path}", headers={"Authorization": "Bearer nonsense"}), 401)


async def test_the_latest_prefix_serves_the_hosts_endpoints(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "latest")
    for path in ("/hosts", "/hosts/count", f"/hosts/{host_id}", "/host_summary", "/os_versions", "/macadmins",
                 f"/hosts/{host_id}/macadmins", f"/hosts/{host_id}/device_mapping", "/hosts/identifier/uuid-latest",
                 "/hosts/report?format=csv"):
        response = await fleet.client.get(f"/api/latest/fleet{path}", headers=fleet.as_admin)
        assert response.status_code == 200, (path, response.text)
    refetch = await fleet.client.post(f"/api/latest/fleet/hosts/{host_id}/refetch", headers=fleet.as_admin)
    assert refetch.status_code == 200
    deleted = await fleet.client.delete(f"/api/latest/fleet/hosts/{host_id}", headers=fleet.as_admin)
    assert deleted.status_code == 200
    assert await count(fleet) == 0


# ---- count ------------------------------------------------------------------------------------

async def test_count_matches_the_list_without_paging(cast: Cast) -> None:
    fleet = cast.fleet
    for i in range(3):
        await add_host(fleet, f"t1-{i}", team_id=cast.team_one)
    await add_host(fleet, "t2", team_id=cast.team_two)
    assert await count(fleet) == 4
    assert await count(fleet, team_id=cast.team_one, per_page=1, page=0, order_key="hostname") == 3
    assert await count(fleet, query="t1-") == 3
    response = await fleet.client.get(f"{HOSTS}/count", headers=fleet.as_admin)
    assert response.json() == {"count": 4}


# ---- summary ----------------------------------------------------------------------------------

async def test_host_summary_counts_by_status_and_platform(cast: Cast) -> None:
    fleet = cast.fleet
    old = await add_host(fleet, "old", team_id=cast.team_one, platform="darwin", os_version="macOS 13.4")
    await advance(fleet, dt.timedelta(days=31))
    await add_host(fleet, "fresh", team_id=cast.team_one)
    await add_host(fleet, "other", team_id=cast.team_two, platform="rhel", os_version="Red Hat 9.2")
    response = await fleet.client.get(f"{V1}/host_summary", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert {"team_id", "totals_hosts_count", "online_count", "offline_count", "mia_count", "new_count",
            "all_linux_count", "builtin_labels", "platforms"} <= set(summary)
    assert summary["team_id"] is None
    assert summary["totals_hosts_count"] == 3
    assert (summary["online_count"], summary["offline_count"]) == (2, 1)
    assert summary["mia_count"] == 1
    assert summary["new_count"] == 2
    assert summary["all_linux_count"] == 2
    assert sorted((p["platform"], p["hosts_count"]) for p in summary["platforms"]) == [
        ("darwin", 1), ("rhel", 1), ("ubuntu", 1)]
    names = [label["name"] for label in summary["builtin_labels"]]
    assert "All Hosts" in names
    for label in summary["builtin_labels"]:
        assert set(label) == {"id", "name", "description", "label_type"}
        assert label["label_type"] == "builtin"

    team = (await fleet.client.get(f"{V1}/host_summary", headers=fleet.as_admin,
                                   params={"team_id": cast.team_one})).json()
    assert (team["team_id"], team["totals_hosts_count"], team["mia_count"]) == (cast.team_one, 2, 1)
    darwin = (await fleet.client.get(f"{V1}/host_summary", headers=fleet.as_admin,
                                     params={"platform": "darwin"})).json()
    assert darwin["totals_hosts_count"] == 1
    assert old  # the darwin host is the one seen 31 days ago
    assert darwin["mia_count"] == 1


async def test_host_summary_for_team_users_is_limited_to_their_teams(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "one", team_id=cast.team_one)
    await add_host(fleet, "two", team_id=cast.team_two)
    headers = cast["team_observer"].headers
    mine = (await fleet.client.get(f"{V1}/host_summary", headers=headers)).json()
    assert mine["totals_hosts_count"] == 1
    assert_error(await fleet.client.get(f"{V1}/host_summary", headers=headers, params={"team_id": cast.team_two}), 403)


# ---- get host ---------------------------------------------------------------------------------

FULL_FACTS = HostFacts(
    users=(HostUser(uid=0, username="root", groupname="root", shell="/bin/bash"),  # noqa: S604 - a field
           HostUser(uid=1, username="bin", groupname="bin", shell="/sbin/nologin")),  # noqa: S604
    software=(SoftwareItem(name="osquery", version="5.9.1", source="deb_packages"),
              SoftwareItem(name="SomeApp.app", version="1.0", source="apps", bundle_identifier="com.some.app",
                           last_opened_at=dt.datetime(2021, 8, 18, 21, 14, tzinfo=dt.UTC))),
    device_mapping=(DeviceMapping(email="ada@example.com", source="google_chrome_profiles"),),
    mdm=MDMInfo(enrolled=True, server_url="https://mdm.example.com", installed_from_dep=True, name="Fleet"),
    munki=MunkiInfo(version="5.5.1"),
    batteries=(Battery(cycle_count=999, health="Normal"),),
)


async def test_get_host_returns_the_documented_details(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "full", facts=FULL_FACTS, gigs_disk_space_available=46.1,
                             percent_disk_space_available=73.0, additional={"owner": "alice"})
    response = await fleet.client.get(f"{HOSTS}/{host_id}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    host = response.json()["host"]
    assert DETAIL_KEYS <= set(host)
    assert host["id"] == host_id
    assert host["refetch_requested"] is False
    assert_timestamp(host["last_enrolled_at"])
    assert (host["gigs_disk_space_available"], host["percent_disk_space_available"]) == (46.1, 73)
    assert host["additional"] == {"owner": "alice"}
    assert host["users"] == [
        {"uid": 0, "username": "root", "type": "", "groupname": "root", "shell": "/bin/bash"},
        {"uid": 1, "username": "bin", "type": "", "groupname": "bin", "shell": "/sbin/nologin"},
    ]
    software = {s["name"]: s for s in host["software"]}
    assert set(software) == {"osquery", "SomeApp.app"}
    assert {k: software["osquery"][k] for k in ("version", "source", "generated_cpe", "vulnerabilities")} == {
        "version": "5.9.1", "source": "deb_packages", "generated_cpe": "", "vulnerabilities": None}
    assert isinstance(software["osquery"]["id"], int)
    assert "bundle_identifier" not in software["osquery"]
    assert software["SomeApp.app"]["bundle_identifier"] == "com.some.app"
    assert software["SomeApp.app"]["last_opened_at"] == "2021-08-18T21:14:00Z"
    [label] = host["labels"]
    assert label["name"] == "All Hosts"
    assert {"created_at", "updated_at", "id", "name", "description", "query", "platform", "label_type",
            "label_membership_type"} == set(label)
    assert (label["label_type"], label["label_membership_type"]) == ("builtin", "dynamic")
    assert host["packs"] == []
    assert host["policies"] == []
    assert host["pack_stats"] is None
    assert host["batteries"] == [{"cycle_count": 999, "health": "Normal"}]
    assert host["mdm"] == {"enrollment_status": "Enrolled (automated)", "server_url": "https://mdm.example.com",
                           "name": "Fleet"}
    assert host["munki"] == {"version": "5.5.1"}
    assert host["device_mapping"] == [{"email": "ada@example.com", "source": "google_chrome_profiles"}]


async def test_a_host_that_reported_nothing_yet_has_empty_details(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "bare")
    host = (await fleet.client.get(f"{HOSTS}/{host_id}", headers=fleet.as_admin)).json()["host"]
    assert (host["software"], host["users"], host["batteries"]) == ([], [], [])
    assert (host["mdm"], host["munki"], host["additional"]) == (None, None, {})


async def test_get_unknown_host_is_404(fleet: Fleet) -> None:
    body = assert_error(await fleet.client.get(f"{HOSTS}/4242", headers=fleet.as_admin), 404, "base")
    assert body["message"] == "Resource Not Found"
    assert_error(await fleet.client.get(f"{HOSTS}/{2**64}", headers=fleet.as_admin), 404)


async def test_host_status_turns_offline_when_the_host_stops_checking_in(fleet: Fleet) -> None:
    host_id = await add_host(fleet, "fading", distributed_interval=300, config_tls_refresh=600)
    # min(300, 600) + 60 s: still online at 359 s, offline at 360 s.
    fleet.clock.advance(dt.timedelta(seconds=359))
    assert (await fleet.client.get(f"{HOSTS}/{host_id}", headers=fleet.as_admin)).json()["host"]["status"] == "online"
    fleet.clock.advance(dt.timedelta(seconds=1))
    assert (await fleet.client.get(f"{HOSTS}/{host_id}", headers=fleet.as_admin)).json()["host"]["status"] == "offline"


# ---- get host by identifier -------------------------------------------------------------------

@pytest.mark.parametrize("identifier", ["uuid-ident", "osquery-ident", "ident.local", "serial-ident",
                                        "the-node-key"])
async def test_get_host_by_any_identifier(fleet: Fleet, identifier: str) -> None:
    host_id = await add_host(fleet, "ident", node_key="the-node-key")
    await add_host(fleet, "decoy")
    response = await fleet.client.get(f"{HOSTS}/identifier/{identifier}", headers=fleet.as_admin)
    assert response.status_code == 200, response.text
    host = response.json()["host"]
    assert host["id"] == host_id
    assert DETAIL_KEYS <= set(host)


async def test_get_host_by_unknown_identifier_is_404(fleet: Fleet) -> None:
    await add_host(fleet, "known")
    body = assert_error(await fleet.client.get(f"{HOSTS}/identifier/nobody", headers=fleet.as_admin), 404)
    assert "nobody" in body["errors"][0]["reason"]


async def test_get_host_by_identifier_respects_teams(cast: Cast) -> None:
    fleet = cast.fleet
    await add_host(fleet, "two", team_id=cast.team_two)
    await add_host(fleet, "one", team_id=cast.team_one)
    headers = cast["team_observer"].headers
    assert_error(await fleet.client.get(f"{HOSTS}/identifier/uuid-two", headers=headers), 403)
    assert (await fleet.client.get(f"{HOSTS}/identifier/uuid-one", headers=headers)).status_code == 200
