"""List options and the in-memory pagination the SQL adapters must match."""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.errors import InvalidArgument
from fleet_core.rules.paging import Direction, ListOptions, list_options, paginate, require_ids_in_range


@attrs.frozen
class Row:
    id: int
    name: str
    size: int | None


rows = st.lists(
    st.builds(Row, id=st.integers(1, 10_000), name=st.text("abAB", max_size=3),
              size=st.one_of(st.none(), st.integers(0, 3))),
    unique_by=lambda r: r.id, max_size=30,
)


def _page(items: list[Row], options: ListOptions) -> list[Row]:
    return paginate(items, options, lambda r, k: getattr(r, k), tie_breaker=lambda r: r.id,
                    matches=lambda r, q: q in r.name.lower())


@given(items=rows, key=st.sampled_from(["name", "size", "id"]), direction=st.sampled_from(list(Direction)),
       per_page=st.integers(1, 7))
def test_pages_partition_the_ordered_list(items: list[Row], key: str, direction: Direction, per_page: int) -> None:
    whole = _page(items, ListOptions(order_key=key, order_direction=direction))
    pages = []
    for page in range(len(items) // per_page + 2):
        pages.extend(_page(items, ListOptions(page=page, per_page=per_page, order_key=key, order_direction=direction)))
    assert pages == whole
    assert sorted(r.id for r in whole) == sorted(r.id for r in items)


@given(items=rows, key=st.sampled_from(["name", "size"]), direction=st.sampled_from(list(Direction)))
def test_order_is_by_key_then_id_with_nulls_last(items: list[Row], key: str, direction: Direction) -> None:
    ordered = _page(items, ListOptions(order_key=key, order_direction=direction))
    values = [getattr(r, key) for r in ordered]
    present = [v for v in values if v is not None]
    assert values == present + [None] * (len(values) - len(present))
    norm = [v.lower() if isinstance(v, str) else v for v in present]
    assert norm == sorted(norm, reverse=direction is Direction.DESC)
    for a, b in itertools.pairwise(ordered):
        if getattr(a, key) == getattr(b, key) or (isinstance(getattr(a, key), str)
                                                    and getattr(a, key).lower() == getattr(b, key).lower()):
            assert a.id < b.id


@given(items=rows, query=st.text("ab", min_size=1, max_size=2))
def test_query_keeps_only_matches(items: list[Row], query: str) -> None:
    found = _page(items, ListOptions(query=query))
    assert {r.id for r in found} == {r.id for r in items if query in r.name.lower()}


def test_list_options_validate_each_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        list_options(page=-1, per_page=0, order_key="nope", order_direction="up", allowed_keys={"id"})
    assert [name for name, _ in caught.value.problems] == ["page", "per_page", "order_key", "order_direction"]


def test_order_direction_requires_an_order_key() -> None:
    with pytest.raises(InvalidArgument) as caught:
        list_options(order_direction="desc", allowed_keys={"id"})
    assert caught.value.problems[0][0] == "order_direction"


def test_defaults_list_everything_from_the_start() -> None:
    options = list_options(allowed_keys={"id"}, default_key="id")
    assert (options.page, options.order_key, options.order_direction) == (0, "id", Direction.ASC)
    assert options.per_page >= 1_000_000


@pytest.mark.parametrize("team_id", [2**63, -(2**63) - 1, 10**30])
def test_ids_beyond_64_bits_are_refused_by_name(team_id: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        require_ids_in_range(team_id=team_id, label_id=None)
    assert [name for name, _ in caught.value.problems] == ["team_id"]


def test_ids_within_64_bits_pass_whatever_rows_exist() -> None:
    require_ids_in_range(team_id=2**63 - 1, host_id=0, label_id=-(2**63), query_id=None)
