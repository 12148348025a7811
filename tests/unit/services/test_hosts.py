"""Host expiry and the host cache's invalidation across the services."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.authz import Viewer
from fleet_core.errors import NodeInvalid
from fleet_core.rules.paging import ListOptions
from fleet_core.services.agents import QueryResult

pytestmark = pytest.mark.anyio


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
    assert after["options"] == {"distributed_interval": 7}


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
