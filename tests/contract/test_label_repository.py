"""LabelRepository contract (fleet_core.ports): built-in labels, look-ups, membership results."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.model.hosts import HostFilter
from fleet_core.ports import UnitOfWorkFactory

pytestmark = pytest.mark.anyio

BUILTIN_NAMES = ["All Hosts", "macOS", "Ubuntu Linux", "CentOS Linux", "MS Windows", "Red Hat Linux", "All Linux",
                 "chrome"]


async def test_the_builtin_labels_are_fleets_in_a_fixed_order(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        labels = await uow.labels.builtin()

    assert [label.name for label in labels] == BUILTIN_NAMES
    assert [label.id for label in labels] == list(range(1, 9))
    assert {label.label_type for label in labels} == {"builtin"}
    assert {label.label_membership_type for label in labels} == {"dynamic"}
    assert {label.platform for label in labels} == {""}
    by_name = {label.name: label for label in labels}
    assert by_name["All Hosts"].query == "SELECT 1;"
    assert by_name["All Hosts"].description == "All hosts which have enrolled in Fleet"
    assert by_name["Red Hat Linux"].description == "All Red Hat Enterprise Linux hosts"
    assert by_name["macOS"].query == "select 1 from os_version where platform = 'darwin';"


async def test_get_returns_the_label_or_none(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        label = await uow.labels.get(2)
        missing = await uow.labels.get(999)

    assert label is not None and label.name == "macOS"
    assert missing is None


async def test_dynamic_lists_every_dynamic_label_by_id(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        labels = await uow.labels.dynamic()

    assert [label.name for label in labels] == BUILTIN_NAMES


async def test_recorded_results_add_and_remove_memberships(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host, _ = await uow.hosts.enroll(osquery_host_id="h1", node_key_hash="k1", team_id=None, at=at, fields={})
        await uow.labels.record_results(host.id, {2: True, 3: True, 4: True}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert [label.id for label in await uow.hosts.labels(host.id)] == [1, 2, 3, 4]
        # False (no rows) and None (the query failed) both end the membership; unknown labels
        # are ignored, as are unknown hosts.
        await uow.labels.record_results(host.id, {2: False, 3: None, 999: True}, at)
        await uow.labels.record_results(host.id + 100, {2: True}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert [label.id for label in await uow.hosts.labels(host.id)] == [1, 4]
        assert await uow.hosts.ids(HostFilter(label_id=4), now=at) == [host.id]
        assert await uow.hosts.ids(HostFilter(label_id=2), now=at) == []


async def test_recording_a_membership_twice_keeps_one(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host, _ = await uow.hosts.enroll(osquery_host_id="h1", node_key_hash="k1", team_id=None, at=at, fields={})
        await uow.labels.record_results(host.id, {5: True}, at)
        await uow.labels.record_results(host.id, {5: True}, at + dt.timedelta(minutes=1))
        await uow.commit()

    async with uow_factory() as uow:
        assert [label.id for label in await uow.hosts.labels(host.id)] == [1, 5]
        assert await uow.hosts.count(HostFilter(label_id=5), now=at) == 1
