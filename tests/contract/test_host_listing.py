"""HostListing contract (fleet_core.ports): a page of hosts with what each row shows beside it."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import DeviceMapping, HostFacts, HostFilter
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.paging import Direction, ListOptions
from tests.contract.test_host_repository import enroll, set_policy_results

pytestmark = pytest.mark.anyio


async def fleet_of_three(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> dict[str, int]:
    """alpha: two device mappings and two failing policies; bravo: one mapping, one passing
    and one errored policy; charlie: nothing."""
    async with uow_factory() as uow:
        ids = {name: await enroll(uow, name, at, hostname=name) for name in ("alpha", "bravo", "charlie")}
        await uow.hosts.apply_facts(ids["alpha"], HostFacts(device_mapping=(
            DeviceMapping(email="z@example.com", source="custom"),
            DeviceMapping(email="a@example.com", source="google_chrome_profiles"),
        )), at=at)
        await uow.hosts.apply_facts(ids["bravo"], HostFacts(device_mapping=(
            DeviceMapping(email="b@example.com", source="custom"),)), at=at)
        await set_policy_results(uow, ids["alpha"], {1: False, 2: False, 3: True}, at)
        await set_policy_results(uow, ids["bravo"], {1: True, 2: None}, at)
        await uow.commit()
    return ids


async def test_a_page_carries_each_hosts_device_mapping_and_failing_policy_count(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    ids = await fleet_of_three(uow_factory, at)
    async with uow_factory() as uow:
        page = await uow.host_listing.page(HostFilter(), ListOptions(order_key="hostname"), now=at,
                                           device_mapping=True, failing_policies=True)
    assert [(row.host.id, row.device_mapping, row.failing_policies_count) for row in page] == [
        (ids["alpha"], (DeviceMapping(email="a@example.com", source="google_chrome_profiles"),
                        DeviceMapping(email="z@example.com", source="custom")), 2),
        (ids["bravo"], (DeviceMapping(email="b@example.com", source="custom"),), 0),
        (ids["charlie"], (), 0),
    ]


async def test_what_a_page_is_not_asked_for_is_left_empty(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    await fleet_of_three(uow_factory, at)
    async with uow_factory() as uow:
        page = await uow.host_listing.page(HostFilter(), ListOptions(order_key="hostname"), now=at)
    assert [(row.host.hostname, row.device_mapping, row.failing_policies_count) for row in page] == [
        ("alpha", None, 0), ("bravo", None, 0), ("charlie", None, 0)]


async def test_a_page_holds_the_hosts_the_repository_lists(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    await fleet_of_three(uow_factory, at)
    options = ListOptions(order_key="hostname", order_direction=Direction.DESC, per_page=1)
    async with uow_factory() as uow:
        listed = await uow.host_inventory.list(HostFilter(query="o"), options, now=at, after="charlie")
        page = await uow.host_listing.page(HostFilter(query="o"), options, now=at, after="charlie",
                                           device_mapping=True, failing_policies=True)
    assert [row.host for row in page] == listed
    assert [row.host.hostname for row in page] == ["bravo"]


async def test_an_empty_page_is_empty(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        assert await uow.host_listing.page(HostFilter(), ListOptions(), now=at, device_mapping=True,
                                           failing_policies=True) == []


async def test_a_page_rejects_what_the_host_list_rejects(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        with pytest.raises(InvalidArgument):
            await uow.host_listing.page(HostFilter(), ListOptions(order_key="id"), now=at, after="not a number")


async def test_a_stream_holds_the_hosts_of_the_page_in_batches(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    await fleet_of_three(uow_factory, at)
    options = ListOptions(order_key="hostname", order_direction=Direction.DESC)
    async with uow_factory() as uow:
        page = await uow.host_listing.page(HostFilter(), options, now=at, device_mapping=True)
        batches = [batch async for batch in uow.host_listing.stream(HostFilter(), options, now=at,
                                                                     device_mapping=True, batch_size=2)]
    assert [len(batch) for batch in batches] == [2, 1]
    assert [row for batch in batches for row in batch] == page
    assert [row.host.hostname for row in page] == ["charlie", "bravo", "alpha"]


async def test_a_stream_of_nothing_has_no_batch(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        assert [batch async for batch in uow.host_listing.stream(HostFilter(), ListOptions(), now=at)] == []


async def test_a_stream_is_filtered_as_the_page_is(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    await fleet_of_three(uow_factory, at)
    async with uow_factory() as uow:
        batches = [batch async for batch in uow.host_listing.stream(HostFilter(query="o"), ListOptions(), now=at)]
    assert [row.host.hostname for batch in batches for row in batch] == ["bravo"]
