"""Ingest functions for data kept beside the host row (Fleet's DirectIngestFunc kind): users, MDM, Munki, ..."""

from __future__ import annotations

import structlog

from fleet_core.model.hosts import Battery, DeviceMapping, HostFacts, HostUser, MDMInfo, MunkiInfo
from fleet_core.rules.detail.base import IngestContext, Rows, parse_bool, parse_int, text

log = structlog.get_logger(__name__)


def ingest_users(rows: Rows, ctx: IngestContext) -> HostFacts:
    users: list[HostUser] = []
    for row in rows:
        raw_uid = text(row, "uid")
        if raw_uid == "":
            # Broken accounts can come back without a uid (Fleet drops them too).
            continue
        uid = parse_int(raw_uid)
        if uid is None:
            if ctx.platform != "chrome":
                log.warning("detail_query_bad_value", query="users", column="uid", host_id=ctx.host_id)
                continue
            uid = 0  # ChromeOS uids overflow 32 bits; Fleet stores 0 for them
        users.append(HostUser(uid=uid, username=text(row, "username"), type=text(row, "type"),
                              groupname=text(row, "groupname"), shell=text(row, "shell")))
    # An empty result keeps the stored users: Fleet does not clear the list on an empty answer.
    return HostFacts(users=tuple(users)) if users else HostFacts()


GOOGLE_CHROME_PROFILES_SOURCE = "google_chrome_profiles"


def ingest_chrome_profiles(rows: Rows, ctx: IngestContext) -> HostFacts:
    emails: list[str] = []
    for row in rows:
        email = text(row, "email")
        if email and email not in emails:
            emails.append(email)
    return HostFacts(device_mapping=tuple(DeviceMapping(email=e, source=GOOGLE_CHROME_PROFILES_SOURCE)
                                          for e in emails))


FLEET_MDM_NAME = "Fleet"
UNKNOWN_MDM_NAME = ""  # Fleet's fleet.UnknownMDMName; the API then leaves "name" out
# The enrollment profile identifier Fleet MDM installs; on-prem Fleet URLs say nothing about Fleet.
FLEET_PAYLOAD_IDENTIFIER = "com.fleetdm.fleet.mdm.apple"

# Substring of the lower-cased server URL → well-known solution (Fleet's mdmNameFromServerURLChecks).
# Checked in this order so a URL containing two names always gets the same answer.
_MDM_NAMES: tuple[tuple[str, str], ...] = (
    ("fleetdm", FLEET_MDM_NAME),
    ("kandji", "Kandji"),
    ("jamf", "Jamf"),
    ("jumpcloud", "JumpCloud"),
    ("airwatch", "VMware Workspace ONE"),
    ("awmdm", "VMware Workspace ONE"),
    ("microsoft", "Intune"),
    ("simplemdm", "SimpleMDM"),
)


def mdm_name_from_server_url(server_url: str) -> str:
    lowered = server_url.lower()
    for needle, name in _MDM_NAMES:
        if needle in lowered:
            return name
    return UNKNOWN_MDM_NAME


def _strip_query(url: str) -> str:
    # Fleet drops the query string (it carries the enroll reference) and keeps any fragment.
    base, hash_, fragment = url.partition("#")
    return base.partition("?")[0] + hash_ + fragment


def ingest_mdm_macos(rows: Rows, ctx: IngestContext) -> HostFacts:
    if not rows:
        return HostFacts()  # no mdm table (macadmins extension missing): keep what we had
    if len(rows) > 1:
        log.warning("detail_query_unexpected_row_count", query="mdm", rows=len(rows), host_id=ctx.host_id)
    row = rows[0]
    enrolled = parse_bool(text(row, "enrolled"))
    raw_dep = text(row, "installed_from_dep")
    from_dep = parse_bool(raw_dep) if raw_dep else False
    if enrolled is None or from_dep is None:
        log.warning("detail_query_bad_value", query="mdm", column="enrolled/installed_from_dep", host_id=ctx.host_id)
        return HostFacts()
    server_url = text(row, "server_url")
    if text(row, "payload_identifier") == FLEET_PAYLOAD_IDENTIFIER:
        name = FLEET_MDM_NAME
    else:
        name = mdm_name_from_server_url(server_url)
    return HostFacts(mdm=MDMInfo(enrolled=enrolled, server_url=_strip_query(server_url),
                                 installed_from_dep=from_dep, name=name))


def ingest_mdm_windows(rows: Rows, ctx: IngestContext) -> HostFacts:
    if not rows:
        # No Enrollments registry entries: the host is not enrolled in any MDM.
        return HostFacts(mdm=MDMInfo(enrolled=False))
    if len(rows) > 1:
        log.warning("detail_query_unexpected_row_count", query="mdm_windows", rows=len(rows), host_id=ctx.host_id)
        return HostFacts()
    row = rows[0]
    server_url = text(row, "discovery_service_url")
    enrolled = server_url != ""
    # Azure AD (Entra) joined enrollments are the automatic kind. Fleet also consults its own
    # Windows MDM records for the NotInOOBE flag, which this pure function cannot see.
    automatic = enrolled and text(row, "aad_resource_id") != ""
    if not server_url:
        name = UNKNOWN_MDM_NAME
    elif text(row, "provider_id") == FLEET_MDM_NAME:
        name = FLEET_MDM_NAME
    else:
        name = mdm_name_from_server_url(server_url)
    return HostFacts(mdm=MDMInfo(enrolled=enrolled, server_url=server_url, installed_from_dep=automatic, name=name))


def _split_and_trim(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def ingest_munki_info(rows: Rows, ctx: IngestContext) -> HostFacts:
    if not rows:
        # Munki was removed: Fleet records an empty version so the host drops out of Munki counts.
        return HostFacts(munki=MunkiInfo(version=""))
    if len(rows) > 1:
        log.warning("detail_query_unexpected_row_count", query="munki_info", rows=len(rows), host_id=ctx.host_id)
    row = rows[0]
    return HostFacts(munki=MunkiInfo(version=text(row, "version"), errors=_split_and_trim(text(row, "errors")),
                                     warnings=_split_and_trim(text(row, "warnings"))))


BATTERY_UNKNOWN = "Unknown"
BATTERY_DEGRADED = "Service recommended"
BATTERY_NORMAL = "Normal"
_DEGRADED_CYCLES = 1000
_DEGRADED_PERCENT = 80


def battery_health(cycle_count: int, designed_capacity: str, max_capacity: str) -> str:
    """Fleet's generateBatteryHealth: the same rule on macOS and Windows (osquery's health column is unreliable)."""
    if cycle_count >= _DEGRADED_CYCLES:
        return BATTERY_DEGRADED
    designed = parse_int(designed_capacity) if designed_capacity else None
    maximum = parse_int(max_capacity) if max_capacity else None
    if designed is None or maximum is None:
        return BATTERY_UNKNOWN
    if designed == 0:
        return BATTERY_UNKNOWN  # Go divides by zero here (Inf/NaN, reported as Normal); say we do not know
    return BATTERY_DEGRADED if maximum / designed * 100 < _DEGRADED_PERCENT else BATTERY_NORMAL


def ingest_battery(rows: Rows, ctx: IngestContext) -> HostFacts:
    batteries: list[Battery] = []
    for row in rows:
        count = parse_int(text(row, "cycle_count"))
        if count is None:
            log.warning("detail_query_bad_value", query="battery", column="cycle_count", host_id=ctx.host_id)
            count = 0  # Fleet assumes 0 and still judges the capacity
        batteries.append(Battery(cycle_count=count, health=battery_health(
            count, text(row, "designed_capacity"), text(row, "max_capacity"))))
    return HostFacts(batteries=tuple(batteries))
