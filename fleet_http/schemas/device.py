"""Bodies of Fleet Desktop's device-authenticated routes (see docs/device-routes.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from fleet_core.model.config import AppConfig
from fleet_core.services.device import AgentErrorReport, DesktopSummary, DeviceHost
from fleet_http.schemas.common import FREE_LICENSE, LicenseBody
from fleet_http.schemas.hosts import HostDetailBody, to_host_detail


class DeviceMDMConfigBody(msgspec.Struct, kw_only=True):
    enabled_and_configured: bool


class DeviceFeaturesBody(msgspec.Struct, kw_only=True):
    enable_software_inventory: bool


class DeviceGlobalConfigBody(msgspec.Struct, kw_only=True):
    mdm: DeviceMDMConfigBody
    features: DeviceFeaturesBody


class DeviceHostResponse(msgspec.Struct, kw_only=True):
    host: HostDetailBody
    self_service: bool
    org_logo_url: str
    org_logo_url_light_background: str
    org_contact_url: str
    license: LicenseBody
    global_config: DeviceGlobalConfigBody


def to_device_host(device: DeviceHost) -> DeviceHostResponse:
    org = device.config.org_info
    return DeviceHostResponse(
        host=to_host_detail(device.details),
        # Self-service software needs software installers, which this server does not host.
        self_service=False,
        org_logo_url=org.org_logo_url,
        org_logo_url_light_background=org.org_logo_url_light_background,
        org_contact_url=org.contact_url,
        license=FREE_LICENSE,
        global_config=DeviceGlobalConfigBody(
            mdm=DeviceMDMConfigBody(enabled_and_configured=False),
            features=DeviceFeaturesBody(enable_software_inventory=device.config.features.enable_software_inventory),
        ),
    )


class DesktopNotificationsBody(msgspec.Struct, kw_only=True):
    needs_mdm_migration: bool
    renew_enrollment_profile: bool


class DesktopOrgInfoBody(msgspec.Struct, kw_only=True):
    org_name: str
    org_logo_url: str
    org_logo_url_light_background: str
    contact_url: str


class MacOSMigrationBody(msgspec.Struct, kw_only=True):
    mode: str


class DesktopMDMBody(msgspec.Struct, kw_only=True):
    macos_migration: MacOSMigrationBody


class DesktopConfigBody(msgspec.Struct, kw_only=True):
    org_info: DesktopOrgInfoBody
    mdm: DesktopMDMBody


class DesktopResponse(msgspec.Struct, kw_only=True):
    failing_policies_count: int
    notifications: DesktopNotificationsBody
    config: DesktopConfigBody


def _org_info(config: AppConfig) -> DesktopOrgInfoBody:
    org = config.org_info
    return DesktopOrgInfoBody(org_name=org.org_name, org_logo_url=org.org_logo_url,
                              org_logo_url_light_background=org.org_logo_url_light_background,
                              contact_url=org.contact_url)


def to_desktop(summary: DesktopSummary) -> DesktopResponse:
    # Both notifications and the migration mode concern MDM, which this server does not offer.
    return DesktopResponse(
        failing_policies_count=summary.failing_policies_count,
        notifications=DesktopNotificationsBody(needs_mdm_migration=False, renew_enrollment_profile=False),
        config=DesktopConfigBody(org_info=_org_info(summary.config),
                                 mdm=DesktopMDMBody(macos_migration=MacOSMigrationBody(mode=""))),
    )


class APIFeaturesResponse(msgspec.Struct, kw_only=True):
    # Fleet Desktop skips every feature the server does not name; none are optional here.
    features: dict[str, Any] = msgspec.field(default_factory=dict)


class AgentErrorRequest(msgspec.Struct, kw_only=True):
    error_source: str | None = None
    error_source_version: str | None = None
    error_timestamp: dt.datetime | None = None
    error_message: str | None = None
    error_additional_info: dict[str, Any] | None = None

    def to_report(self) -> AgentErrorReport:
        return AgentErrorReport(
            error_source=self.error_source or "",
            error_source_version=self.error_source_version or "",
            error_timestamp=self.error_timestamp.isoformat() if self.error_timestamp else "",
            error_message=self.error_message or "",
            error_additional_info=self.error_additional_info,
        )


class DeviceTokenResponse(msgspec.Struct, kw_only=True):
    """POST /hosts/{id}/device_token: the new token, shown once, and when it stops working."""

    device_token: str
    expires_at: dt.datetime
