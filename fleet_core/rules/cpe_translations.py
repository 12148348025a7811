"""The known exceptions to CPE translation: software whose name or bundle identifier does not say
its NVD vendor and product (Fleet keeps the same kind of list, cpe_translations.json).

An entry matches on the source (None: any) and either the exact bundle identifier or the
normalised name; the first entry that matches wins and is used as is, without asking the
dictionary.
"""

from __future__ import annotations

import re

import attrs

from fleet_core.model.vulnerabilities import SoftwareToMatch

_SEPARATORS = re.compile(r"[\s_]+")


@attrs.frozen
class Translation:
    vendor: str
    product: str
    target_sw: str = "*"
    sources: frozenset[str] | None = None
    names: frozenset[str] = frozenset()
    bundle_identifiers: frozenset[str] = frozenset()


_DESKTOP = frozenset({"apps", "programs"})
_LINUX = frozenset({"deb_packages", "rpm_packages", "homebrew_packages"})

TRANSLATIONS: tuple[Translation, ...] = (
    Translation("microsoft", "visual_studio_code", sources=_DESKTOP,
                names=frozenset({"visual_studio_code", "microsoft_visual_studio_code"}),
                bundle_identifiers=frozenset({"com.microsoft.vscode"})),
    Translation("microsoft", "teams", sources=_DESKTOP,
                names=frozenset({"microsoft_teams", "microsoft_teams_classic", "teams"}),
                bundle_identifiers=frozenset({"com.microsoft.teams", "com.microsoft.teams2"})),
    Translation("microsoft", "edge_chromium", sources=_DESKTOP,
                names=frozenset({"microsoft_edge"}),
                bundle_identifiers=frozenset({"com.microsoft.edgemac"})),
    Translation("zoom", "zoom", sources=_DESKTOP,
                names=frozenset({"zoom.us", "zoom", "zoom_workplace"}),
                bundle_identifiers=frozenset({"us.zoom.xos"})),
    Translation("docker", "desktop", sources=_DESKTOP,
                names=frozenset({"docker", "docker_desktop"}),
                bundle_identifiers=frozenset({"com.docker.docker", "com.electron.dockerdesktop"})),
    Translation("slack", "slack", sources=_DESKTOP, names=frozenset({"slack"}),
                bundle_identifiers=frozenset({"com.tinyspeck.slackmacgap"})),
    Translation("iterm2", "iterm2", sources=_DESKTOP, names=frozenset({"iterm", "iterm2"}),
                bundle_identifiers=frozenset({"com.googlecode.iterm2"})),
    Translation("agilebits", "1password", sources=_DESKTOP,
                names=frozenset({"1password", "1password_7"}),
                bundle_identifiers=frozenset({"com.1password.1password", "com.agilebits.onepassword7"})),
    Translation("git-scm", "git", sources=_LINUX | _DESKTOP, names=frozenset({"git"})),
    Translation("haxx", "curl", sources=_LINUX, names=frozenset({"curl", "libcurl4"})),
    Translation("nodejs", "node.js", sources=_LINUX | _DESKTOP, names=frozenset({"nodejs", "node.js", "node"})),
    Translation("python", "python", sources=_LINUX | _DESKTOP,
                names=frozenset({"python3", "python", "python2"})),
)

_BY_BUNDLE = {bundle: entry for entry in TRANSLATIONS for bundle in entry.bundle_identifiers}


def _normalised(name: str) -> str:
    cleaned = name.strip().lower()
    if cleaned.endswith(".app"):
        cleaned = cleaned[:-4]
    return _SEPARATORS.sub("_", cleaned)


def translate(software: SoftwareToMatch) -> tuple[str, str, str] | None:
    """(vendor, product, target_sw) when the software is a known exception, else None."""
    if software.bundle_identifier:
        entry = _BY_BUNDLE.get(software.bundle_identifier.lower())
        if entry is not None and (entry.sources is None or software.source in entry.sources):
            return entry.vendor, entry.product, entry.target_sw
    name = _normalised(software.name)
    for entry in TRANSLATIONS:
        if name in entry.names and (entry.sources is None or software.source in entry.sources):
            return entry.vendor, entry.product, entry.target_sw
    return None
