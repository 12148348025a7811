"""Example-based tests of the detail queries that fill host-row vitals (shapes from osquery and Fleet's tests)."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from fleet_core.model.hosts import HostFacts
from fleet_core.rules.detail_queries import DETAIL_QUERIES, IngestContext

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
CTX = IngestContext(platform="ubuntu", now=NOW)


def ingest(name: str, rows: list[dict[str, str]], ctx: IngestContext = CTX) -> HostFacts:
    return DETAIL_QUERIES[name].ingest(rows, ctx)


def os_row(**kw: str) -> dict[str, str]:
    base = {"name": "", "version": "", "major": "0", "minor": "0", "patch": "0", "build": "", "platform": "",
            "platform_like": "", "codename": "", "extra": ""}
    return base | kw


@pytest.mark.parametrize(("row", "expected"), [
    (os_row(name="macOS", version="14.1.2", major="14", minor="1", patch="2", build="23B92", platform="darwin",
            platform_like="darwin"), "macOS 14.1.2"),
    (os_row(name="macOS", version="13.4.1", major="13", minor="4", patch="1", build="22F770820d", extra="(c)",
            platform="darwin"), "macOS 13.4.1 (c)"),
    (os_row(name="Ubuntu", version="22.04.3 LTS (Jammy Jellyfish)", major="22", minor="4", patch="0",
            platform="ubuntu", platform_like="debian", codename="jammy"), "Ubuntu 22.04.3 LTS"),
    (os_row(name="CentOS Linux", version="8.3.2011", major="8", minor="3", patch="2011", platform="rhel"),
     "CentOS Linux 8.3.2011"),
    (os_row(name="Debian GNU/Linux", version="12 (bookworm)", major="12", minor="0", patch="0", platform="debian"),
     "Debian GNU/Linux 12.0.0"),
    (os_row(name="Arch Linux", build="rolling", platform="arch"), "Arch Linux rolling"),
    (os_row(name="chromeos", version="13816.64.0", major="13816", platform="chrome"), "chromeos 13816.64.0"),
])
def test_os_version_composes_name_and_point_release_as_fleet_does(row: dict[str, str], expected: str) -> None:
    assert ingest("os_version", [row]).fields["os_version"] == expected


def test_os_version_fills_platform_fields_and_build() -> None:
    row = os_row(name="Ubuntu", version="22.04.3 LTS (Jammy Jellyfish)", major="22", minor="4", platform="ubuntu",
                 platform_like="debian", codename="jammy", build="")
    assert ingest("os_version", [row]).fields == {
        "build": "", "platform": "ubuntu", "platform_like": "debian", "code_name": "jammy",
        "os_version": "Ubuntu 22.04.3 LTS"}


def test_os_version_on_windows_leaves_os_version_to_the_windows_query() -> None:
    fields = ingest("os_version", [os_row(name="Microsoft Windows 11 Pro", platform="windows", build="22621")]).fields
    assert fields["platform"] == "windows" and "os_version" not in fields


def test_os_version_works_around_empty_platform_on_centos6() -> None:
    fields = ingest("os_version", [os_row(name="CentOS", major="6", minor="10")]).fields
    assert fields["platform"] == "centos"


def test_os_version_ignores_anything_but_one_row() -> None:
    assert ingest("os_version", []) == HostFacts()
    assert ingest("os_version", [os_row(), os_row()]) == HostFacts()


@pytest.mark.parametrize(("row", "expected"), [
    ({"name": "Microsoft Windows 11 Pro", "display_version": "22H2", "version": "10.0.22621.1234",
      "installation_type": "Client"}, "Windows 11 Pro 22H2 10.0.22621.1234"),
    ({"name": "Microsoft Windows Server 2019 Datacenter", "display_version": "", "version": "10.0.17763.5458",
      "installation_type": "Server Core"}, "Windows Server 2019 Datacenter (Server Core) 10.0.17763.5458"),
])
def test_os_version_windows(row: dict[str, str], expected: str) -> None:
    assert ingest("os_version_windows", [row], attrs.evolve(CTX, platform="windows")).fields == {"os_version": expected}


def test_osquery_flags_prefers_config_tls_refresh_and_falls_back_to_config_refresh() -> None:
    rows = [{"name": "distributed_interval", "value": "10"}, {"name": "config_refresh", "value": "30"},
            {"name": "logger_tls_period", "value": "60"}]
    assert ingest("osquery_flags", rows).fields == {"distributed_interval": 10, "config_tls_refresh": 30,
                                                    "logger_tls_period": 60}
    rows.append({"name": "config_tls_refresh", "value": "120"})
    assert ingest("osquery_flags", rows).fields["config_tls_refresh"] == 120


def test_osquery_flags_skips_only_the_bad_value() -> None:
    rows = [{"name": "distributed_interval", "value": "ten"}, {"name": "logger_tls_period", "value": ""}]
    assert ingest("osquery_flags", rows).fields == {"logger_tls_period": 0}


def test_system_info_fills_hardware_fields() -> None:
    row = {"hostname": "db-1", "uuid": "309a4b7d-0000", "cpu_type": "x86_64", "cpu_subtype": "158",
           "cpu_brand": "Intel(R) Core(TM) i9-9980HK", "cpu_physical_cores": "12", "cpu_logical_cores": "24",
           "physical_memory": "16788398080", "hardware_vendor": "Dell Inc.", "hardware_model": "PowerEdge R640",
           "hardware_version": "A01", "hardware_serial": "7XJ4Q33", "computer_name": "db-1"}
    assert ingest("system_info", [row]).fields == {
        "memory": 16788398080, "cpu_physical_cores": 12, "cpu_logical_cores": 24, "hostname": "db-1",
        "uuid": "309a4b7d-0000", "cpu_type": "x86_64", "cpu_subtype": "158", "cpu_brand": "Intel(R) Core(TM) i9-9980HK",
        "hardware_vendor": "Dell Inc.", "hardware_model": "PowerEdge R640", "hardware_version": "A01",
        "hardware_serial": "7XJ4Q33", "computer_name": "db-1"}


@pytest.mark.parametrize(("serial", "stored"), [
    ("Default string", ""), ("System Serial Number", ""), ("To be filled by O.E.M. string", ""),
    ("C02XXXXXXX", "C02XXXXXXX"), ("Not Specified", "Not Specified"), ("0", "0"),
])
def test_system_info_blanks_placeholder_serials_like_fleet(serial: str, stored: str) -> None:
    assert ingest("system_info", [{"hardware_serial": serial}]).fields["hardware_serial"] == stored


def test_system_info_leaves_a_minus_one_serial_alone() -> None:
    assert "hardware_serial" not in ingest("system_info", [{"hardware_serial": "-1"}]).fields


def test_system_info_skips_a_non_numeric_field_but_keeps_the_rest() -> None:
    fields = ingest("system_info", [{"hostname": "h", "physical_memory": "lots", "cpu_logical_cores": "4"}]).fields
    assert "memory" not in fields
    assert fields["hostname"] == "h" and fields["cpu_logical_cores"] == 4


def test_uptime_sets_seconds_and_restart_time() -> None:
    fields = ingest("uptime", [{"days": "0", "hours": "1", "minutes": "0", "seconds": "0", "total_seconds": "3600"}])
    assert fields.fields == {"uptime_seconds": 3600, "last_restarted_at": NOW - dt.timedelta(hours=1)}


def test_uptime_does_not_move_last_restart_for_small_drift_or_backwards() -> None:
    previous = NOW - dt.timedelta(seconds=3600)
    drift = attrs.evolve(CTX, last_restarted_at=previous - dt.timedelta(seconds=10))
    assert "last_restarted_at" not in ingest("uptime", [{"total_seconds": "3600"}], drift).fields
    later = attrs.evolve(CTX, last_restarted_at=previous + dt.timedelta(minutes=5))
    assert "last_restarted_at" not in ingest("uptime", [{"total_seconds": "3600"}], later).fields
    rebooted = attrs.evolve(CTX, last_restarted_at=previous - dt.timedelta(days=3))
    assert ingest("uptime", [{"total_seconds": "3600"}], rebooted).fields["last_restarted_at"] == previous


def test_uptime_zero_keeps_last_restart() -> None:
    assert ingest("uptime", [{"total_seconds": "0"}]).fields == {"uptime_seconds": 0}


def test_network_interface_sets_primary_address_and_public_ip() -> None:
    ctx = attrs.evolve(CTX, public_ip="198.51.100.4")
    facts = ingest("network_interface_unix", [{"address": "10.0.0.5", "mac": "02:42:ac:1b:00:06"}], ctx)
    assert facts.fields == {"public_ip": "198.51.100.4", "primary_ip": "10.0.0.5", "primary_mac": "02:42:ac:1b:00:06"}


def test_network_interface_without_rows_still_records_the_public_ip() -> None:
    assert ingest("network_interface_windows", [], attrs.evolve(CTX, public_ip="2001:db8::1")).fields == {
        "public_ip": "2001:db8::1"}


def test_network_interface_clears_an_invalid_public_ip_and_ignores_several_rows() -> None:
    rows = [{"address": "10.0.0.5", "mac": "a"}, {"address": "10.0.0.6", "mac": "b"}]
    assert ingest("network_interface_chrome", rows, attrs.evolve(CTX, public_ip="unknown")).fields == {"public_ip": ""}


@pytest.mark.parametrize("name", ["disk_space_unix", "disk_space_darwin", "disk_space_darwin_legacy",
                                  "disk_space_windows"])
def test_disk_space(name: str) -> None:
    row = {"percent_disk_space_available": "73", "gigs_disk_space_available": "46.1", "gigs_total_disk_space": "63.2",
           "gigs_all_disk_space": "120.5"}
    assert ingest(name, [row]).fields == {"percent_disk_space_available": 73.0, "gigs_disk_space_available": 46.1,
                                          "gigs_total_disk_space": 63.2}
    assert not DETAIL_QUERIES[name].updates_details


def test_disk_space_skips_unparsable_numbers() -> None:
    row = {"percent_disk_space_available": "nan", "gigs_disk_space_available": "1e3", "gigs_total_disk_space": "x"}
    assert ingest("disk_space_unix", [row]).fields == {"gigs_disk_space_available": 1000.0}


def test_osquery_info_and_kubequery_info() -> None:
    assert ingest("osquery_info", [{"version": "5.12.1"}]).fields == {"osquery_version": "5.12.1"}
    assert ingest("kubequery_info", [{"cluster_name": "prod", "cluster_uid": "u"}]).fields == {
        "hostname": "kubequery prod", "osquery_version": "kubequery", "platform": "kubequery"}
