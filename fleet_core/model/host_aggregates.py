"""Fleet-wide counts over a set of hosts (the aggregate views of the hosts pages)."""

from __future__ import annotations

import attrs


@attrs.frozen
class MDMSolution:
    """An MDM server the matching enrolled hosts report, with how many report it."""

    id: int
    name: str
    server_url: str
    hosts_count: int


@attrs.frozen
class MunkiVersion:
    version: str
    hosts_count: int


@attrs.frozen
class MunkiIssue:
    id: int
    name: str
    type: str  # "error" or "warning", as Munki reports it
    hosts_count: int
