"""What the software inventory list and count are filtered by (the titles are model.hosts.Software)."""

from __future__ import annotations

import attrs


@attrs.frozen
class SoftwareFilter:
    """Which software to list: only software installed on at least one matching host is listed,
    and hosts_count counts the matching hosts. None means "not filtered"."""

    team_id: int | None = None
    no_team: bool = False  # team_id=0 in the API: software on hosts in no team
    # Team visibility of the caller: None sees every host; otherwise only hosts of these teams.
    visible_team_ids: frozenset[int] | None = None
    # Text search on name and version (substring, case-insensitive).
    query: str = ""
    # Only software with detected vulnerabilities; there is no vulnerability feed, so nothing matches.
    vulnerable: bool = False
