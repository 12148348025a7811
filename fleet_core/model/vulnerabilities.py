"""Vulnerability data: what the feeds say about a CVE, and which software a CVE applies to.

These values are the contract between the feed engine (fleet_core.ports.vulnerability_feeds,
implemented over NVD/EPSS/CISA files in fleet_adapters) and the software inventory, which stores
the matches (tables software_cve and cve_meta) and shows them in the Software endpoints.
"""

from __future__ import annotations

import datetime as dt

import attrs

NVD_DETAILS_LINK = "https://nvd.nist.gov/vuln/detail/{cve}"


@attrs.frozen
class SoftwareToMatch:
    """One distinct software row as the matcher needs it (model.hosts.Software plus the fields
    only some sources have)."""

    id: int
    name: str
    version: str
    source: str
    vendor: str = ""
    bundle_identifier: str = ""
    release: str = ""
    arch: str = ""
    extension_id: str = ""
    browser: str = ""


@attrs.frozen
class CVEMatch:
    """A CVE that applies to a CPE at a version; ``resolved_in_version`` is the first fixed
    version when the feed's range says (versionEndExcluding), else None."""

    cve: str
    resolved_in_version: str | None = None


@attrs.frozen
class CVEMeta:
    """What the feeds say about one CVE. cvss_score is the v3.1 base score, else v3.0, else v2;
    epss_probability comes from FIRST's EPSS file, cisa_known_exploit from CISA's catalogue
    (None when those files are absent)."""

    cve: str
    cvss_score: float | None = None
    epss_probability: float | None = None
    cisa_known_exploit: bool | None = None
    published: dt.datetime | None = None
    description: str = ""

    @property
    def details_link(self) -> str:
        return NVD_DETAILS_LINK.format(cve=self.cve)


@attrs.frozen
class SoftwareVulnerability:
    """A CVE found on a software row, as the API shows it."""

    cve: str
    cvss_score: float | None = None
    epss_probability: float | None = None
    cisa_known_exploit: bool | None = None
    cve_published: dt.datetime | None = None
    resolved_in_version: str | None = None
    # When the software row was first found vulnerable to this CVE.
    created_at: dt.datetime | None = None

    @property
    def details_link(self) -> str:
        return NVD_DETAILS_LINK.format(cve=self.cve)
