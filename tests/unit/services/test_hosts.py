"""Host expiry, the host cache's invalidation across the services, and pages of hosts."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from fleet_adapters.memory import InMemoryKit, InMemoryUnitOfWork, MovableClock
from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument, NodeInvalid, NotFound
from fleet_core.model.host_aggregates import MDMSolution
from fleet_core.model.hosts import DeviceMapping, HostFacts, HostFilter, MDMInfo, SoftwareItem
from fleet_core.model.policies import Policy
from fleet_core.model.runtime import AgentSettings
from fleet_core.rules.carves import carver_options
from fleet_core.rules.paging import ListOptions
from fleet_core.services.agents import QueryResult
from fleet_core.services.hosts import HostService

pytestmark = pytest.mark.anyio

# Every agent configuration points the carver at the server (fleet_core.rules.carves).
CARVER_OPTIONS = carver_options(AgentSettings().carver_block_size)


async def enroll(kit: InMemoryKit, identifier: str) -> str:
    async with kit.store.unit_of_work() as uow:
        if not await uow.enroll_secrets.all():
            await uow.enroll_secrets.replace(None, ["s3cret"], kit.clock.now())
            await uow.commit()
    return await kit.services.agents.enroll(enroll_secret="s3cret", host_identifier=identifier, host_details={})


async def test_hosts_unseen_past_the_expiry_window_are_deleted_and_recorded(kit: InMemoryKit, admin: Viewer,
                                                                            clock: MovableClock) -> None:
    stale_key = await enroll(kit, "stale")
    clock.advance(dt.timedelta(days=20))
    fresh_key = await enroll(kit, "fresh")
    assert await kit.services.hosts.expire() == []  # disabled by default
    await kit.services.config.modify(admin, {"host_expiry_settings": {"host_expiry_enabled": True,
                                                                      "host_expiry_window": 15}})
    deleted = await kit.services.hosts.expire()
    assert len(deleted) == 1
    with pytest.raises(NodeInvalid):
        await kit.services.agents.authenticate(stale_key)
    await kit.services.agents.authenticate(fresh_key)
    activity = (await kit.services.activities.list(admin, ListOptions(order_key="id", order_direction="desc")))[0]
    assert (activity.type, activity.details) == ("expired_hosts", {"host_ids": deleted, "host_expiry_window": 15})


async def test_a_cached_host_is_dropped_when_it_is_deleted(kit: InMemoryKit, admin: Viewer) -> None:
    node_key = await enroll(kit, "cached")
    host = await kit.services.agents.authenticate(node_key)  # now cached
    await kit.services.hosts.delete(admin, host.id)
    with pytest.raises(NodeInvalid):
        await kit.services.agents.authenticate(node_key)


async def test_a_refetch_reaches_the_cached_host(kit: InMemoryKit, admin: Viewer) -> None:
    node_key = await enroll(kit, "refetch")
    host = await kit.services.agents.authenticate(node_key)
    await kit.services.agents.distributed_write(host, {})
    async with kit.store.unit_of_work() as uow:
        await uow.hosts.apply_facts(host.id, await _no_facts(), at=kit.clock.now(), details_updated=True,
                                    labels_updated=True, policies_updated=True, clear_refetch=True)
        await uow.commit()
    await kit.services.bus.publish([host.id])
    quiet = await kit.services.agents.distributed_read(await kit.services.agents.authenticate(node_key))
    assert quiet.queries == {}
    await kit.services.hosts.refetch(admin, host.id)
    busy = await kit.services.agents.distributed_read(await kit.services.agents.authenticate(node_key))
    assert "fleet_detail_query_os_version" in busy.queries


async def _no_facts():  # type: ignore[no-untyped-def]
    from fleet_core.model.hosts import HostFacts

    return HostFacts()


async def test_concurrent_check_ins_of_one_agent_share_one_lookup(kit: InMemoryKit) -> None:
    import asyncio

    node_key = await enroll(kit, "twins")
    lookups = 0
    original = kit.store.unit_of_work

    def counting_uow():  # type: ignore[no-untyped-def]
        nonlocal lookups
        lookups += 1
        return original()

    object.__setattr__(kit.services.agents, "uow", counting_uow)
    hosts = await asyncio.gather(*(kit.services.agents.authenticate(node_key) for _ in range(5)))
    assert len({h.id for h in hosts}) == 1
    assert lookups == 1
    await kit.services.agents.authenticate(node_key)
    assert lookups == 1  # cached


async def test_a_config_change_reaches_the_cached_agent_config(kit: InMemoryKit, admin: Viewer) -> None:
    node_key = await enroll(kit, "configured")
    host = await kit.services.agents.authenticate(node_key)
    before = await kit.services.agents.config(host)
    assert before["options"]["distributed_interval"] == 10
    await kit.services.config.modify(admin, {"agent_options": {"config": {"options": {"distributed_interval": 7}}}})
    after = await kit.services.agents.config(await kit.services.agents.authenticate(node_key))
    assert after["options"] == {**CARVER_OPTIONS, "distributed_interval": 7}


def test_check_ins_that_could_not_be_written_wait_for_the_next_flush_without_hiding_newer_ones() -> None:
    from fleet_core.services.agents import SeenBuffer

    buffer = SeenBuffer()
    early, late = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    buffer.record(1, early)
    buffer.record(2, early)
    failed = buffer.take()
    buffer.record(2, late)  # checked in again while the flush was failing
    buffer.restore(failed)
    assert buffer.take() == {1: early, 2: late}


async def test_a_new_label_is_asked_at_the_next_check_in_and_a_manual_one_never(kit: InMemoryKit,
                                                                                admin: Viewer) -> None:
    node_key = await enroll(kit, "labelled")
    host = await kit.services.agents.authenticate(node_key)
    async with kit.store.unit_of_work() as uow:
        await uow.hosts.apply_facts(host.id, await _no_facts(), at=kit.clock.now(), details_updated=True,
                                    labels_updated=True, policies_updated=True, clear_refetch=True)
        await uow.commit()
    await kit.services.bus.publish([host.id])
    quiet = await kit.services.agents.distributed_read(await kit.services.agents.authenticate(node_key))
    assert quiet.queries == {}
    kit.clock.advance(dt.timedelta(seconds=1))  # type: ignore[attr-defined]
    dynamic = await kit.services.labels.create(admin, name="Dynamic", query="SELECT 1 FROM osquery_info;")
    manual = await kit.services.labels.create(admin, name="Manual", host_ids=[host.id])
    asked = await kit.services.agents.distributed_read(await kit.services.agents.authenticate(node_key))
    assert set(asked.queries) == {f"fleet_label_query_{dynamic.label.id}"}
    assert f"fleet_label_query_{manual.label.id}" not in asked.queries


async def test_a_membership_ends_when_the_host_no_longer_evaluates_the_label(kit: InMemoryKit,
                                                                             admin: Viewer) -> None:
    # A reinstalled machine reports a new platform: its old platform's labels are never asked
    # again, so the next label answers must end those memberships rather than keep them forever.
    node_key = await enroll(kit, "reinstalled")
    host = await kit.services.agents.authenticate(node_key)
    ubuntu = await kit.services.labels.create(admin, name="Ubuntu only", query="SELECT 1;", platform="ubuntu")
    darwin = await kit.services.labels.create(admin, name="Darwin only", query="SELECT 1;", platform="darwin")
    await kit.services.agents.distributed_write(host, {
        "fleet_detail_query_os_version": QueryResult(rows=[{"platform": "ubuntu", "name": "Ubuntu",
                                                            "version": "22.04", "major": "22", "minor": "4"}]),
    })
    host = await kit.services.agents.authenticate(node_key)
    assert host.platform == "ubuntu"
    one_row = QueryResult(rows=[{"1": "1"}])
    await kit.services.agents.distributed_write(host, {f"fleet_label_query_{ubuntu.label.id}": one_row})
    async with kit.store.unit_of_work() as uow:
        assert await uow.labels.member_ids(ubuntu.label.id) == [host.id]

    await kit.services.agents.distributed_write(host, {
        "fleet_detail_query_os_version": QueryResult(rows=[{"platform": "darwin", "name": "macOS",
                                                            "version": "14.1", "major": "14", "minor": "1"}]),
        f"fleet_label_query_{darwin.label.id}": one_row,
    })
    async with kit.store.unit_of_work() as uow:
        assert await uow.labels.member_ids(ubuntu.label.id) == []
        assert await uow.labels.member_ids(darwin.label.id) == [host.id]


# ---- pages of hosts: one service call, one unit of work --------------------------------------

def counted_hosts(kit: InMemoryKit) -> tuple[HostService, list[None]]:
    """The kit's host service, noting every unit of work it opens."""
    opened: list[None] = []

    def unit_of_work() -> InMemoryUnitOfWork:
        opened.append(None)
        return kit.store.unit_of_work()

    return attrs.evolve(kit.services.hosts, uow=unit_of_work), opened


async def inventoried_fleet(kit: InMemoryKit) -> dict[str, int]:
    """web: a device mapping, a failing policy, some software and an MDM; db: nothing."""
    at = kit.clock.now()
    async with kit.store.unit_of_work() as uow:
        web = (await uow.hosts.enroll(osquery_host_id="web", node_key_hash="k-web", team_id=None, at=at,
                                      fields={"hostname": "web"})).host
        db = (await uow.hosts.enroll(osquery_host_id="db", node_key_hash="k-db", team_id=None, at=at,
                                     fields={"hostname": "db"})).host
        await uow.hosts.apply_facts(web.id, HostFacts(
            device_mapping=(DeviceMapping(email="ada@example.com", source="custom"),),
            software=(SoftwareItem(name="nginx", version="1.25", source="deb_packages"),),
            mdm=MDMInfo(enrolled=True, server_url="https://mdm.example.com", name="Fleet"),
        ), at=at)
        uow.policies.state.policies[1] = Policy(id=1, name="nginx up", query="SELECT 1;", created_at=at, updated_at=at)
        await uow.policies.record_results(web.id, {1: False}, at)
        software_id = (await uow.host_inventory.software(web.id))[0].id
        mdm_id = (await uow.host_aggregates.mdm_solutions(HostFilter()))[0].id
        await uow.commit()
    return {"web": web.id, "db": db.id, "software_id": software_id, "mdm_id": mdm_id}


async def test_a_page_of_hosts_is_read_in_one_unit_of_work_with_everything_it_shows(
    kit: InMemoryKit, admin: Viewer
) -> None:
    fleet = await inventoried_fleet(kit)
    hosts, opened = counted_hosts(kit)
    page = await hosts.list_page(admin, HostFilter(software_id=fleet["software_id"], mdm_id=fleet["mdm_id"]),
                                 ListOptions(order_key="hostname"), device_mapping=True)
    assert len(opened) == 1
    assert page.as_of == kit.clock.now()
    assert [(row.host.id, row.device_mapping, row.failing_policies_count) for row in page.hosts] == [
        (fleet["web"], (DeviceMapping(email="ada@example.com", source="custom"),), 1)]
    assert page.software is not None and page.software.name == "nginx"
    assert page.mdm_solution == MDMSolution(id=fleet["mdm_id"], name="Fleet", server_url="https://mdm.example.com",
                                            hosts_count=1)


async def test_a_page_leaves_out_what_it_was_not_asked_for(kit: InMemoryKit, admin: Viewer) -> None:
    fleet = await inventoried_fleet(kit)
    page = await kit.services.hosts.list_page(admin, HostFilter(), ListOptions(order_key="hostname"),
                                              failing_policies=False)
    assert [(row.host.id, row.device_mapping, row.failing_policies_count) for row in page.hosts] == [
        (fleet["db"], None, 0), (fleet["web"], None, 0)]
    assert (page.software, page.mdm_solution) == (None, None)


async def test_after_needs_an_order_key(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await kit.services.hosts.list_page(admin, HostFilter(), ListOptions(), after="web")
    assert raised.value.problems == (("after", "requires order_key"),)


async def test_a_labels_page_is_one_unit_of_work_and_a_missing_label_is_not_found(
    kit: InMemoryKit, admin: Viewer
) -> None:
    fleet = await inventoried_fleet(kit)
    label = await kit.services.labels.create(admin, name="Web", host_ids=[fleet["web"]])
    hosts, opened = counted_hosts(kit)
    page = await hosts.label_page(admin, label.label.id, HostFilter(), ListOptions())
    assert len(opened) == 1
    assert [(row.host.id, row.device_mapping, row.failing_policies_count) for row in page.hosts] == [
        (fleet["web"], None, 0)]
    with pytest.raises(NotFound):
        await hosts.label_page(admin, 999, HostFilter(), ListOptions())


async def test_the_report_reads_device_mappings_only_when_asked(kit: InMemoryKit, admin: Viewer) -> None:
    fleet = await inventoried_fleet(kit)
    hosts, opened = counted_hosts(kit)
    with_emails = await hosts.report(admin, HostFilter(), ListOptions(order_key="hostname"), device_mapping=True)
    without = await hosts.report(admin, HostFilter(), ListOptions(order_key="hostname"), device_mapping=False)
    assert opened == []  # nothing is read until the report is written
    with_rows = [row async for batch in with_emails.batches for row in batch]
    without_rows = [row async for batch in without.batches for row in batch]
    assert len(opened) == 2
    assert [row.device_mapping for row in with_rows] == [
        (), (DeviceMapping(email="ada@example.com", source="custom"),)]
    assert [(row.host.id, row.device_mapping) for row in without_rows] == [(fleet["db"], None), (fleet["web"], None)]


async def test_os_versions_are_filtered_by_name_and_version_together(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await kit.services.hosts.os_versions(admin, team_id=None, name="Ubuntu")
    assert raised.value.problems == (("os_version", "is required when os_name is given"),)
    counts = await kit.services.hosts.os_versions(admin, team_id=None)
    assert (counts.versions, counts.counted_at) == ([], kit.clock.now())


async def test_deleting_by_a_filter_that_narrows_nothing_is_refused(kit: InMemoryKit, admin: Viewer) -> None:
    fleet = await inventoried_fleet(kit)
    with pytest.raises(InvalidArgument) as raised:
        await kit.services.hosts.delete_many(admin, filters=HostFilter())
    assert raised.value.problems == (("filters", "must contain at least one of query, status, label_id or team_id"),)
    assert await kit.services.hosts.delete_many(admin, filters=HostFilter(query="db")) == 1
    assert [row.host.id for row in (await kit.services.hosts.list_page(admin, HostFilter(), ListOptions())).hosts] == [
        fleet["web"]]
