"""LabelRepository contract (fleet_core.ports): built-in labels, look-ups, membership results."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound
from fleet_core.model.hosts import HostFilter, Label
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.paging import Direction, ListOptions

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
        host = (await uow.hosts.enroll(osquery_host_id="h1", node_key_hash="k1", team_id=None, at=at, fields={})).host
        await uow.labels.record_results(host.id, {2: True, 3: True, 4: True}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert [label.id for label in await uow.host_inventory.labels(host.id)] == [1, 2, 3, 4]
        # False (no rows) and None (the query failed) both end the membership; unknown labels
        # are ignored, as are unknown hosts.
        await uow.labels.record_results(host.id, {2: False, 3: None, 999: True}, at)
        await uow.labels.record_results(host.id + 100, {2: True}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert [label.id for label in await uow.host_inventory.labels(host.id)] == [1, 4]
        assert await uow.host_inventory.ids(HostFilter(label_id=4), now=at) == [host.id]
        assert await uow.host_inventory.ids(HostFilter(label_id=2), now=at) == []


async def test_recording_a_membership_twice_keeps_one(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host = (await uow.hosts.enroll(osquery_host_id="h1", node_key_hash="k1", team_id=None, at=at, fields={})).host
        await uow.labels.record_results(host.id, {5: True}, at)
        await uow.labels.record_results(host.id, {5: True}, at + dt.timedelta(minutes=1))
        await uow.commit()

    async with uow_factory() as uow:
        assert [label.id for label in await uow.host_inventory.labels(host.id)] == [1, 5]
        assert await uow.host_inventory.count(HostFilter(label_id=5), now=at) == 1


async def _label(uow_factory: UnitOfWorkFactory, at: dt.datetime, name: str, *, query: str = "SELECT 1;",
                 membership_type: str = "dynamic") -> Label:
    async with uow_factory() as uow:
        label = await uow.labels.add(name=name, description=f"{name} hosts", query=query, platform="",
                                     membership_type=membership_type, at=at)
        await uow.commit()
    return label


async def test_an_added_label_is_regular_and_readable_by_id_and_name(uow_factory: UnitOfWorkFactory,
                                                                     at: dt.datetime) -> None:
    label = await _label(uow_factory, at, "Ubuntu hosts")

    async with uow_factory() as uow:
        by_id = await uow.labels.get(label.id)
        by_name = await uow.labels.get_by_name("Ubuntu hosts")
        missing = await uow.labels.get_by_name("ubuntu hosts")

    assert label.id > 8
    assert (label.label_type, label.label_membership_type, label.created_at, label.updated_at) == (
        "regular", "dynamic", at, at)
    assert by_id == label and by_name == label
    assert missing is None


async def test_label_names_are_unique(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    await _label(uow_factory, at, "dupe")
    other = await _label(uow_factory, at, "other")

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.labels.add(name="dupe", description="", query="SELECT 2;", platform="",
                                 membership_type="dynamic", at=at)
        with pytest.raises(AlreadyExists):
            await uow.labels.update(other.id, name="macOS", description="", query="SELECT 1;", platform="", at=at)
        # The unit of work stays usable after a refused write.
        assert await uow.labels.get_by_name("other") == other


async def test_list_pages_orders_and_searches(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    await _label(uow_factory, at, "zeta")
    await _label(uow_factory, at, "Alpha")

    async with uow_factory() as uow:
        everything = await uow.labels.list(ListOptions(per_page=100))
        by_name = await uow.labels.list(ListOptions(per_page=3, order_key="name", order_direction=Direction.DESC))
        second_page = await uow.labels.list(ListOptions(page=1, per_page=4))
        searched = await uow.labels.list(ListOptions(query="ALP"))
        with pytest.raises(InvalidArgument):
            await uow.labels.list(ListOptions(order_key="nope"))

    assert [label.name for label in everything] == [*BUILTIN_NAMES, "zeta", "Alpha"]
    assert [label.name for label in by_name] == ["zeta", "Ubuntu Linux", "Red Hat Linux"]
    assert [label.id for label in second_page] == [5, 6, 7, 8]
    assert [label.name for label in searched] == ["Alpha"]


async def test_a_new_dynamic_label_is_sent_but_a_manual_one_is_not(uow_factory: UnitOfWorkFactory,
                                                                   at: dt.datetime) -> None:
    dynamic = await _label(uow_factory, at, "dyn")
    manual = await _label(uow_factory, at, "man", query="", membership_type="manual")

    async with uow_factory() as uow:
        ids = [label.id for label in await uow.labels.dynamic()]

    assert dynamic.id in ids
    assert manual.id not in ids


async def test_changing_the_query_ends_memberships_but_renaming_does_not(uow_factory: UnitOfWorkFactory,
                                                                         at: dt.datetime) -> None:
    label = await _label(uow_factory, at, "dyn")
    later = at + dt.timedelta(minutes=5)
    async with uow_factory() as uow:
        host = (await uow.hosts.enroll(osquery_host_id="h1", node_key_hash="k1", team_id=None, at=at, fields={})).host
        await uow.labels.record_results(host.id, {label.id: True}, at)
        renamed = await uow.labels.update(label.id, name="renamed", description="d", query="SELECT 1;",
                                          platform="", at=later)
        assert await uow.labels.member_ids(label.id) == [host.id]
        changed = await uow.labels.update(label.id, name="renamed", description="d", query="SELECT 2;",
                                          platform="", at=later)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.labels.member_ids(label.id) == []
        assert await uow.labels.get(label.id) == changed
        with pytest.raises(NotFound):
            await uow.labels.update(999, name="x", description="", query="SELECT 1;", platform="", at=at)

    assert (renamed.name, renamed.description, renamed.updated_at, renamed.created_at) == ("renamed", "d", later, at)
    assert changed.query == "SELECT 2;"


async def test_manual_members_are_replaced_and_deleting_drops_them(uow_factory: UnitOfWorkFactory,
                                                                   at: dt.datetime) -> None:
    label = await _label(uow_factory, at, "man", query="", membership_type="manual")
    async with uow_factory() as uow:
        ids = [(await uow.hosts.enroll(osquery_host_id=f"h{i}", node_key_hash=f"k{i}", team_id=None, at=at,
                                       fields={})).host.id for i in range(3)]
        await uow.labels.set_members(label.id, [ids[0], ids[1], 9999], at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.labels.member_ids(label.id) == ids[:2]
        await uow.labels.set_members(label.id, [ids[2], ids[1]], at)
        assert await uow.labels.member_ids(label.id) == ids[1:]
        assert await uow.host_inventory.ids(HostFilter(label_id=label.id), now=at) == ids[1:]
        with pytest.raises(NotFound):
            await uow.labels.set_members(999, ids, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.labels.delete(label.id) is True
        assert await uow.labels.delete(label.id) is False
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.labels.get(label.id) is None
        assert await uow.labels.member_ids(label.id) == []
        assert [lb.id for lb in await uow.host_inventory.labels(ids[1])] == [1]


async def test_hosts_are_counted_for_many_labels_at_once(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await uow.teams.add(name="mgmt-count", description="", at=at)
        in_team = (await uow.hosts.enroll(osquery_host_id="c1", node_key_hash="kc1", team_id=team.id, at=at,
                                          fields={})).host
        no_team = (await uow.hosts.enroll(osquery_host_id="c2", node_key_hash="kc2", team_id=None, at=at,
                                          fields={})).host
        await uow.labels.record_results(in_team.id, {2: True, 3: True}, at)
        await uow.labels.record_results(no_team.id, {2: True}, at)
        await uow.commit()

    async with uow_factory() as uow:
        everyone = await uow.host_inventory.count_by_label([2, 3, 5, 999], visible_team_ids=None)
        team_view = await uow.host_inventory.count_by_label([2, 3], visible_team_ids=frozenset({team.id}))
        nobody = await uow.host_inventory.count_by_label([2], visible_team_ids=frozenset())
        one_by_one = {label_id: await uow.host_inventory.count(HostFilter(label_id=label_id), now=at)
                      for label_id in (2, 3, 5, 999)}
    assert everyone == one_by_one == {2: 2, 3: 1, 5: 0, 999: 0}
    assert team_view == {2: 1, 3: 1}
    assert nobody == {2: 0}
    async with uow_factory() as uow:
        assert await uow.host_inventory.count_by_label([], visible_team_ids=None) == {}
