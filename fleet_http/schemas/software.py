"""Response bodies of the software inventory: GET /software and GET /software/count, and the
vulnerability objects the host details' software list shares."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from fleet_core.model.hosts import Software
from fleet_core.model.vulnerabilities import SoftwareVulnerability
from fleet_http.schemas.common import UNSET, UnsetType, ts


class VulnerabilityBody(msgspec.Struct, kw_only=True):
    cve: str
    details_link: str
    cvss_score: float | None
    epss_probability: float | None
    cisa_known_exploit: bool | None
    cve_published: str | None
    resolved_in_version: str | None


class SoftwareListItem(msgspec.Struct, kw_only=True):
    id: int
    name: str
    version: str
    source: str
    release: str
    vendor: str
    arch: str
    generated_cpe: str
    # Fleet answers null, not [], when a title has no known vulnerabilities.
    vulnerabilities: list[VulnerabilityBody] | None
    hosts_count: int
    bundle_identifier: str | UnsetType = UNSET
    extension_id: str | UnsetType = UNSET
    browser: str | UnsetType = UNSET


class ListSoftwareResponse(msgspec.Struct, kw_only=True):
    # When the host counts were last refreshed; null before the first refresh.
    counts_updated_at: str | None
    software: list[SoftwareListItem]


class CountSoftwareResponse(msgspec.Struct, kw_only=True):
    count: int


def to_vulnerabilities(found: Sequence[SoftwareVulnerability]) -> list[VulnerabilityBody] | None:
    if not found:
        return None
    return [VulnerabilityBody(
        cve=v.cve, details_link=v.details_link, cvss_score=v.cvss_score, epss_probability=v.epss_probability,
        cisa_known_exploit=v.cisa_known_exploit, cve_published=None if v.cve_published is None else ts(v.cve_published),
        resolved_in_version=v.resolved_in_version) for v in found]


def to_software_item(software: Software) -> SoftwareListItem:
    return SoftwareListItem(
        id=software.id, name=software.name, version=software.version, source=software.source,
        release=software.release, vendor=software.vendor, arch=software.arch, generated_cpe=software.generated_cpe,
        vulnerabilities=to_vulnerabilities(software.vulnerabilities), hosts_count=software.hosts_count,
        bundle_identifier=software.bundle_identifier or UNSET, extension_id=software.extension_id or UNSET,
        browser=software.browser or UNSET,
    )
