"""Detail-query selection and the distributed/write ingestion entry points."""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.hosts import HOST_VITAL_FIELDS, HostFacts, SoftwareItem
from fleet_core.rules.detail_queries import (
    DETAIL_QUERIES,
    LINUX_PLATFORMS,
    IngestContext,
    additional_results,
    detail_queries_for,
    facts_from_host_details,
    ingest_detail_results,
    is_linux,
)

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
CTX = IngestContext(platform="darwin", now=NOW, public_ip="203.0.113.7")
P = "fleet_detail_query_"

OS_VERSION_MAC = {"name": "macOS", "version": "14.1.2", "major": "14", "minor": "1", "patch": "2", "build": "23B92",
                  "platform": "darwin", "platform_like": "darwin", "codename": "", "arch": "arm64"}
OSQUERY_INFO = {"pid": "12947", "uuid": "4C182AC7", "instance_id": "9a2ec7bf", "version": "5.12.1",
                "config_hash": "", "config_valid": "0", "extensions": "inactive", "build_platform": "darwin",
                "build_distro": "10.14", "start_time": "1712345678", "watcher": "12946", "platform_mask": "21"}
SYSTEM_INFO = {"hostname": "mbp.local", "uuid": "4C182AC7-75F7", "cpu_type": "arm64e", "cpu_subtype": "ARM64E",
               "cpu_brand": "Apple M1", "cpu_physical_cores": "8", "cpu_logical_cores": "8",
               "physical_memory": "17179869184", "hardware_vendor": "Apple Inc.", "hardware_model": "MacBookPro17,1",
               "hardware_version": "", "hardware_serial": "C02XXXXXXX", "computer_name": "mbp",
               "local_hostname": "mbp"}

PLATFORMS = ["darwin", "windows", "chrome", "", "freebsd", "kubequery", *sorted(LINUX_PLATFORMS)]
WINDOWS_ONLY = {n for n, q in DETAIL_QUERIES.items() if q.platforms == frozenset({"windows"})}
DARWIN_ONLY = {n for n, q in DETAIL_QUERIES.items() if q.platforms == frozenset({"darwin"})}
LINUX_ONLY = {n for n, q in DETAIL_QUERIES.items() if q.platforms == LINUX_PLATFORMS}


def names(selected: dict[str, tuple[str, str | None]]) -> set[str]:
    return {k.removeprefix(P) for k in selected if k.startswith(P)}


# --- selection ---

def test_a_mac_gets_the_mac_vitals_and_no_windows_or_linux_queries() -> None:
    got = names(detail_queries_for("darwin", software_inventory=True, host_users=True))
    assert {"os_version", "osquery_info", "system_info", "osquery_flags", "uptime", "network_interface_unix",
            "disk_space_darwin", "disk_space_darwin_legacy", "mdm", "munki_info", "battery", "google_chrome_profiles",
            "kubequery_info", "orbit_info", "software_macos", "users"} <= got
    assert not got & (WINDOWS_ONLY | LINUX_ONLY)
    assert "software_chrome" not in got and "users_chrome" not in got


def test_a_windows_host_gets_the_windows_variants() -> None:
    got = names(detail_queries_for("windows", software_inventory=True, host_users=True))
    assert {"os_version", "os_version_windows", "network_interface_windows", "disk_space_windows", "software_windows",
            "mdm_windows", "battery", "users"} <= got
    assert not got & (DARWIN_ONLY | LINUX_ONLY)
    assert "network_interface_unix" not in got


def test_every_linux_distribution_counts_as_linux() -> None:
    for platform in ("ubuntu", "rhel", "arch", "opensuse-leap", "tuxedo", "nixos"):
        assert is_linux(platform)
        got = names(detail_queries_for(platform, software_inventory=True, host_users=False))
        assert {"disk_space_unix", "software_linux", "network_interface_unix"} <= got
        assert "users" not in got
    assert not is_linux("darwin") and not is_linux("")


def test_chromebooks_get_their_own_network_software_and_user_queries() -> None:
    got = names(detail_queries_for("chrome", software_inventory=True, host_users=True))
    assert {"network_interface_chrome", "software_chrome", "users_chrome", "chromeos_profile_user_info"} <= got
    assert "osquery_flags" not in got and "uptime" not in got and "users" not in got


def test_a_freshly_enrolled_host_without_platform_gets_only_identifying_queries() -> None:
    got = names(detail_queries_for("", software_inventory=True, host_users=True))
    assert got == {n for n, q in DETAIL_QUERIES.items() if q.platforms is None}
    assert {"os_version", "osquery_info", "system_info"} <= got


def test_feature_switches_gate_software_and_users() -> None:
    got = names(detail_queries_for("darwin", software_inventory=False, host_users=False))
    assert not any(n.startswith("software_") for n in got)
    assert "users" not in got


def test_discovery_queries_go_with_their_queries() -> None:
    got = detail_queries_for("darwin", software_inventory=True, host_users=True)
    assert got[P + "mdm"] == (DETAIL_QUERIES["mdm"].sql, DETAIL_QUERIES["mdm"].discovery)
    assert "name = 'mdm'" in (got[P + "mdm"][1] or "")
    assert got[P + "os_version"] == ("SELECT * FROM os_version LIMIT 1", None)
    assert "NOT EXISTS" in (got[P + "disk_space_darwin_legacy"][1] or "")


def test_overrides_replace_sql_or_remove_the_query() -> None:
    got = detail_queries_for("darwin", software_inventory=True, host_users=True, overrides={
        "users": None, "software_macos": "", "uptime": "   ", "osquery_info": "SELECT version FROM osquery_info",
        "no_such_query": "SELECT 1"})
    assert P + "users" not in got and P + "software_macos" not in got and P + "uptime" not in got
    assert got[P + "osquery_info"] == ("SELECT version FROM osquery_info", None)
    assert not any("no_such_query" in k for k in got)


def test_additional_queries_are_sent_on_every_platform_and_blank_ones_dropped() -> None:
    for platform in ("darwin", "", "windows"):
        got = detail_queries_for(platform, software_inventory=False, host_users=False,
                                 additional={"time": "SELECT * FROM time", "empty": " "})
        assert got["fleet_additional_query_time"] == ("SELECT * FROM time", None)
        assert "fleet_additional_query_empty" not in got


overrides_st = st.dictionaries(st.sampled_from([*sorted(DETAIL_QUERIES), "bogus"]),
                               st.one_of(st.none(), st.text(max_size=12)), max_size=6)
additional_st = st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=4)


@given(st.sampled_from(PLATFORMS), st.booleans(), st.booleans(), additional_st, overrides_st)
def test_selection_properties(platform: str, software: bool, users: bool, additional: dict[str, str],
                              overrides: dict[str, str | None]) -> None:
    got = detail_queries_for(platform, software_inventory=software, host_users=users, additional=additional,
                             overrides=overrides)
    assert got == detail_queries_for(platform, software_inventory=software, host_users=users, additional=additional,
                                     overrides=overrides)
    assert list(got) == sorted(got)
    for wire, (query, discovery) in got.items():
        assert query.strip(), wire
        assert discovery is None or discovery.strip()
        assert wire.startswith((P, "fleet_additional_query_"))
    selected = names(got)
    if platform != "windows":
        assert not selected & WINDOWS_ONLY
    if platform != "darwin":
        assert not selected & DARWIN_ONLY
    if not is_linux(platform):
        assert not selected & LINUX_ONLY
    for name, override in overrides.items():
        if name not in DETAIL_QUERIES:
            continue
        if override is None or not override.strip():
            assert name not in selected
        elif P + name in got:
            assert got[P + name][0] == override


# --- ingestion ---

def test_a_full_mac_check_in_fills_vitals_and_related_data() -> None:
    results = {
        P + "os_version": [OS_VERSION_MAC],
        P + "osquery_info": [OSQUERY_INFO],
        P + "system_info": [SYSTEM_INFO],
        P + "uptime": [{"days": "1", "hours": "0", "minutes": "0", "seconds": "0", "total_seconds": "86400"}],
        P + "network_interface_unix": [{"address": "192.168.1.20", "mac": "a4:83:e7:00:00:01"}],
        P + "mdm": [{"enrolled": "true", "server_url": "https://example.jamfcloud.com/mdm/ServerURL?x=1",
                     "installed_from_dep": "false", "payload_identifier": ""}],
        P + "software_macos": [{"name": "Safari", "version": "17.1", "bundle_identifier": "com.apple.Safari",
                                "source": "apps", "last_opened_at": "1700000000.5",
                                "installed_path": "/Applications/Safari.app"}],
        P + "users": [{"uid": "501", "uuid": "x", "username": "alice", "type": "", "groupname": "staff",
                       "shell": "/bin/zsh"}],
        "fleet_label_query_7": [{"1": "1"}],
    }
    facts, updated = ingest_detail_results(results, {k: 0 for k in results}, CTX)
    assert updated
    assert facts.fields["os_version"] == "macOS 14.1.2"
    assert facts.fields["osquery_version"] == "5.12.1"
    assert facts.fields["memory"] == 17179869184
    assert facts.fields["uptime_seconds"] == 86400
    assert facts.fields["last_restarted_at"] == NOW - dt.timedelta(days=1)
    assert facts.fields["primary_ip"] == "192.168.1.20" and facts.fields["public_ip"] == "203.0.113.7"
    assert set(facts.fields) <= HOST_VITAL_FIELDS
    assert facts.mdm is not None and facts.mdm.name == "Jamf"
    assert facts.mdm.server_url == "https://example.jamfcloud.com/mdm/ServerURL"
    assert facts.software is not None and facts.software[0].name == "Safari"
    assert facts.users is not None and facts.users[0].uid == 501


def test_failed_queries_are_skipped_and_do_not_stop_the_others() -> None:
    results = {P + "os_version": [OS_VERSION_MAC], P + "mdm": [], P + "system_info": [SYSTEM_INFO]}
    facts, updated = ingest_detail_results(results, {P + "os_version": 0, P + "mdm": 1, P + "system_info": "1"}, CTX)
    assert updated
    assert facts.fields["platform"] == "darwin"
    assert "hostname" not in facts.fields
    assert facts.mdm is None


def test_direct_ingest_only_results_do_not_count_as_a_details_update() -> None:
    facts, updated = ingest_detail_results({P + "users": [{"uid": "0", "username": "root"}]}, {}, CTX)
    assert not updated
    assert facts.users is not None


def test_malformed_rows_and_unknown_queries_are_skipped() -> None:
    results = {P + "osquery_info": [None, "oops", {"version": 5}], P + "os_version": "",
               P + "no_such_query": [{"a": "b"}], P + "system_info": 42}
    facts, updated = ingest_detail_results(results, {}, CTX)
    # Only the one dict row survives; os_version had no rows.
    assert facts.fields == {"osquery_version": "5"}
    assert updated


def test_os_version_moves_the_platform_for_the_later_ingest_functions() -> None:
    parallels = {"name": "Notepad", "version": "1", "source": "apps", "bundle_identifier": "com.parallels.winapp.x"}
    ctx = attrs.evolve(CTX, platform="")
    facts, _ = ingest_detail_results({P + "software_macos": [parallels], P + "os_version": [OS_VERSION_MAC]}, {}, ctx)
    assert facts.software == ()


def test_software_extras_are_merged_into_the_main_software_query() -> None:
    main = [{"name": "Safari", "version": "17.1", "source": "apps", "bundle_identifier": "com.apple.Safari"}]
    vscode = [{"name": "python", "version": "2024.1", "source": "vscode_extensions", "vendor": "ms-python"}]
    facts, _ = ingest_detail_results({P + "software_macos": main, P + "software_vscode_extensions": vscode},
                                     {P + "software_macos": 0, P + "software_vscode_extensions": 0}, CTX)
    assert facts.software is not None
    assert [s.source for s in facts.software] == ["apps", "vscode_extensions"]


def test_software_extras_alone_never_replace_the_software_list() -> None:
    vscode = [{"name": "python", "version": "2024.1", "source": "vscode_extensions"}]
    facts, _ = ingest_detail_results({P + "software_vscode_extensions": vscode}, {P + "software_vscode_extensions": 0},
                                     CTX)
    assert facts.software is None
    facts, _ = ingest_detail_results({P + "software_macos": [], P + "software_vscode_extensions": vscode},
                                     {P + "software_macos": 1, P + "software_vscode_extensions": 0}, CTX)
    assert facts.software is None


def test_additional_results_keep_successful_rows_by_name() -> None:
    results = {"fleet_additional_query_time": [{"hour": "12"}], "fleet_additional_query_bad": [{"x": "y"}],
               P + "os_version": [OS_VERSION_MAC]}
    assert additional_results(results, {"fleet_additional_query_bad": 1}) == {"time": [{"hour": "12"}]}
    assert additional_results({}, {}) == {}


def test_host_details_at_enroll_fill_os_osquery_and_system_info() -> None:
    details = {"os_version": OS_VERSION_MAC, "osquery_info": OSQUERY_INFO, "system_info": SYSTEM_INFO,
               "platform_info": {"vendor": "Apple Inc."}}
    facts = facts_from_host_details(details, attrs.evolve(CTX, platform=""))
    assert facts.fields["platform"] == "darwin"
    assert facts.fields["osquery_version"] == "5.12.1"
    assert facts.fields["hostname"] == "mbp.local"
    assert facts.fields["hardware_serial"] == "C02XXXXXXX"
    assert facts_from_host_details({}, CTX) == HostFacts()
    assert facts_from_host_details({"os_version": "garbage"}, CTX) == HostFacts()


# --- properties ---

row_st = st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=6)
known_columns = st.sampled_from(["name", "version", "source", "uid", "total_seconds", "physical_memory", "value",
                                 "enrolled", "installed_from_dep", "server_url", "cycle_count", "designed_capacity",
                                 "max_capacity", "address", "mac", "platform", "gigs_disk_space_available",
                                 "last_opened_at", "errors", "email", "bundle_identifier", "installed_path"])
column_row_st = st.dictionaries(known_columns, st.one_of(st.text(max_size=10), st.integers().map(str),
                                                         st.floats().map(str)), max_size=8)
rows_st = st.lists(st.one_of(row_st, column_row_st), max_size=4)
ctx_st = st.builds(IngestContext, platform=st.sampled_from(PLATFORMS), now=st.just(NOW),
                   public_ip=st.sampled_from(["", "203.0.113.7", "not-an-ip", "::1"]),
                   last_restarted_at=st.one_of(st.none(), st.just(NOW - dt.timedelta(hours=2))))


@given(st.sampled_from(sorted(DETAIL_QUERIES)), rows_st, ctx_st)
def test_no_ingest_function_raises_on_arbitrary_rows(name: str, rows: list[dict[str, str]],
                                                     ctx: IngestContext) -> None:
    facts = DETAIL_QUERIES[name].ingest(rows, ctx)
    assert isinstance(facts, HostFacts)
    assert set(facts.fields) <= HOST_VITAL_FIELDS


results_st = st.dictionaries(st.sampled_from(sorted(DETAIL_QUERIES)).map(lambda n: P + n), rows_st, max_size=8)


@given(results_st, ctx_st)
def test_failed_statuses_contribute_nothing(results: dict[str, list[dict[str, str]]], ctx: IngestContext) -> None:
    facts, updated = ingest_detail_results(results, dict.fromkeys(results, 1), ctx)
    assert facts == HostFacts() and not updated


@given(results_st, st.data(), ctx_st)
def test_ingestion_is_deterministic_and_ignores_result_order(results: dict[str, list[dict[str, str]]],
                                                            data: st.DataObject, ctx: IngestContext) -> None:
    statuses = {k: data.draw(st.sampled_from([0, 1])) for k in results}
    first = ingest_detail_results(results, statuses, ctx)
    shuffled = dict(reversed(list(results.items())))
    assert ingest_detail_results(shuffled, statuses, ctx) == first
    failed_removed = {k: v for k, v in results.items() if statuses[k] == 0}
    assert ingest_detail_results(failed_removed, {}, ctx) == first


def test_software_items_keep_their_order_across_extras() -> None:
    main = [{"name": n, "version": "1", "source": "deb_packages"} for n in ("a", "b")]
    go = [{"name": "gobin", "version": "1", "source": "go_binaries"}]
    facts, _ = ingest_detail_results({P + "software_linux": main, P + "software_go_binaries": go},
                                     {P + "software_go_binaries": 0}, attrs.evolve(CTX, platform="ubuntu"))
    assert facts.software == (SoftwareItem("a", "1", "deb_packages"), SoftwareItem("b", "1", "deb_packages"),
                              SoftwareItem("gobin", "1", "go_binaries"))
