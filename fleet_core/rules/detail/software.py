"""Software inventory: row → SoftwareItem, Fleet's clean-ups, and merging the extra software queries."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

import structlog

from fleet_core.model.hosts import HostFacts, SoftwareItem
from fleet_core.rules.detail.base import (
    IngestContext,
    Row,
    Rows,
    SoftwareProcessFn,
    is_linux,
    parse_float,
    parse_int,
    text,
)

log = structlog.get_logger(__name__)

# Column widths of Fleet's software table; longer values are cut (vendor gets an ellipsis).
_NAME_MAX = 255
_VERSION_MAX = 255
_SOURCE_MAX = 64
_BUNDLE_MAX = 255
_RELEASE_MAX = 64
_ARCH_MAX = 16
_VENDOR_MAX = 114
_EXTENSION_ID_MAX = 255
_BROWSER_MAX = 255


def parse_last_opened_at(value: str) -> dt.datetime | None:
    """Epoch seconds (possibly fractional); "-1.0" (never opened), 0 and garbage all mean unknown."""
    seconds = parse_float(value) if value else None
    if seconds is None or seconds <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


_DCV_VERSION = re.compile(r"^(\d+\.\d+)\s*\(r(\d+)\)$")
_TUNNELBLICK_VERSION = re.compile(r"^(.+?)\s*\(build\s+\d+\)$")
_JETBRAINS_NAME_VERSION = re.compile(r"\s(\d{4}\.\d+(?:\.\d+){0,2})$")

# macOS apps whose bundle executable makes a poor name (Fleet's basicAppSanitizers, fleet#34159):
# (bundle identifier or "", name or "", new name).
_APP_RENAMES: tuple[tuple[str, str, str], ...] = (
    ("com.synology.DSAssistant", "DSAssistant", "SynologyAssistant"),
    ("com.now.gg.BlueStacksMIM", "HD-MultiInstanceManager", "BlueStacksMIM"),
    ("jp.go.jpki.JPKIUninstall", "JPKIUninstall.scpt", "JPKIUninstall"),
    ("com.oracle.OracleDataModeler", "datamodeler.sh", "OracleDataModeler"),
    ("com.easeus.ntfsformacdaemon", "euntfsservice", "EaseUS NTFS Service"),
    ("com.poly.lens.legacyhost.app", "legacyhost", "Poly Lens Desktop (Legacy)"),
    ("app.zen-browser.plugincontainer", "plugin-container", "Zen Browser Plugin Container"),
    ("org.mozilla.plugincontainer", "plugin-container", "Mozilla Plugin Container"),
    ("com.google.chromeremotedesktop.me2me-host-uninstaller", "remoting_host_uninstaller",
     "Chrome Remote Desktop Host Uninstaller"),
    ("com.oracle.SQLDeveloper", "sqldeveloper.sh/", "Oracle SQLDeveloper"),
)


def _sanitize_app(name: str, version: str, bundle: str) -> tuple[str, str]:
    if bundle == "com.nicesoftware.dcvviewer":
        match = _DCV_VERSION.match(version)
        return name, (f"{match[1]}.{match[2]}" if match else version)
    if bundle == "net.tunnelblick.tunnelblick":
        match = _TUNNELBLICK_VERSION.match(version)
        return name, (match[1] if match else version)
    if name == "runemu":
        return ("Android Emulator" if bundle == "" else name), version
    for rename_bundle, rename_name, new_name in _APP_RENAMES:
        if bundle == rename_bundle and name == rename_name:
            return new_name, version
    return name, version


def _mutate(item: dict[str, str]) -> None:
    """Fleet's MutateSoftwareOnIngestion: fix values hosts are known to report wrongly."""
    source, name = item["source"], item["name"]
    if source == "apps":
        item["name"], item["version"] = _sanitize_app(name, item["version"], item["bundle_identifier"])
        name = item["name"]
    bundle = item["bundle_identifier"]
    if source == "apps" and name.startswith("TNMS ") and bundle.startswith("TNMS_") \
            and bundle.replace("_", " ", 1) == name:
        item["name"], item["version"] = "TNMS", bundle.replace("TNMS_", "", 1)
    elif source == "programs" and "jetbrains" in item["vendor"].lower() and "Toolbox" not in name \
            and (match := _JETBRAINS_NAME_VERSION.search(name)):
        # JetBrains IDEs on Windows report build numbers; the marketing version is in the name.
        item["version"] = match[1]
    elif source == "rpm_packages" and name == "kernel" and item["release"]:
        # RHEL OVAL data names kernels version-release.
        item["version"], item["release"] = f"{item['version']}-{item['release']}", ""
    elif source == "programs" and name.casefold() == "msmpeng.exe":
        item["name"] = "Windows Defender"


def software_item(row: Row, platform: str) -> SoftwareItem | None:
    """One software row as Fleet stores it, or None when Fleet would drop it."""
    name, source = text(row, "name"), text(row, "source")
    if not name or not source:
        return None
    vendor = text(row, "vendor")
    if len(vendor) >= _VENDOR_MAX:
        vendor = vendor[:111] + "..."
    item = {
        "name": name[:_NAME_MAX], "version": text(row, "version")[:_VERSION_MAX], "source": source[:_SOURCE_MAX],
        "bundle_identifier": text(row, "bundle_identifier")[:_BUNDLE_MAX], "vendor": vendor,
        "release": text(row, "release")[:_RELEASE_MAX], "arch": text(row, "arch")[:_ARCH_MAX],
    }
    _mutate(item)
    # Parallels shows the Windows guest's programs as macOS apps; they are not installed on the Mac.
    if platform == "darwin" and item["bundle_identifier"].startswith("com.parallels.winapp"):
        return None
    installed_path = text(row, "installed_path").strip()
    if installed_path.lower() == "null":  # osquery sometimes reports the text "null"
        installed_path = ""
    # Browser extensions carry their id and browser (the queries name the browser extension_for).
    return SoftwareItem(installed_path=installed_path, last_opened_at=parse_last_opened_at(text(row, "last_opened_at")),
                        extension_id=text(row, "extension_id")[:_EXTENSION_ID_MAX],
                        browser=text(row, "extension_for")[:_BROWSER_MAX], **item)


def ingest_software(rows: Rows, ctx: IngestContext) -> HostFacts:
    items: list[SoftwareItem] = []
    skipped = 0
    for row in rows:
        item = software_item(row, ctx.platform)
        if item is None:
            skipped += 1
        else:
            items.append(item)
    if skipped:
        log.debug("software_rows_skipped", count=skipped, host_id=ctx.host_id)
    return HostFacts(software=tuple(items))


# --- Merging extra software queries into the main software_<os> result (before ingestion) ---

SoftwareRows = list[dict[str, str]]


def append_rows(main: SoftwareRows, extra: SoftwareRows) -> SoftwareRows:
    return [*main, *extra]


def replace_matching(match: Callable[[Mapping[str, str]], bool]) -> SoftwareProcessFn:
    """Fleet's SoftwareOverrideMatch: drop the main rows the override query reports better."""
    def process(main: SoftwareRows, extra: SoftwareRows) -> SoftwareRows:
        return [row for row in main if not match(row)] + list(extra)
    return process


def is_firefox_app(row: Mapping[str, str]) -> bool:
    return row.get("bundle_identifier") == "org.mozilla.firefox"


def acrobat_dc(main: SoftwareRows, registry: SoftwareRows) -> SoftwareRows:
    """Vulnerability data needs "DC" in Adobe Acrobat's name; the registry key says it is the DC edition."""
    if not registry:
        return main
    result: SoftwareRows = []
    for row in main:
        original = row.get("name", "")
        lowered = original.lower()
        if lowered.startswith(("adobe acrobat", "acrobat reader")):
            for variant in ("reader", "acrobat"):
                index = lowered.find(variant)
                if index != -1:
                    split = index + len(variant)
                    row = {**row, "name": original[:split] + " DC" + original[split:]}
                    break
        result.append(row)
    return result


def _max_epoch_text(a: str, b: str) -> str:
    # Fleet's maxString: compare as integers (unparsable counts as 0), keep the text.
    return a if (parse_int(a) or 0) > (parse_int(b) or 0) else b


_SKIPPED_INSTALL_DIRS = frozenset({"\\", "\\windows\\system32\\"})


def windows_last_opened_at(main: SoftwareRows, prefetch: SoftwareRows) -> SoftwareRows:
    """Match prefetch executables to programs by install directory (drive letter ignored)."""
    if not prefetch:
        return main
    result: SoftwareRows = []
    for row in main:
        if row.get("source") == "programs":
            volume, found, path = row.get("installed_path", "").lower().partition(":")
            # Binaries directly in \ or System32 cannot be tied to one program.
            if found and len(volume) == 1 and path and path not in _SKIPPED_INSTALL_DIRS:
                for entry in prefetch:
                    if entry.get("executable_path", "").lower().startswith(path):
                        row = {**row, "last_opened_at": _max_epoch_text(row.get("last_opened_at", ""),
                                                                        entry.get("last_opened_at", ""))}
        result.append(row)
    return result


def package_last_opened_at(source: str) -> SoftwareProcessFn:
    """deb/rpm: the newest atime of a package's executable files is its last use."""
    def process(main: SoftwareRows, files: SoftwareRows) -> SoftwareRows:
        if not files:
            return main
        last_opened = {entry.get("package", ""): entry.get("last_opened_at", "") for entry in files}
        return [{**row, "last_opened_at": last_opened[row.get("name", "")]}
                if row.get("source") == source and row.get("name", "") in last_opened else row
                for row in main]
    return process


_PYTHON_PREFIX = "python3-"


def filter_python_packages(platform: str, rows: SoftwareRows) -> SoftwareRows:
    """Fleet's pythonPackageFilter on Ubuntu, Debian and RHEL.

    pip packages that the distribution also ships as python3-<name> are listed once (as the
    distribution package); the others are renamed python3-<name> to match OVAL definitions.
    """
    if platform not in ("ubuntu", "debian", "rhel"):
        return rows
    distro_python = {row.get("name", "") for row in rows
                     if row.get("source") in ("deb_packages", "rpm_packages")
                     and row.get("name", "").startswith(_PYTHON_PREFIX)}
    result: SoftwareRows = []
    for row in rows:
        if row.get("source") == "python_packages":
            converted = _PYTHON_PREFIX + row.get("name", "").lower()
            if converted in distro_python:
                continue
            row = {**row, "name": converted}
        result.append(row)
    return result


def with_orbit_version(platform: str, rows: SoftwareRows, orbit_rows: SoftwareRows) -> SoftwareRows:
    """fleetd updates itself outside the package manager, so the fleet-osquery package version lags (Linux)."""
    if not is_linux(platform) or len(orbit_rows) != 1:
        return rows
    version = orbit_rows[0].get("version", "")
    if not version:
        return rows
    result = list(rows)
    for index, row in enumerate(result):
        if row.get("name") == "fleet-osquery":
            result[index] = {**row, "version": version}
            break
    return result
