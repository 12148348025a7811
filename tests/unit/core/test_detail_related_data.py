"""Example-based tests of the detail queries that fill data beside the host row: users, MDM, Munki, batteries..."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from fleet_core.model.hosts import Battery, DeviceMapping, HostFacts, HostUser, MDMInfo, MunkiInfo
from fleet_core.rules.detail.related import mdm_name_from_server_url
from fleet_core.rules.detail_queries import DETAIL_QUERIES, IngestContext

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
MAC = IngestContext(platform="darwin", now=NOW)


def ingest(name: str, rows: list[dict[str, str]], ctx: IngestContext = MAC) -> HostFacts:
    return DETAIL_QUERIES[name].ingest(rows, ctx)


def test_users_become_host_users() -> None:
    rows = [{"uid": "0", "uuid": "", "username": "root", "type": "", "groupname": "root", "shell": "/bin/bash"},
            {"uid": "501", "uuid": "A1", "username": "alice", "type": "", "groupname": "staff", "shell": "/bin/zsh"}]
    assert ingest("users", rows).users == (HostUser(0, "root", "", "root", "/bin/bash"),
                                           HostUser(501, "alice", "", "staff", "/bin/zsh"))
    assert not DETAIL_QUERIES["users"].updates_details


def test_users_skip_broken_rows_and_keep_the_list_when_nothing_is_left() -> None:
    rows = [{"uid": "", "username": "ghost"}, {"uid": "x", "username": "bad"}, {"uid": "1", "username": "daemon"}]
    assert ingest("users", rows).users == (HostUser(1, "daemon"),)
    assert ingest("users", [{"uid": "", "username": "ghost"}]) == HostFacts()


def test_chromeos_uids_that_do_not_parse_become_zero() -> None:
    chrome = IngestContext(platform="chrome", now=NOW)
    rows = [{"uid": "112233445566778899001122", "username": "kid@example.com", "email": "kid@example.com"}]
    facts = ingest("users_chrome", rows, chrome)
    assert facts.users == (HostUser(0, "kid@example.com"),)
    assert ingest("users", rows).users is None  # elsewhere an unparsable uid drops the row
    assert ingest("users_chrome", [{"uid": "abc", "username": "u"}], chrome).users == (HostUser(0, "u"),)


def test_google_chrome_profiles_become_device_mapping() -> None:
    rows = [{"email": "alice@example.com"}, {"email": "alice@example.com"}, {"email": "bob@example.com"}]
    assert ingest("google_chrome_profiles", rows).device_mapping == (
        DeviceMapping("alice@example.com", "google_chrome_profiles"),
        DeviceMapping("bob@example.com", "google_chrome_profiles"))
    assert ingest("google_chrome_profiles", []).device_mapping == ()


@pytest.mark.parametrize(("url", "name"), [
    ("https://fleet.example.com/mdm/apple/mdm", ""),
    ("https://dogfood.fleetdm.com/mdm/apple/mdm", "Fleet"),
    ("https://acme.jamfcloud.com/mdm/ServerURL", "Jamf"),
    ("https://acme.kandji.io/mdm", "Kandji"),
    ("https://cn1234.awmdm.com/deviceservices/AppleMDM/Processor.aspx", "VMware Workspace ONE"),
    ("https://ds1234.airwatch.com/x", "VMware Workspace ONE"),
    ("https://enrollment.manage.microsoft.com/EnrollmentServer/Discovery.svc", "Intune"),
    ("https://a.simplemdm.com/mdm", "SimpleMDM"),
    ("https://acme.jumpcloud.com/mdm", "JumpCloud"),
])
def test_mdm_name_comes_from_the_server_url(url: str, name: str) -> None:
    assert mdm_name_from_server_url(url) == name


def test_mdm_on_macos() -> None:
    row = {"enrolled": "true", "server_url": "https://a.simplemdm.com/mdm?token=1", "installed_from_dep": "true",
           "payload_identifier": "com.simplemdm.enroll"}
    assert ingest("mdm", [row]).mdm == MDMInfo(enrolled=True, server_url="https://a.simplemdm.com/mdm",
                                               installed_from_dep=True, name="SimpleMDM")
    assert MDMInfo(True, installed_from_dep=True).enrollment_status == "On (automatic)"


def test_mdm_on_macos_recognises_fleet_by_payload_identifier() -> None:
    row = {"enrolled": "1", "server_url": "https://mdm.corp.example/mdm/apple/mdm?enroll_reference=abc",
           "installed_from_dep": "", "payload_identifier": "com.fleetdm.fleet.mdm.apple"}
    assert ingest("mdm", [row]).mdm == MDMInfo(enrolled=True, server_url="https://mdm.corp.example/mdm/apple/mdm",
                                               installed_from_dep=False, name="Fleet")


def test_mdm_on_macos_without_rows_or_with_bad_flags_changes_nothing() -> None:
    assert ingest("mdm", []) == HostFacts()
    assert ingest("mdm", [{"enrolled": "", "server_url": "x"}]) == HostFacts()
    assert ingest("mdm", [{"enrolled": "yes", "server_url": "x"}]) == HostFacts()


def test_mdm_on_windows() -> None:
    windows = attrs.evolve(MAC, platform="windows")
    row = {"aad_resource_id": "https://manage.microsoft.com/", "provider_id": "MS DM Server",
           "discovery_service_url": "https://enrollment.manage.microsoft.com/EnrollmentServer/Discovery.svc",
           "installation_type": "Client"}
    assert ingest("mdm_windows", [row], windows).mdm == MDMInfo(
        enrolled=True, server_url=row["discovery_service_url"], installed_from_dep=True, name="Intune")
    assert ingest("mdm_windows", [], windows).mdm == MDMInfo(enrolled=False)
    manual = {"discovery_service_url": "https://fleet.example.com/api/mdm/microsoft/discovery", "provider_id": "Fleet",
              "aad_resource_id": "", "installation_type": "Client"}
    assert ingest("mdm_windows", [manual], windows).mdm == MDMInfo(
        enrolled=True, server_url=manual["discovery_service_url"], installed_from_dep=False, name="Fleet")


def test_munki_info_splits_errors_and_warnings() -> None:
    row = {"version": "6.3.1", "errors": "could not install A; ;timeout on B", "warnings": ""}
    assert ingest("munki_info", [row]).munki == MunkiInfo("6.3.1", ("could not install A", "timeout on B"), ())
    assert ingest("munki_info", []).munki == MunkiInfo("")


@pytest.mark.parametrize(("row", "battery"), [
    ({"serial_number": "a", "cycle_count": "999", "designed_capacity": "5000", "max_capacity": "4500"},
     Battery(999, "Normal")),
    ({"serial_number": "a", "cycle_count": "1000", "designed_capacity": "5000", "max_capacity": "4900"},
     Battery(1000, "Service recommended")),
    ({"serial_number": "a", "cycle_count": "10", "designed_capacity": "5000", "max_capacity": "3900"},
     Battery(10, "Service recommended")),
    ({"serial_number": "a", "cycle_count": "10", "designed_capacity": "", "max_capacity": "3900"},
     Battery(10, "Unknown")),
    ({"serial_number": "a", "cycle_count": "many", "designed_capacity": "100", "max_capacity": "90"},
     Battery(0, "Normal")),
])
def test_battery_health_follows_fleets_rule(row: dict[str, str], battery: Battery) -> None:
    assert ingest("battery", [row]).batteries == (battery,)


def test_orbit_info_is_requested_but_stores_nothing() -> None:
    assert DETAIL_QUERIES["orbit_info"].discovery is not None
    assert ingest("orbit_info", [{"version": "1.20.0", "device_auth_token": "secret"}]) == HostFacts()
