"""Where the composition root gets the vulnerability feed engine from: NVD's CVE and CPE files,
FIRST's EPSS scores and CISA's catalogue kept under the databases path
(fleet_adapters/vulnerabilities)."""

from __future__ import annotations

from pathlib import Path

from fleet_adapters.vulnerabilities.feed import NvdVulnerabilityFeed
from fleet_core.model.vulnerability_settings import VulnerabilitiesConfig
from fleet_core.ports.vulnerability_feeds import VulnerabilityFeed


def build_vulnerability_feed(settings: VulnerabilitiesConfig) -> VulnerabilityFeed:
    """The feed the vulnerability job uses (the one place that chooses the engine)."""
    return NvdVulnerabilityFeed(Path(settings.databases_path),
                                cve_feed_prefix_url=settings.cve_feed_prefix_url,
                                cpe_database_url=settings.cpe_database_url,
                                epss_url=settings.epss_url,
                                cisa_kev_url=settings.cisa_known_exploits_url,
                                disable_data_sync=settings.disable_data_sync)
