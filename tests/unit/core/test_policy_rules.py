"""Which policies a host answers (global and its team's, by platform family), and what an answer
records (osquery-protocol §2.7)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.policies import Policy
from fleet_core.rules.detail.base import LINUX_PLATFORMS
from fleet_core.rules.policies import (
    POLICY_PLATFORMS,
    applies_to,
    normalized_platform,
    platform_family,
    policies_for_host,
    response_of,
    result_of,
    targets_platform,
)

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HOST_PLATFORMS = sorted(LINUX_PLATFORMS | {"darwin", "windows", "chrome", "freebsd", ""})
host_platforms = st.sampled_from(HOST_PLATFORMS)
platform_lists = st.lists(st.sampled_from(sorted(POLICY_PLATFORMS)), unique=True, max_size=4)
team_ids = st.none() | st.integers(min_value=1, max_value=4)


@st.composite
def policies(draw: st.DrawFn) -> list[Policy]:
    drawn = draw(st.lists(st.tuples(team_ids, platform_lists), max_size=12))
    return [Policy(id=i + 1, name=f"p{i}", query="SELECT 1", created_at=AT, updated_at=AT, team_id=team,
                   platform=",".join(platforms)) for i, (team, platforms) in enumerate(drawn)]


@given(policies(), team_ids, host_platforms)
def test_a_host_answers_global_and_own_team_policies_for_its_platform_family(
        all_policies: list[Policy], team_id: int | None, platform: str) -> None:
    chosen = policies_for_host(all_policies, team_id=team_id, platform=platform)

    family = "linux" if platform in LINUX_PLATFORMS else platform
    expected = [p for p in all_policies
                if p.team_id in (None, team_id) and (not p.platform or family in p.platform.split(","))]
    assert chosen == expected
    # Never another team's policy; a host in no team gets only global ones.
    assert all(p.team_id is None or p.team_id == team_id for p in chosen)
    if team_id is None:
        assert all(p.team_id is None for p in chosen)


@given(policies(), team_ids, host_platforms)
def test_a_policy_for_every_platform_applies_to_every_host_of_its_scope(
        all_policies: list[Policy], team_id: int | None, platform: str) -> None:
    for policy in all_policies:
        if not policy.platform and policy.team_id in (None, team_id):
            assert applies_to(policy, team_id=team_id, platform=platform)


@given(st.sampled_from(sorted(LINUX_PLATFORMS)))
def test_every_linux_distribution_is_the_linux_family(distribution: str) -> None:
    assert platform_family(distribution) == "linux"
    assert targets_platform("linux", distribution)
    assert targets_platform("windows, linux", distribution)
    assert not targets_platform("darwin,windows,chrome", distribution)


def test_other_platforms_are_their_own_family() -> None:
    assert [platform_family(p) for p in ("darwin", "windows", "chrome")] == ["darwin", "windows", "chrome"]
    assert not targets_platform("darwin", "windows")
    assert not targets_platform("linux", "freebsd")
    assert targets_platform("", "freebsd")


@given(st.integers(min_value=-5, max_value=5), st.lists(st.dictionaries(st.text(max_size=3), st.text(max_size=3)),
                                                         max_size=3))
def test_an_answer_passes_with_rows_fails_without_and_is_null_when_the_query_failed(
        status: int, rows: list[dict[str, str]]) -> None:
    recorded = result_of(status, rows)
    if status != 0:
        assert recorded is None
    else:
        assert recorded is (len(rows) > 0)


@given(st.none() | st.booleans(), st.booleans())
def test_the_api_response_is_pass_fail_or_empty(passes: bool | None, answered: bool) -> None:
    response = response_of(passes, answered)
    if not answered or passes is None:
        assert response == ""
    else:
        assert response == ("pass" if passes else "fail")


@given(platform_lists, st.lists(st.sampled_from([" ", ""]), max_size=2))
def test_known_platform_lists_normalise_and_unknown_ones_are_rejected(platforms: list[str],
                                                                     blanks: list[str]) -> None:
    raw = ",".join([f" {p} " for p in platforms] + blanks)
    assert normalized_platform(raw) == ",".join(platforms)
    assert normalized_platform(raw + ",ubuntu") is None
