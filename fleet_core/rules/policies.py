"""Which policies a host answers, and what its answer means (osquery-protocol §2.7).

A host gets the global policies and those of its own team, each only when the policy targets
every platform ("") or the host's Fleet platform family: darwin, windows, chrome, or linux for
every Linux distribution osquery reports (ubuntu, rhel, debian, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fleet_core.model.policies import Policy
from fleet_core.rules.detail.base import LINUX_PLATFORMS

# The platforms a policy may target.
POLICY_PLATFORMS = frozenset({"darwin", "windows", "linux", "chrome"})
PASS, FAIL, NO_RESPONSE = "pass", "fail", ""


def platform_family(host_platform: str) -> str:
    """The Fleet platform of an osquery platform: linux for every Linux distribution, else the
    platform itself (darwin, windows, chrome, or something no policy can target)."""
    return "linux" if host_platform in LINUX_PLATFORMS else host_platform


def targets_platform(policy_platform: str, host_platform: str) -> bool:
    """Whether a policy's platform list ("" for all) includes the host's platform family."""
    wanted = {p.strip() for p in policy_platform.split(",") if p.strip()}
    return not wanted or platform_family(host_platform) in wanted


def applies_to(policy: Policy, *, team_id: int | None, platform: str) -> bool:
    """Whether a host in this team (None: no team) on this platform answers the policy."""
    return (policy.team_id is None or policy.team_id == team_id) and targets_platform(policy.platform, platform)


def policies_for_host(policies: Iterable[Policy], *, team_id: int | None, platform: str) -> list[Policy]:
    """The policies a host answers, in the given order."""
    return [p for p in policies if applies_to(p, team_id=team_id, platform=platform)]


def result_of(status: int, rows: Sequence[object]) -> bool | None:
    """What one policy answer records: failed run → None; ≥1 row → pass (True); 0 rows → fail."""
    if status != 0:
        return None
    return bool(rows)


def response_of(passes: bool | None, answered: bool) -> str:
    """The API's "response" of a host to a policy: "pass", "fail", or "" when not answered or
    when the query errored."""
    if not answered or passes is None:
        return NO_RESPONSE
    return PASS if passes else FAIL


def normalized_platform(platform: str) -> str | None:
    """The comma-separated platforms without blanks or repeats ("" for all), or None if one is
    unknown."""
    platforms = list(dict.fromkeys(p.strip() for p in platform.split(",") if p.strip()))
    if any(p not in POLICY_PLATFORMS for p in platforms):
        return None
    return ",".join(platforms)
