"""The hosts filters: which values each takes, which ones combine, and how the API spells them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import HostFilter, HostStatus
from fleet_core.rules.host_filters import (
    MDM_ENROLLMENT_STATUSES,
    bulk_host_filter,
    check_os_name_and_version,
    host_filter,
    is_unfiltered,
)


def problems(**given: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidArgument) as raised:
        host_filter(**given)
    return list(raised.value.problems)


def test_no_parameter_filters_nothing() -> None:
    assert host_filter() == HostFilter()
    assert is_unfiltered(host_filter(query="  ", status="", policy_response="", os_name="", os_version=""))


def test_team_zero_asks_for_the_hosts_in_no_team() -> None:
    assert host_filter(team_id=0) == HostFilter(no_team=True)
    assert host_filter(team_id=3) == HostFilter(team_id=3)


def test_a_policy_filter_needs_both_the_policy_and_the_response() -> None:
    assert problems(policy_id=1) == [("policy_response", "is required when policy_id is given")]
    assert problems(policy_response="passing") == [("policy_id", "is required when policy_response is given")]
    assert problems(policy_id=1, policy_response="maybe") == [("policy_response", "must be passing or failing")]
    assert host_filter(policy_id=1, policy_response="failing").policy_response == "failing"


def test_os_name_and_version_come_together() -> None:
    assert problems(os_name="Ubuntu") == [("os_version", "is required when os_name is given")]
    assert problems(os_version="22.04") == [("os_name", "is required when os_version is given")]
    check_os_name_and_version(None, None)
    check_os_name_and_version("Ubuntu", "22.04")
    with pytest.raises(InvalidArgument):
        check_os_name_and_version("", "22.04")


@given(st.sampled_from(sorted(MDM_ENROLLMENT_STATUSES)))
def test_every_mdm_enrollment_status_is_accepted(status: str) -> None:
    assert host_filter(mdm_enrollment_status=status).mdm_enrollment_status == status


@given(st.text().filter(lambda s: s and s not in MDM_ENROLLMENT_STATUSES))
def test_any_other_mdm_enrollment_status_is_refused(status: str) -> None:
    assert problems(mdm_enrollment_status=status) == [
        ("mdm_enrollment_status", "must be one of manual, automatic or unenrolled")]


@given(st.sampled_from([s.value for s in HostStatus]))
def test_every_host_status_is_a_status_filter(status: str) -> None:
    assert host_filter(status=status).status == HostStatus(status)


@pytest.mark.parametrize("other", [{"policy_id": 1, "policy_response": "passing"}, {"mdm_id": 2},
                                   {"mdm_enrollment_status": "manual"}])
def test_a_label_does_not_combine_with_policy_or_mdm_filters(other: dict[str, Any]) -> None:
    assert problems(label_id=5, **other) == [("label_id", "cannot be used alongside policy or mdm filters")]


def test_every_problem_is_named_at_once() -> None:
    assert [name for name, _ in problems(status="asleep", policy_id=1, os_name="x")] == [
        "status", "policy_response", "os_version"]


def test_a_bulk_filter_names_its_fields_under_filters() -> None:
    with pytest.raises(InvalidArgument) as raised:
        bulk_host_filter(query="", status="asleep", label_id=None, team_id=None)
    assert [name for name, _ in raised.value.problems] == ["filters.status"]
    with pytest.raises(InvalidArgument) as raised:
        bulk_host_filter(query="", status="online", label_id=4, team_id=None)
    assert raised.value.problems == (("filters.label_id", "cannot be used together with status"),)
    assert bulk_host_filter(query=" web ", status="", label_id=None, team_id=0) == HostFilter(query="web", no_team=True)


def test_a_filter_that_narrows_anything_is_not_unfiltered() -> None:
    assert not is_unfiltered(host_filter(team_id=0))
    assert not is_unfiltered(host_filter(query="web"))
    assert not is_unfiltered(host_filter(label_id=1))
