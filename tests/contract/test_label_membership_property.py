"""Label membership follows the last answer of each host, whatever the order and batching of answers.

A property over both storage implementations: any sequence of label result batches, from any hosts,
leaves exactly the hosts whose latest answer for a label was "rows" (True) as its members; "no rows"
(False) and "query failed" (None) both end a membership, and answers for labels that do not exist are
ignored without disturbing the others.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_core.ports import UnitOfWorkFactory

pytestmark = pytest.mark.anyio

HOSTS = 3
UNKNOWN_LABEL = 10_000
_fresh = itertools.count()

answers = st.sampled_from([True, False, None])
# label slot (index into the labels made for the example, or the unknown label) -> answer
batch = st.tuples(
    st.integers(0, HOSTS - 1),
    st.dictionaries(st.integers(-1, 2), answers, max_size=4),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(batch, max_size=12))
async def test_members_are_the_hosts_whose_last_answer_had_rows(
    uow_factory: UnitOfWorkFactory, at: dt.datetime, batches: list[tuple[int, dict[int, bool | None]]],
) -> None:
    # Every example makes its own hosts and labels, so examples sharing one database never interfere.
    run = next(_fresh)
    async with uow_factory() as uow:
        hosts = [
            (await uow.hosts.enroll(osquery_host_id=f"p{run}-{i}", node_key_hash=f"p{run}-{i}", team_id=None,
                                    at=at, fields={})).host.id
            for i in range(HOSTS)
        ]
        labels = [
            (await uow.labels.add(name=f"prop {run} {i}", description="", query="SELECT 1;", platform="",
                                  membership_type="dynamic", at=at)).id
            for i in range(3)
        ]
        await uow.commit()

    expected: dict[tuple[int, int], bool] = {}
    for step, (host_slot, results) in enumerate(batches):
        by_label = {(labels[slot] if slot >= 0 else UNKNOWN_LABEL): answer for slot, answer in results.items()}
        async with uow_factory() as uow:
            await uow.labels.record_results(hosts[host_slot], by_label, at + dt.timedelta(seconds=step))
            await uow.commit()
        for label_id, answer in by_label.items():
            expected[(hosts[host_slot], label_id)] = answer is True

    async with uow_factory() as uow:
        for label_id in labels:
            members = [h for h in await uow.labels.member_ids(label_id) if h in hosts]
            assert members == sorted(h for h in hosts if expected.get((h, label_id), False)), label_id
