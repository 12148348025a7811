"""CISA's known exploited vulnerabilities catalogue (``known_exploited_vulnerabilities.json``):
``{"title", "catalogVersion", "dateReleased", "count", "vulnerabilities": [{"cveID", ...}]}``."""

from __future__ import annotations

from pathlib import Path

import msgspec

KEV_NAME = "known_exploited_vulnerabilities.json"


class KnownExploited(msgspec.Struct):
    cveID: str


class Catalogue(msgspec.Struct):
    vulnerabilities: list[KnownExploited] = msgspec.field(default_factory=list)


_DECODER = msgspec.json.Decoder(Catalogue)


def read_known_exploited(path: Path) -> set[str]:
    """The CVE ids CISA lists as exploited.

    Raises:
        ValueError: not CISA's catalogue.
    """
    try:
        catalogue = _DECODER.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise ValueError(f"{path.name}: not CISA's known exploited catalogue ({exc})") from exc
    return {entry.cveID for entry in catalogue.vulnerabilities}
