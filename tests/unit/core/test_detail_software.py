"""Software inventory: row conversion, Fleet's clean-ups, and merging the extra software queries."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.model.hosts import SoftwareItem
from fleet_core.rules.detail_queries import IngestContext, ingest_detail_results

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
P = "fleet_detail_query_"


def software(platform: str, results: dict[str, list[dict[str, str]]]) -> tuple[SoftwareItem, ...]:
    facts, updated = ingest_detail_results(results, {}, IngestContext(platform=platform, now=NOW))
    assert not updated  # software is a direct ingest in Fleet
    assert facts.software is not None
    return facts.software


def test_macos_apps_keep_bundle_identifier_path_and_last_opened() -> None:
    row = {"name": "Slack", "version": "4.36.140", "bundle_identifier": "com.tinyspeck.slackmacgap",
           "extension_id": "", "extension_for": "", "source": "apps", "vendor": "", "last_opened_at": "1714557600.25",
           "installed_path": "/Applications/Slack.app"}
    assert software("darwin", {P + "software_macos": [row]}) == (SoftwareItem(
        name="Slack", version="4.36.140", source="apps", bundle_identifier="com.tinyspeck.slackmacgap",
        installed_path="/Applications/Slack.app", last_opened_at=dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)),)


@pytest.mark.parametrize("value", ["", "-1.0", "0", "soon"])
def test_last_opened_at_is_unknown_for_never_or_garbage(value: str) -> None:
    row = {"name": "A", "version": "1", "source": "apps", "last_opened_at": value}
    assert software("darwin", {P + "software_macos": [row]})[0].last_opened_at is None


def test_rows_without_name_or_source_are_dropped() -> None:
    rows = [{"name": "", "version": "1", "source": "apps"}, {"name": "x", "version": "1", "source": ""},
            {"name": "ok", "version": "1", "source": "programs", "installed_path": "null"}]
    assert software("windows", {P + "software_windows": rows}) == (SoftwareItem("ok", "1", "programs"),)


def test_long_values_are_cut_to_fleets_column_widths() -> None:
    row = {"name": "n" * 300, "version": "1", "source": "rpm_packages", "vendor": "v" * 200, "arch": "a" * 20}
    item = software("rhel", {P + "software_linux": [row]})[0]
    assert len(item.name) == 255 and item.vendor == "v" * 111 + "..." and len(item.arch) == 16


def test_fleets_software_clean_ups() -> None:
    rows = [
        {"name": "kernel", "version": "4.18.0", "release": "513.el8", "source": "rpm_packages"},
        {"name": "DSAssistant", "version": "7", "bundle_identifier": "com.synology.DSAssistant", "source": "apps"},
        {"name": "Tunnelblick", "version": "4.0.1 (build 5971)", "bundle_identifier": "net.tunnelblick.tunnelblick",
         "source": "apps"},
        {"name": "GoLand 2025.3.3", "version": "253.31033.139", "vendor": "JetBrains s.r.o.", "source": "programs"},
        {"name": "MsMpEng.exe", "version": "4.18", "source": "programs"},
    ]
    got = {(s.name, s.version, s.release) for s in software("rhel", {P + "software_linux": rows})}
    assert got == {("kernel", "4.18.0-513.el8", ""), ("SynologyAssistant", "7", ""), ("Tunnelblick", "4.0.1", ""),
                   ("GoLand 2025.3.3", "2025.3.3", ""), ("Windows Defender", "4.18", "")}


def test_parallels_guest_apps_are_not_mac_software() -> None:
    row = {"name": "Notepad", "version": "1", "source": "apps", "bundle_identifier": "com.parallels.winapp.abc"}
    assert software("darwin", {P + "software_macos": [row]}) == ()


def test_python_packages_are_deduplicated_against_distribution_packages() -> None:
    main = [{"name": "python3-requests", "version": "2.31", "source": "deb_packages"}]
    pip = [{"name": "Requests", "version": "2.31", "source": "python_packages"},
           {"name": "Flask", "version": "3.0", "source": "python_packages"}]
    got = software("ubuntu", {P + "software_linux": main, P + "software_python_packages_with_users_dir": pip})
    assert [(s.name, s.source) for s in got] == [("python3-requests", "deb_packages"),
                                                 ("python3-flask", "python_packages")]
    # Elsewhere (here: Arch) the pip names stay as reported.
    got = software("arch", {P + "software_linux": main, P + "software_python_packages": pip})
    assert [s.name for s in got] == ["python3-requests", "Requests", "Flask"]


def test_fleetd_package_takes_the_orbit_version_on_linux() -> None:
    main = [{"name": "fleet-osquery", "version": "1.0.0", "source": "deb_packages"}]
    got = software("debian", {P + "software_linux": main, P + "orbit_info": [{"version": "1.24.0"}]})
    assert got[0].version == "1.24.0"


def test_firefox_override_replaces_the_plain_firefox_app() -> None:
    main = [{"name": "Firefox", "version": "115.0", "bundle_identifier": "org.mozilla.firefox", "source": "apps"},
            {"name": "Safari", "version": "17", "bundle_identifier": "com.apple.Safari", "source": "apps"}]
    esr = [{"name": "Firefox ESR.app", "version": "115.0", "bundle_identifier": "org.mozilla.firefox",
            "source": "apps"}]
    got = software("darwin", {P + "software_macos": main, P + "software_macos_firefox": esr})
    assert [s.name for s in got] == ["Safari", "Firefox ESR.app"]


def test_acrobat_dc_gets_its_suffix_when_the_registry_key_exists() -> None:
    main = [{"name": "Adobe Acrobat (64-bit)", "version": "24.1", "source": "programs"},
            {"name": "Acrobat Reader", "version": "24.1", "source": "programs"},
            {"name": "7-Zip", "version": "23", "source": "programs"}]
    got = software("windows", {P + "software_windows": main, P + "software_windows_acrobat_dc": [{"1": "1"}]})
    assert [s.name for s in got] == ["Adobe Acrobat DC (64-bit)", "Acrobat Reader DC", "7-Zip"]
    got = software("windows", {P + "software_windows": main, P + "software_windows_acrobat_dc": []})
    assert [s.name for s in got] == ["Adobe Acrobat (64-bit)", "Acrobat Reader", "7-Zip"]


def test_windows_last_opened_at_comes_from_prefetch() -> None:
    main = [{"name": "Code", "version": "1.89", "source": "programs", "last_opened_at": "",
             "installed_path": "C:\\Program Files\\Microsoft VS Code\\"},
            {"name": "Sys", "version": "1", "source": "programs", "installed_path": "C:\\Windows\\System32\\"}]
    prefetch = [{"last_opened_at": "1714557600", "executable_path": "\\PROGRAM FILES\\MICROSOFT VS CODE\\CODE.EXE"},
                {"last_opened_at": "1714500000", "executable_path": "\\PROGRAM FILES\\MICROSOFT VS CODE\\BIN\\X.EXE"},
                {"last_opened_at": "1714557600", "executable_path": "\\WINDOWS\\SYSTEM32\\CMD.EXE"}]
    got = software("windows", {P + "software_windows": main, P + "software_windows_last_opened_at": prefetch})
    assert got[0].last_opened_at == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert got[1].last_opened_at is None


def test_deb_last_opened_at_matches_packages_by_name() -> None:
    main = [{"name": "vim", "version": "9", "source": "deb_packages"},
            {"name": "vim", "version": "9", "source": "npm_packages"}]
    files = [{"package": "vim", "last_opened_at": "1714557600"}]
    got = software("ubuntu", {P + "software_linux": main, P + "software_deb_last_opened_at": files})
    assert got[0].last_opened_at is not None and got[1].last_opened_at is None


def test_chrome_extensions_on_chromeos() -> None:
    rows = [{"name": "uBlock Origin", "version": "1.57", "extension_id": "cjpalhdlnbpafiamejdnhcphjbkeiagm",
             "extension_for": "chrome", "source": "chrome_extensions", "vendor": "", "installed_path": ""}]
    assert software("chrome", {P + "software_chrome": rows}) == (
        SoftwareItem("uBlock Origin", "1.57", "chrome_extensions", extension_id="cjpalhdlnbpafiamejdnhcphjbkeiagm",
                     browser="chrome"),)


def test_extension_id_and_browser_come_from_the_extension_rows() -> None:
    rows = [{"name": "uBlock Origin", "version": "1.57", "extension_id": "uBlock0@raymondhill.net",
             "extension_for": "firefox", "source": "firefox_addons", "release": "", "vendor": "", "arch": "",
             "installed_path": ""},
            {"name": "curl", "version": "8.0", "extension_id": "", "extension_for": "", "source": "deb_packages",
             "release": "", "vendor": "", "arch": "", "installed_path": ""}]
    addon, curl = software("ubuntu", {P + "software_linux": rows})
    assert (addon.extension_id, addon.browser) == ("uBlock0@raymondhill.net", "firefox")
    assert (curl.extension_id, curl.browser) == ("", "")
