"""CPE 2.3 names, the choice of a software row's CPE from the dictionary, and range matching.

Pure functions over strings and mappings: the feed engine (fleet_adapters/vulnerabilities) builds
the lookups from NVD's CPE dictionary and CVE feeds and calls these.

How a CPE is chosen follows Fleet's reference: the product comes from the software's normalised
name, the vendor from what the source knows about who made it (a macOS app's bundle identifier, a
Windows program's publisher, a package's vendor field), browser extensions and language packages
carry the ecosystem as ``target_sw`` (chrome, firefox, python, node.js), and a small table
(fleet_core/rules/cpe_translations.py) names the known exceptions. Nothing is guessed: when the
dictionary offers several vendors for a product and nothing about the software picks one, the
software gets no CPE.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

import attrs

from fleet_core.model.vulnerabilities import SoftwareToMatch
from fleet_core.rules.cpe_translations import translate
from fleet_core.rules.versions import VersionKey, version_key, without_epoch

ANY = "*"
NOT_APPLICABLE = "-"
_PREFIX = "cpe:2.3:"
# What a formatted-string component may hold unquoted (NISTIR 7695 §6.2); the rest is quoted.
_NEEDS_QUOTE = re.compile(r"([^A-Za-z0-9_.\-])")

# target_sw of the sources whose packages only exist inside one ecosystem.
TARGET_SW_BY_SOURCE: Mapping[str, str] = {
    "chrome_extensions": "chrome",
    "firefox_addons": "firefox",
    "python_packages": "python",
    "npm_packages": "node.js",
}

_COMPANY_SUFFIXES = re.compile(
    r"[,.]?\s+(inc|incorporated|corp|corporation|co|company|llc|ltd|limited|gmbh|ag|sa|s\.a|"
    r"srl|bv|b\.v|oy|ab|as|plc|pty|foundation|project|software|technologies|systems|team)\.?$"
)
_PARENTHESES = re.compile(r"\s*[\(\[][^\)\]]*[\)\]]")
_TRAILING_VERSION = re.compile(r"[\s_-]+v?\d+(\.\d+)*[a-z]?$")
_TRAILING_DIGITS = re.compile(r"[\d.]+$")
_SEPARATORS = re.compile(r"[\s_]+")
_BUNDLE_TLDS = frozenset({"com", "org", "net", "io", "de", "co", "us", "uk", "fr", "app", "dev"})


@attrs.frozen
class CPE:
    """The eleven attributes of a CPE 2.3 name, as quoted in its formatted string."""

    part: str
    vendor: str
    product: str
    version: str = ANY
    update: str = ANY
    edition: str = ANY
    language: str = ANY
    sw_edition: str = ANY
    target_sw: str = ANY
    target_hw: str = ANY
    other: str = ANY

    @property
    def key(self) -> str:
        """``vendor:product``, how the indexes file criteria and dictionary entries."""
        return f"{self.vendor}:{self.product}"


def parse_cpe(name: str) -> CPE:
    """The attributes of a CPE 2.3 formatted string (``cpe:2.3:a:openssl:openssl:*:...``).

    Raises:
        ValueError: not a CPE 2.3 formatted string of 13 components.
    """
    if not name.startswith(_PREFIX):
        raise ValueError(f"not a CPE 2.3 name: {name!r}")
    body = name[len(_PREFIX) :]
    parts = body.split(":") if "\\" not in body else _split_quoted(body)
    if len(parts) != 11 or not all(parts):
        raise ValueError(f"a CPE 2.3 name has 11 attributes: {name!r}")
    return CPE(*parts)


def _split_quoted(body: str) -> list[str]:
    """Split at the colons that are not quoted (a backslash quotes the next character)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in body:
        if quoted:
            current.append(char)
            quoted = False
        elif char == "\\":
            current.append(char)
            quoted = True
        elif char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def format_cpe(cpe: CPE) -> str:
    return _PREFIX + ":".join(attrs.astuple(cpe))


def quote_component(value: str) -> str:
    """A free value (a name, a version) as a formatted-string component: lower case, spaces
    as underscores, other punctuation quoted; "" becomes ``*``."""
    cleaned = _SEPARATORS.sub("_", value.strip().lower())
    if not cleaned:
        return ANY
    return _NEEDS_QUOTE.sub(r"\\\1", cleaned)


def normalise_name(name: str) -> str:
    """A software name as the dictionary spells products: lower case, no ``.app``, no
    parenthesised qualifiers (``(x64)``, ``(64-bit)``), no trailing version, words joined by
    underscores."""
    cleaned = name.strip()
    if cleaned.lower().endswith(".app"):
        cleaned = cleaned[:-4]
    cleaned = _PARENTHESES.sub("", cleaned).strip().lower()
    cleaned = _TRAILING_VERSION.sub("", cleaned).strip()
    return _SEPARATORS.sub("_", cleaned).strip("_")


def normalise_vendor(vendor: str) -> list[str]:
    """Dictionary vendor names a publisher or package vendor may stand for, best first:
    ``Mozilla Corporation`` -> [mozilla], ``Red Hat, Inc.`` -> [red_hat, redhat, red]."""
    cleaned = vendor.strip().lower()
    if "<" in cleaned:  # RPM's "Vendor <mail>" form
        cleaned = cleaned.split("<", 1)[0].strip()
    previous = None
    while previous != cleaned:
        previous = cleaned
        cleaned = _COMPANY_SUFFIXES.sub("", cleaned).strip(" ,.")
    if not cleaned:
        return []
    words = [word for word in re.split(r"[\s,._-]+", cleaned) if word]
    candidates = ["_".join(words), "".join(words), words[0]] if words else []
    return list(dict.fromkeys(candidate for candidate in candidates if candidate))


def _bundle_vendor(bundle_identifier: str) -> list[str]:
    parts = [part.lower() for part in bundle_identifier.split(".") if part]
    if len(parts) < 2:
        return []
    vendor = parts[1] if parts[0] in _BUNDLE_TLDS else parts[0]
    return [vendor]


def product_candidates(software: SoftwareToMatch) -> list[str]:
    """Dictionary product names the software may be, best first."""
    source = software.source
    name = software.name
    candidates: list[str] = []
    if source in ("deb_packages", "rpm_packages", "homebrew_packages", "portage_packages",
                  "npm_packages", "python_packages", "pkg_packages", "chocolatey_packages"):
        base = name.strip().lower()
        if source == "npm_packages" and base.startswith("@") and "/" in base:
            base = base.split("/", 1)[1]
        candidates.append(base)
        if source == "python_packages":
            candidates += [base.replace("-", "_"), base.replace("_", "-")]
        trimmed = _TRAILING_DIGITS.sub("", base).rstrip("-_")
        if trimmed:
            candidates.append(trimmed)
    else:
        normalised = normalise_name(name)
        candidates.append(normalised)
        # "Microsoft Teams" by Microsoft is product "teams"; "Google Chrome" is "chrome".
        for vendor in normalise_vendor(software.vendor) + _bundle_vendor(software.bundle_identifier):
            prefix = vendor + "_"
            if normalised.startswith(prefix) and len(normalised) > len(prefix):
                candidates.append(normalised[len(prefix) :])
        if source == "apps" and software.bundle_identifier:
            candidates.append(software.bundle_identifier.rsplit(".", 1)[-1].lower())
        words = normalised.split("_")
        if len(words) > 1:
            candidates.append(words[-1])
            candidates.append("".join(words))
    return [quote_component(candidate) for candidate in dict.fromkeys(c for c in candidates if c)]


def vendor_hints(software: SoftwareToMatch) -> list[str]:
    """What the software says about its vendor, as dictionary vendor names, best first."""
    hints = _bundle_vendor(software.bundle_identifier) + normalise_vendor(software.vendor)
    return [quote_component(hint) for hint in dict.fromkeys(hints)]


def choose_cpe(
    software: SoftwareToMatch,
    vendors_by_product: Mapping[str, Sequence[str]],
    target_sws: Mapping[str, Collection[str]],
) -> str:
    """The CPE for the software, or "" when the dictionary has nothing that fits.

    ``vendors_by_product`` maps a dictionary product to the vendors that publish one of that
    name (most entries first); ``target_sws`` maps ``vendor:product`` to the target_sw values
    its dictionary entries carry.
    """
    version = quote_component(software.version)
    translated = translate(software)
    if translated is not None:
        vendor, product, target_sw = translated
        return format_cpe(CPE("a", vendor, product, version, target_sw=target_sw))
    target_sw = TARGET_SW_BY_SOURCE.get(software.source, ANY)
    hints = vendor_hints(software)
    for product in product_candidates(software):
        vendors = vendors_by_product.get(product)
        if not vendors:
            continue
        if target_sw != ANY:
            # An ecosystem package only matches the dictionary entries of that ecosystem.
            vendors = [v for v in vendors if target_sw in target_sws.get(f"{v}:{product}", ())]
            if not vendors:
                continue
        chosen = _pick_vendor(product, vendors, hints)
        if chosen is not None:
            return format_cpe(CPE("a", chosen, product, version, target_sw=target_sw))
    return ""


def _pick_vendor(product: str, vendors: Sequence[str], hints: Sequence[str]) -> str | None:
    for hint in hints:
        if hint in vendors:
            return hint
    if product in vendors:  # openssl:openssl, git-scm aside the usual case
        return product
    if len(vendors) == 1:
        return vendors[0]
    return None


@attrs.frozen
class VersionRange:
    """A cpeMatch's version bounds; None where the feed gives none."""

    start_including: str | None = None
    start_excluding: str | None = None
    end_including: str | None = None
    end_excluding: str | None = None


def version_matches(version: str, criterion_version: str, bounds: VersionRange) -> bool:
    """Whether a software version satisfies a cpeMatch: inside its bounds when it has any,
    else equal to the criterion's own version (``*`` takes every version, ``-`` none)."""
    return version_matches_bounds(
        version, criterion_version,
        bounds.start_including, bounds.start_excluding, bounds.end_including, bounds.end_excluding,
    )


def version_matches_bounds(
    version: str,
    criterion_version: str,
    start_including: str | None,
    start_excluding: str | None,
    end_including: str | None,
    end_excluding: str | None,
) -> bool:
    """version_matches over the four bounds as they are stored (the index's hot loop)."""
    if not version:
        return False
    if start_including is None and start_excluding is None and end_including is None and end_excluding is None:
        if criterion_version in (ANY, ""):
            return True
        if criterion_version == NOT_APPLICABLE:
            return False
        fixed = _unquote(criterion_version)
        return _key(version, fixed) == version_key(fixed)
    if start_including is not None and _key(version, start_including) < version_key(start_including):
        return False
    if start_excluding is not None and _key(version, start_excluding) <= version_key(start_excluding):
        return False
    if end_including is not None and _key(version, end_including) > version_key(end_including):
        return False
    return not (end_excluding is not None and _key(version, end_excluding) >= version_key(end_excluding))


def _unquote(value: str) -> str:
    return value.replace("\\", "") if "\\" in value else value


def _key(version: str, bound: str) -> VersionKey:
    # NVD writes no epochs: a package's epoch says nothing about the upstream release.
    if ":" in version and ":" not in bound:
        return version_key(without_epoch(version))
    return version_key(version)
