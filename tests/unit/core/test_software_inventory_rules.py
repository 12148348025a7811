"""Properties of the software identity rules (fleet_core.rules.software_inventory): the digest of a
host's software answer ignores order and duplicates and changes with anything stored."""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.model.hosts import SoftwareItem
from fleet_core.rules.software_inventory import distinct_software, software_checksum, software_identity

texts = st.text(alphabet="ab1.-", max_size=3)
opened = st.none() | st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 1, 1),
                                  timezones=st.just(dt.UTC))
items = st.builds(SoftwareItem, name=texts, version=texts, source=st.sampled_from(["deb_packages", "apps"]),
                  arch=texts, extension_id=texts, browser=st.sampled_from(["", "chrome", "edge"]),
                  last_opened_at=opened)
answers = st.lists(items, max_size=8)


@given(answers, st.randoms())
def test_the_digest_ignores_order_and_installed_path(answer: list[SoftwareItem], rnd: object) -> None:
    shuffled = list(answer)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    moved = [attrs.evolve(item, installed_path="/elsewhere") for item in shuffled]
    assert software_checksum(answer) == software_checksum(shuffled) == software_checksum(moved)


@given(answers)
def test_distinct_software_keeps_one_item_per_identity_with_the_newest_opening(answer: list[SoftwareItem]) -> None:
    kept = distinct_software(answer)
    assert len({software_identity(i) for i in kept}) == len(kept) == len({software_identity(i) for i in answer})
    for item in kept:
        times = [i.last_opened_at for i in answer
                 if software_identity(i) == software_identity(item) and i.last_opened_at is not None]
        assert item.last_opened_at == (max(times) if times else None)
    assert software_checksum(kept) == software_checksum(answer)


@given(answers, items)
def test_the_digest_changes_when_what_is_stored_changes(answer: list[SoftwareItem], extra: SoftwareItem) -> None:
    before = distinct_software(answer)
    after = distinct_software([*answer, extra])
    stored = {(software_identity(i), i.last_opened_at) for i in before}
    if {(software_identity(i), i.last_opened_at) for i in after} != stored:
        assert software_checksum(after) != software_checksum(before)
    else:
        assert software_checksum(after) == software_checksum(before)
