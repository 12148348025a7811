"""The software inventory's identity rules: what makes two reported packages the same software
row, and the digest of a host's software answer that lets ingestion skip an unchanged one."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence

from fleet_core.model.hosts import SoftwareItem

SoftwareIdentity = tuple[str, str, str, str, str, str, str, str, str]


def software_identity(item: SoftwareItem) -> SoftwareIdentity:
    """The fields that make a software row distinct (the software table's unique key)."""
    return (item.name, item.version, item.source, item.release, item.vendor, item.arch,
            item.bundle_identifier, item.extension_id, item.browser)


def distinct_software(items: Iterable[SoftwareItem]) -> list[SoftwareItem]:
    """One item per identity, keeping the newest last_opened_at of its duplicates (osquery can
    list a package twice, e.g. an app at two paths), in the order first reported."""
    found: dict[SoftwareIdentity, SoftwareItem] = {}
    for item in items:
        key = software_identity(item)
        previous = found.get(key)
        if previous is None or _newer(item.last_opened_at, previous.last_opened_at):
            found[key] = item if previous is None else _with_opened(previous, item.last_opened_at)
    return list(found.values())


def _newer(candidate: dt.datetime | None, current: dt.datetime | None) -> bool:
    return candidate is not None and (current is None or candidate > current)


def _with_opened(item: SoftwareItem, opened: dt.datetime | None) -> SoftwareItem:
    return SoftwareItem(name=item.name, version=item.version, source=item.source,
                        bundle_identifier=item.bundle_identifier, vendor=item.vendor, arch=item.arch,
                        release=item.release, extension_id=item.extension_id, browser=item.browser,
                        installed_path=item.installed_path, last_opened_at=opened)


def software_checksum(items: Sequence[SoftwareItem]) -> bytes:
    """SHA-256 of what storing ``items`` would record for a host (each distinct software and its
    last_opened_at), independent of the order reported: equal digests mean nothing to write."""
    lines = sorted(
        "\x1f".join((*software_identity(item),
                     "" if item.last_opened_at is None else item.last_opened_at.isoformat()))
        for item in distinct_software(items))
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.digest()
