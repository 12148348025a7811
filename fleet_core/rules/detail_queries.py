"""Fleet's detail queries ("host vitals"): the catalogue, per-host selection, and pure ingestion.

Everything here is deterministic and I/O-free. The osquery transport asks ``detail_queries_for``
what to send in distributed/read, hands the ``fleet_detail_query_*`` results of distributed/write to
``ingest_detail_results`` and the ``fleet_additional_query_*`` ones to ``additional_results``, and at
enroll feeds ``host_details`` to ``facts_from_host_details``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal, cast

import attrs
import structlog

from fleet_core.model.hosts import HostFacts
from fleet_core.rules.detail import sql
from fleet_core.rules.detail.base import (
    LINUX_PLATFORMS,
    DetailQuery,
    IngestContext,
    IngestFn,
    Rows,
    SoftwareProcessFn,
    ingest_nothing,
    is_linux,
)
from fleet_core.rules.detail.host import (
    ingest_disk_space,
    ingest_kubequery_info,
    ingest_network_interface,
    ingest_os_version,
    ingest_os_version_windows,
    ingest_osquery_flags,
    ingest_osquery_info,
    ingest_system_info,
    ingest_uptime,
)
from fleet_core.rules.detail.related import (
    ingest_battery,
    ingest_chrome_profiles,
    ingest_mdm_macos,
    ingest_mdm_windows,
    ingest_munki_info,
    ingest_users,
)
from fleet_core.rules.detail.software import (
    acrobat_dc,
    append_rows,
    filter_python_packages,
    ingest_software,
    is_firefox_app,
    package_last_opened_at,
    replace_matching,
    windows_last_opened_at,
    with_orbit_version,
)

__all__ = [
    "ADDITIONAL_QUERY_PREFIX",
    "DETAIL_QUERIES",
    "DETAIL_QUERY_PREFIX",
    "LINUX_PLATFORMS",
    "DetailQuery",
    "IngestContext",
    "additional_results",
    "detail_queries_for",
    "facts_from_host_details",
    "ingest_detail_results",
    "is_linux",
]

log = structlog.get_logger(__name__)

DETAIL_QUERY_PREFIX: Final = "fleet_detail_query_"
ADDITIONAL_QUERY_PREFIX: Final = "fleet_additional_query_"

Feature = Literal["software_inventory", "host_users"]

_LINUX = LINUX_PLATFORMS
_DARWIN = frozenset({"darwin"})
_WINDOWS = frozenset({"windows"})
_CHROME = frozenset({"chrome"})
_UNIX = _LINUX | _DARWIN
_DESKTOP = _LINUX | _DARWIN | _WINDOWS  # Fleet's "not chrome"

# Which features.* switch a query needs; absent means it is always part of the host vitals.
_FEATURE: dict[str, Feature] = {}


def _q(name: str, query: str, ingest: IngestFn, platforms: frozenset[str] | None = None, *,
       discovery: str | None = None, updates_details: bool = False, feature: Feature | None = None,
       software_process: SoftwareProcessFn | None = None) -> DetailQuery:
    if feature is not None:
        _FEATURE[name] = feature
    return DetailQuery(name=name, sql=query, ingest=ingest, platforms=platforms, discovery=discovery,
                       updates_details=updates_details, software_process=software_process)


def _software_extra(name: str, query: str, platforms: frozenset[str], discovery: str | None = None,
                    process: SoftwareProcessFn = append_rows) -> DetailQuery:
    # Extras have no ingest of their own: their rows are merged into software_<os> first.
    return _q(name, query, ingest_nothing, platforms, discovery=discovery, feature="software_inventory",
              software_process=process)


_CATALOGUE: tuple[DetailQuery, ...] = (
    # Host-row vitals (Fleet's hostDetailQueries with an IngestFunc).
    _q("network_interface_unix", sql.NETWORK_INTERFACE_UNIX, ingest_network_interface, _UNIX, updates_details=True),
    _q("network_interface_windows", sql.NETWORK_INTERFACE_WINDOWS, ingest_network_interface, _WINDOWS,
       updates_details=True),
    _q("network_interface_chrome", sql.NETWORK_INTERFACE_CHROME, ingest_network_interface, _CHROME,
       updates_details=True),
    _q("os_version", sql.OS_VERSION, ingest_os_version, updates_details=True),
    _q("os_version_windows", sql.OS_VERSION_WINDOWS, ingest_os_version_windows, _WINDOWS, updates_details=True),
    _q("osquery_flags", sql.OSQUERY_FLAGS, ingest_osquery_flags, _DESKTOP, updates_details=True),
    _q("osquery_info", sql.OSQUERY_INFO, ingest_osquery_info, updates_details=True),
    _q("system_info", sql.SYSTEM_INFO, ingest_system_info, updates_details=True),
    _q("uptime", sql.UPTIME, ingest_uptime, _DESKTOP, updates_details=True),
    _q("kubequery_info", sql.KUBEQUERY_INFO, ingest_kubequery_info, discovery=sql.discovery_table("kubernetes_info"),
       updates_details=True),
    # Disk space is a direct ingest in Fleet (host_disks), so it does not bump detail_updated_at.
    _q("disk_space_unix", sql.DISK_SPACE_UNIX, ingest_disk_space, _LINUX),
    _q("disk_space_darwin", sql.DISK_SPACE_DARWIN, ingest_disk_space, _DARWIN,
       discovery=sql.DISK_SPACE_DARWIN_DISCOVERY),
    _q("disk_space_darwin_legacy", sql.DISK_SPACE_DARWIN_LEGACY, ingest_disk_space, _DARWIN,
       discovery=sql.DISK_SPACE_DARWIN_LEGACY_DISCOVERY),
    _q("disk_space_windows", sql.DISK_SPACE_WINDOWS, ingest_disk_space, _WINDOWS),
    # Fleet's extraDetailQueries that the core model can hold.
    _q("mdm", sql.MDM, ingest_mdm_macos, _DARWIN, discovery=sql.discovery_table("mdm")),
    _q("mdm_windows", sql.MDM_WINDOWS, ingest_mdm_windows, _WINDOWS),
    _q("munki_info", sql.MUNKI_INFO, ingest_munki_info, _DARWIN, discovery=sql.discovery_table("munki_info")),
    _q("chromeos_profile_user_info", sql.CHROMEOS_PROFILE_USER_INFO, ingest_chrome_profiles, _CHROME),
    _q("google_chrome_profiles", sql.GOOGLE_CHROME_PROFILES, ingest_chrome_profiles,
       discovery=sql.discovery_table("google_chrome_profiles")),
    _q("battery", sql.BATTERY, ingest_battery, _DARWIN | _WINDOWS, discovery=sql.discovery_table("battery")),
    # Sent so fleetd hosts report it (the fleetd version also corrects the fleet-osquery package
    # version below); the core model has no orbit fields yet.
    _q("orbit_info", sql.ORBIT_INFO, ingest_nothing, _DESKTOP, discovery=sql.discovery_table("orbit_info")),
    # Software inventory (features.enable_software_inventory).
    _q("software_macos", sql.SOFTWARE_MACOS, ingest_software, _DARWIN, feature="software_inventory"),
    _q("software_linux", sql.SOFTWARE_LINUX, ingest_software, _LINUX, feature="software_inventory"),
    _q("software_windows", sql.SOFTWARE_WINDOWS, ingest_software, _WINDOWS, feature="software_inventory"),
    _q("software_chrome", sql.SOFTWARE_CHROME, ingest_software, _CHROME, feature="software_inventory"),
    _software_extra("software_vscode_extensions", sql.SOFTWARE_VSCODE_EXTENSIONS, _DESKTOP,
                    sql.discovery_table("vscode_extensions")),
    _software_extra("software_python_packages", sql.SOFTWARE_PYTHON_PACKAGES, _DESKTOP,
                    sql.SOFTWARE_PYTHON_PACKAGES_DISCOVERY),
    _software_extra("software_python_packages_with_users_dir", sql.SOFTWARE_PYTHON_PACKAGES_WITH_USERS_DIR, _DESKTOP,
                    sql.SOFTWARE_PYTHON_PACKAGES_WITH_USERS_DIR_DISCOVERY),
    _software_extra("software_linux_fleetd_pacman", sql.SOFTWARE_LINUX_FLEETD_PACMAN, _LINUX,
                    sql.discovery_table("fleetd_pacman_packages")),
    _software_extra("software_jetbrains_plugins", sql.SOFTWARE_JETBRAINS_PLUGINS, _DESKTOP,
                    sql.discovery_table("jetbrains_plugins")),
    _software_extra("software_go_binaries", sql.SOFTWARE_GO_BINARIES, _DESKTOP, sql.discovery_table("go_binaries")),
    _software_extra("software_macos_firefox", sql.SOFTWARE_MACOS_FIREFOX, _DARWIN,
                    sql.SOFTWARE_MACOS_FIREFOX_DISCOVERY, replace_matching(is_firefox_app)),
    _software_extra("software_windows_acrobat_dc", sql.SOFTWARE_WINDOWS_ACROBAT_DC, _WINDOWS, process=acrobat_dc),
    _software_extra("software_windows_last_opened_at", sql.SOFTWARE_WINDOWS_LAST_OPENED_AT, _WINDOWS,
                    process=windows_last_opened_at),
    _software_extra("software_deb_last_opened_at", sql.SOFTWARE_DEB_LAST_OPENED_AT, _LINUX,
                    sql.discovery_table("deb_package_files"), package_last_opened_at("deb_packages")),
    _software_extra("software_rpm_last_opened_at", sql.SOFTWARE_RPM_LAST_OPENED_AT, _LINUX,
                    sql.discovery_table("rpm_package_files"), package_last_opened_at("rpm_packages")),
    # Host users (features.enable_host_users).
    _q("users", sql.USERS, ingest_users, _DESKTOP, feature="host_users"),
    _q("users_chrome", sql.USERS_CHROME, ingest_users, _CHROME, feature="host_users"),
)

DETAIL_QUERIES: Final[Mapping[str, DetailQuery]] = {q.name: q for q in _CATALOGUE}

# Software queries whose results the extras are merged into (software_chrome takes no extras).
_MAIN_SOFTWARE: Final = ("software_macos", "software_windows", "software_linux")
# Fleet's merge order: the fixed extras first, then the override queries (sorted here, since
# Go's map order is random).
_EXTRA_ORDER: Final = (
    "software_vscode_extensions", "software_python_packages", "software_python_packages_with_users_dir",
    "software_linux_fleetd_pacman", "software_jetbrains_plugins", "software_go_binaries",
)
_SOFTWARE_EXTRAS: Final = _EXTRA_ORDER + tuple(sorted(
    q.name for q in _CATALOGUE if q.software_process is not None and q.name not in _EXTRA_ORDER))
# Ingested first so later ingest functions see the platform this batch reports.
_INGEST_FIRST: Final = ("os_version", "os_version_windows", "kubequery_info")


def feature_of(name: str) -> Feature | None:
    """The features.* switch a catalogue query depends on, if any."""
    return _FEATURE.get(name)


def detail_queries_for(platform: str, *, software_inventory: bool, host_users: bool,
                       additional: Mapping[str, str] | None = None,
                       overrides: Mapping[str, str | None] | None = None) -> dict[str, tuple[str, str | None]]:
    """Wire name → (SQL, discovery SQL or None) of the detail and additional queries for one host.

    Fleet's GetDetailQueries + detailQueriesForHost: the always-on vitals plus the feature-gated
    ones, then ``features.detail_query_overrides`` (new SQL, or None/empty to drop the query;
    unknown names are logged and ignored), then the platform filter. An empty or unknown platform
    gets only the platform-independent queries, which is enough to identify a fresh host.
    ``features.additional_queries`` become ``fleet_additional_query_<name>`` on every platform.
    Blank SQL is never returned, because osquery rejects the whole batch for it.
    """
    chosen: dict[str, DetailQuery] = {}
    for query in _CATALOGUE:
        feature = _FEATURE.get(query.name)
        if (feature == "software_inventory" and not software_inventory) or (feature == "host_users" and not host_users):
            continue
        chosen[query.name] = query
    unknown: list[str] = []
    for name, override in sorted((overrides or {}).items()):
        if name not in chosen:
            unknown.append(name)
        elif override is None or not override.strip():
            del chosen[name]
        else:
            chosen[name] = attrs.evolve(chosen[name], sql=override)
    if unknown:
        log.warning("detail_query_overrides_unknown", names=unknown)
    selected = {DETAIL_QUERY_PREFIX + q.name: (q.sql, q.discovery) for q in chosen.values() if q.runs_on(platform)}
    for name, query_sql in (additional or {}).items():
        if query_sql and query_sql.strip():
            selected[ADDITIONAL_QUERY_PREFIX + name] = (query_sql, None)
    return dict(sorted(selected.items()))


def _status_ok(statuses: Mapping[str, object], wire_name: str) -> bool:
    # A missing status reads as 0 (Go's zero value); osquery before 3.0 sent statuses as strings.
    status = statuses.get(wire_name, 0)
    if isinstance(status, bool):
        return False
    if isinstance(status, int):
        return status == 0
    if isinstance(status, str):
        return status.strip() == "0"
    return False


def _normalise_rows(wire_name: str, value: object) -> list[dict[str, str]]:
    """Rows as string dicts; anything else (old osquery sent "" for no rows) is dropped, not fatal."""
    if not isinstance(value, list | tuple):
        if value not in ("", None):
            log.warning("detail_query_rows_not_a_list", query=wire_name)
        return []
    rows: list[dict[str, str]] = []
    for row in value:
        if not isinstance(row, Mapping):
            log.warning("detail_query_row_skipped", query=wire_name, reason="not an object")
            continue
        rows.append({str(k): v if isinstance(v, str) else ("" if v is None else str(v)) for k, v in row.items()})
    return rows


def _run(query: DetailQuery, rows: Rows, ctx: IngestContext) -> HostFacts | None:
    try:
        facts = query.ingest(rows, ctx)
    except Exception:
        # One query's bad data must never cost the host its other vitals.
        log.exception("detail_query_ingest_failed", query=query.name, host_id=ctx.host_id)
        return None
    return facts


def _merge_software_extras(ok: dict[str, list[dict[str, str]]], present: Iterable[str],
                           platform: str) -> None:
    present = set(present)
    for extra in _SOFTWARE_EXTRAS:
        # Extras are always consumed: alone, they would replace the host's whole software list.
        extra_rows = ok.pop(extra, None)
        if not extra_rows:
            continue
        process = DETAIL_QUERIES[extra].software_process
        assert process is not None
        for main in _MAIN_SOFTWARE:
            if main in ok:
                ok[main] = process(ok[main], extra_rows)
                break
            if main in present:
                break  # the main query ran but failed: leave everything alone
    if "software_linux" in ok:
        rows = filter_python_packages(platform, ok["software_linux"])
        ok["software_linux"] = with_orbit_version(platform, rows, ok.get("orbit_info", []))


def ingest_detail_results(results: Mapping[str, object], statuses: Mapping[str, object],
                          ctx: IngestContext, *, text_rows: bool = False) -> tuple[HostFacts, bool]:
    """Fold one distributed/write's detail results into HostFacts.

    ``results``/``statuses`` are the write's ``queries``/``statuses`` maps (any prefix; only
    ``fleet_detail_query_*`` entries are used). Failed queries (status ≠ 0) contribute nothing;
    unknown names, malformed rows and ingest errors are logged and skipped, never raised.
    Queries are applied in a fixed order (os_version first, then by name), later facts winning.
    Returns the merged facts and whether any host-field query ran (Fleet then sets
    detail_updated_at). ``text_rows``: the rows are already lists of text-only dicts (as
    agent_input.query_results makes them), so they are used without another copy.
    """
    ok: dict[str, list[dict[str, str]]] = {}
    present: list[str] = []
    for wire_name, value in results.items():
        if not isinstance(wire_name, str) or not wire_name.startswith(DETAIL_QUERY_PREFIX):
            continue
        name = wire_name.removeprefix(DETAIL_QUERY_PREFIX)
        present.append(name)
        if name not in DETAIL_QUERIES:
            log.warning("detail_query_unknown", query=name, host_id=ctx.host_id)
            continue
        if not _status_ok(statuses, wire_name):
            continue
        if text_rows and isinstance(value, list):
            ok[name] = cast("list[dict[str, str]]", value)
        else:
            ok[name] = _normalise_rows(wire_name, value)
    _merge_software_extras(ok, present, ctx.platform)

    order = [n for n in _INGEST_FIRST if n in ok] + sorted(n for n in ok if n not in _INGEST_FIRST)
    facts = HostFacts()
    updated = False
    for name in order:
        query = DETAIL_QUERIES[name]
        if query.software_process is not None:
            continue
        updated = updated or query.updates_details
        found = _run(query, ok[name], ctx)
        if found is None:
            continue
        facts = facts.merge(found)
        platform = found.fields.get("platform")
        if isinstance(platform, str) and platform != ctx.platform:
            ctx = attrs.evolve(ctx, platform=platform)
    return facts, updated


def additional_results(results: Mapping[str, object],
                       statuses: Mapping[str, object]) -> dict[str, list[dict[str, str]]]:
    """``fleet_additional_query_<name>`` results that succeeded, as name → rows.

    Fleet replaces the host's whole ``additional`` JSON with this map when it is non-empty; an
    empty map means there is nothing to store this time.
    """
    found: dict[str, list[dict[str, str]]] = {}
    for wire_name, value in results.items():
        if isinstance(wire_name, str) and wire_name.startswith(ADDITIONAL_QUERY_PREFIX) \
                and _status_ok(statuses, wire_name):
            found[wire_name.removeprefix(ADDITIONAL_QUERY_PREFIX)] = _normalise_rows(wire_name, value)
    return dict(sorted(found.items()))


_ENROLL_DETAILS: Final = ("os_version", "osquery_info", "system_info")


def facts_from_host_details(host_details: Mapping[str, object], ctx: IngestContext) -> HostFacts:
    """What the enroll request's ``host_details`` (first row of each table) says about the host."""
    facts = HostFacts()
    for name in _ENROLL_DETAILS:
        details = host_details.get(name)
        if details is None:
            continue
        rows = _normalise_rows(name, [details])
        if not rows:
            continue
        found = _run(DETAIL_QUERIES[name], rows, ctx)
        if found is not None:
            facts = facts.merge(found)
    return facts
