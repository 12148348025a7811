"""carve/begin size validation: accepted exactly when the sizes describe a sound carve."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.rules.carves import (
    MAX_BLOCK_SIZE,
    MAX_CARVE_SIZE,
    begin_problem,
    carver_options,
    with_carver_options,
)

sizes = st.integers(min_value=-(2**20), max_value=MAX_CARVE_SIZE * 2)


@given(block_count=st.integers(min_value=-10, max_value=2**20), block_size=sizes, carve_size=sizes)
def test_begin_accepts_exactly_the_sound_splits(block_count: int, block_size: int, carve_size: int) -> None:
    sound = (0 < carve_size <= MAX_CARVE_SIZE and 0 < block_size <= MAX_BLOCK_SIZE
             and block_count == -(-carve_size // block_size))
    assert (begin_problem(block_count, block_size, carve_size) is None) == sound


@given(block_size=st.integers(min_value=1, max_value=MAX_BLOCK_SIZE), carve_size=st.integers(1, MAX_CARVE_SIZE))
def test_the_ceiling_block_count_is_always_accepted(block_size: int, carve_size: int) -> None:
    count = -(-carve_size // block_size)
    assert begin_problem(count, block_size, carve_size) is None
    assert begin_problem(count + 1, block_size, carve_size) is not None


def test_carver_options_fill_in_only_what_the_agent_options_leave_out() -> None:
    assert with_carver_options({}, 4096) == {"options": carver_options(4096)}
    mine = {"options": {"carver_block_size": 1, "x": 2}, "packs": {}}
    assert with_carver_options(mine, 4096) == {"packs": {}, "options": {**carver_options(4096), "carver_block_size": 1,
                                                                         "x": 2}}
    assert mine == {"options": {"carver_block_size": 1, "x": 2}, "packs": {}}  # not modified in place
    odd = {"options": ["not", "a", "mapping"]}
    assert with_carver_options(odd, 4096) is odd


def test_the_size_limits_are_parameters() -> None:
    assert begin_problem(1, 9, 9, max_block_size=8) == "block_size exceeds max"
    assert begin_problem(2, 8, 16, max_block_size=8, max_carve_size=15) == "carve_size exceeds max"
    assert begin_problem(2, 8, 16, max_block_size=8, max_carve_size=16) is None
