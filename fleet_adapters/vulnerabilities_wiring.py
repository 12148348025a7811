"""Where the composition root gets the vulnerability feed engine from.

The engine (NVD/EPSS/CISA files under the databases path) implements
fleet_core.ports.vulnerability_feeds.VulnerabilityFeed; until it is wired in here, the feed is
a placeholder whose every call raises Unavailable, which the vulnerability job logs and skips.
"""

from __future__ import annotations

import attrs

from fleet_core.errors import Unavailable
from fleet_core.model.vulnerability_settings import VulnerabilitiesConfig
from fleet_core.ports.vulnerability_feeds import VulnerabilityFeed, VulnerabilityIndex


@attrs.frozen
class NoVulnerabilityFeed:
    settings: VulnerabilitiesConfig

    async def sync(self) -> None:
        raise Unavailable("no vulnerability feed engine")

    async def load(self) -> VulnerabilityIndex:
        raise Unavailable("no vulnerability feed engine")


def build_vulnerability_feed(settings: VulnerabilitiesConfig) -> VulnerabilityFeed:
    """The feed the vulnerability job uses (the one place that chooses the engine)."""
    return NoVulnerabilityFeed(settings)
