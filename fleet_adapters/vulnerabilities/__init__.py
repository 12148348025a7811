"""The vulnerability feed engine: NVD's CVE and CPE files, FIRST's EPSS scores and CISA's
catalogue, downloaded into the databases path (sync.py), parsed (nvd.py, cpe_dictionary.py,
epss.py, cisa.py), indexed (index.py) and served through the VulnerabilityFeed port (feed.py)."""

from fleet_adapters.vulnerabilities.feed import NvdVulnerabilityFeed

__all__ = ["NvdVulnerabilityFeed"]
