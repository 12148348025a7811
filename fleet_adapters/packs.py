"""The pack source used until queries, packs and schedules exist (their capability fills it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet_core.model.hosts import Host


class EmptyPackSource:
    """No scheduled queries yet: every host's config has no packs."""

    async def packs_for_host(self, host: Host) -> Mapping[str, Any]:
        return {}
