"""Version order (fleet_core.rules.versions): the schemes packages use, and the order's laws."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.rules.versions import compare_versions, split_version, version_key

ASCENDING = [
    ("1.1.1", "1.1.1a"),
    ("1.1.1a", "1.1.1k"),
    ("1.1.1k", "1.1.1l"),
    ("1.1.1l", "1.1.2"),
    ("1.0~rc1", "1.0"),
    ("1.0~~", "1.0~"),
    ("2.9", "2.10"),
    ("1.0", "1.0.0"),
    ("1.0", "1.0a"),
    ("1.2-3", "1.2-3ubuntu1"),
    ("1.2-3ubuntu1", "1.2-10"),
    ("1.1.1f-1ubuntu2.16", "1.1.1l"),
    ("9:1.0", "10:0.1"),
    ("2.0", "1:0.1"),
    ("4.17.20", "4.17.21"),
    ("108.0.5359.124", "108.0.5359.125"),
    ("3.0.0-alpha", "3.0.0"),
    ("3.0.0-alpha", "3.0.0-beta"),
    ("1.1.1-pre9", "1.1.1"),
    ("2.3.0rc1", "2.3.0"),
]


@pytest.mark.parametrize(("lower", "higher"), ASCENDING)
def test_versions_sort_as_their_schemes_say(lower: str, higher: str) -> None:
    assert compare_versions(lower, higher) == -1
    assert compare_versions(higher, lower) == 1


@pytest.mark.parametrize(("left", "right"), [("1.01", "1.1"), ("0:1.2", "1.2"), ("1.2", "1.2")])
def test_spellings_of_one_version_compare_equal(left: str, right: str) -> None:
    assert compare_versions(left, right) == 0


def test_epoch_upstream_and_revision_are_read_as_dpkg_reads_them() -> None:
    assert split_version("1:2.3-4ubuntu1") == (1, "2.3", "4ubuntu1")
    assert split_version("2.3-4-5") == (0, "2.3-4", "5")
    assert split_version("2.3") == (0, "2.3", "")
    assert split_version("abc:1.0") == (0, "abc:1.0", "")
    assert split_version("3.0.0-beta") == (0, "3.0.0~beta", "")


_ALPHABET = st.sampled_from(list("0123456789.-~:+ab_kz"))
versions = st.text(_ALPHABET, max_size=12) | st.sampled_from([v for pair in ASCENDING for v in pair])


@given(versions)
def test_every_version_equals_itself(version: str) -> None:
    assert compare_versions(version, version) == 0


@given(versions, versions)
def test_comparison_is_antisymmetric(left: str, right: str) -> None:
    assert compare_versions(left, right) == -compare_versions(right, left)


@given(versions, versions, versions)
def test_comparison_is_transitive(a: str, b: str, c: str) -> None:
    ordered = sorted([a, b, c], key=version_key)
    assert compare_versions(ordered[0], ordered[1]) <= 0
    assert compare_versions(ordered[1], ordered[2]) <= 0
    assert compare_versions(ordered[0], ordered[2]) <= 0
    if compare_versions(a, b) <= 0 and compare_versions(b, c) <= 0:
        assert compare_versions(a, c) <= 0


@given(st.lists(st.integers(0, 300), min_size=1, max_size=5), st.lists(st.integers(0, 300), min_size=1, max_size=5))
def test_dotted_numbers_sort_as_number_lists(left: list[int], right: list[int]) -> None:
    expected = (left > right) - (left < right)
    assert compare_versions(".".join(map(str, left)), ".".join(map(str, right))) == expected


@given(versions.filter(lambda v: ":" not in v and "-" not in v))
def test_a_tilde_suffix_sorts_before_the_release_and_a_letter_after(version: str) -> None:
    assert compare_versions(version + "~rc1", version) == -1
    assert compare_versions(version + "a", version) == 1


_NO_EPOCH = versions.filter(lambda v: ":" not in v)


@given(st.integers(0, 5), st.integers(0, 5), _NO_EPOCH, _NO_EPOCH)
def test_a_higher_epoch_wins_whatever_the_rest(e1: int, e2: int, v1: str, v2: str) -> None:
    if e1 != e2:
        assert compare_versions(f"{e1}:{v1}", f"{e2}:{v2}") == (1 if e1 > e2 else -1)
