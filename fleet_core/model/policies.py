"""Policies: yes-or-no questions (osquery SQL) asked of hosts, global or owned by a team."""

from __future__ import annotations

import datetime as dt

import attrs


@attrs.frozen
class PolicyFields:
    """What a writer sets on a policy (everything but its team, author and timestamps)."""

    name: str
    query: str
    description: str = ""
    resolution: str = ""
    # Comma-separated Fleet platforms (darwin, windows, linux, chrome); "" targets every host.
    platform: str = ""
    critical: bool = False


@attrs.frozen
class Policy:
    id: int
    name: str
    query: str
    created_at: dt.datetime
    updated_at: dt.datetime
    description: str = ""
    resolution: str = ""
    platform: str = ""
    critical: bool = False
    team_id: int | None = None
    author_id: int | None = None
    # Read from the author's user record; empty once the author is deleted.
    author_name: str = ""
    author_email: str = ""
    # Hosts whose latest answer passed / failed (an errored run counts in neither).
    passing_host_count: int = 0
    failing_host_count: int = 0

    @property
    def fields(self) -> PolicyFields:
        return PolicyFields(name=self.name, query=self.query, description=self.description,
                            resolution=self.resolution, platform=self.platform, critical=self.critical)


@attrs.frozen
class HostPolicy:
    """A policy as one host answered it: "pass", "fail", or "" (not answered yet, or errored)."""

    policy: Policy
    response: str
