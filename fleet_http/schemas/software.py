"""Response bodies of the software inventory: GET /software and GET /software/count."""

from __future__ import annotations

import msgspec

from fleet_core.model.hosts import Software
from fleet_http.schemas.common import UNSET, UnsetType


class SoftwareListItem(msgspec.Struct, kw_only=True):
    id: int
    name: str
    version: str
    source: str
    release: str
    vendor: str
    arch: str
    generated_cpe: str
    # Fleet answers null when a title has no known vulnerabilities; we have no vulnerability feed.
    vulnerabilities: None
    hosts_count: int
    bundle_identifier: str | UnsetType = UNSET


class ListSoftwareResponse(msgspec.Struct, kw_only=True):
    counts_updated_at: str
    software: list[SoftwareListItem]


class CountSoftwareResponse(msgspec.Struct, kw_only=True):
    count: int


def to_software_item(software: Software) -> SoftwareListItem:
    return SoftwareListItem(
        id=software.id, name=software.name, version=software.version, source=software.source,
        release=software.release, vendor=software.vendor, arch=software.arch, generated_cpe="",
        vulnerabilities=None, hosts_count=software.hosts_count,
        bundle_identifier=software.bundle_identifier or UNSET,
    )
