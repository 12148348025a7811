"""The host ports' contracts (fleet_core.ports): HostRepository (enrollment, facts, check-ins),
HostInventoryRepository (filters, listing, details) and HostAggregateRepository (aggregates).

The last test drives the in-memory store and Postgres with random fleets and filters and wants
identical answers: status boundaries (the 60 s buffer, 30 days, 24 hours), NULLS LAST, ties by
id, keyset ``after`` and LIKE wildcards in the search text are where SQL and the rules drift apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryStore
from fleet_adapters.memory.uow import InMemoryUnitOfWork
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound
from fleet_core.model.host_aggregates import MunkiVersion
from fleet_core.model.hosts import (
    NEVER,
    Battery,
    DeviceMapping,
    Host,
    HostFacts,
    HostFilter,
    HostStatus,
    HostUser,
    MDMInfo,
    MunkiInfo,
    SoftwareItem,
)
from fleet_core.model.policies import Policy
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.ordering import HOST_ORDER_KEYS
from fleet_core.rules.paging import Direction, ListOptions

pytestmark = pytest.mark.anyio

MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


async def set_policy_results(uow: UnitOfWork, host_id: int, results: Mapping[int, bool | None],
                             at: dt.datetime) -> None:
    """Store policy results through the policy repository, first creating a policy with each id
    that does not exist yet (the tests name policies by fixed ids)."""
    for policy_id in results:
        if await uow.policies.get(policy_id) is not None:
            continue
        if isinstance(uow, InMemoryUnitOfWork):
            uow.policies.state.policies[policy_id] = Policy(
                id=policy_id, name=f"policy {policy_id}", query="SELECT 1;", created_at=at, updated_at=at)
        else:
            assert isinstance(uow, PgUnitOfWork)
            await uow.hosts._conn.execute(
                "INSERT INTO policies (id, name, query, created_at, updated_at) VALUES (%s, %s, 'SELECT 1;', %s, %s)",
                (policy_id, f"policy {policy_id}", at, at))
    await uow.policies.record_results(host_id, results, at)


async def enroll(uow: UnitOfWork, name: str, at: dt.datetime, *, team_id: int | None = None,
                 **fields: Any) -> int:
    host = (await uow.hosts.enroll(osquery_host_id=name, node_key_hash=f"key-{name}", team_id=team_id, at=at,
                                   fields=fields)).host
    return host.id


async def test_enrolling_a_new_host_creates_it_due_for_everything(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        enrollment = await uow.hosts.enroll(osquery_host_id="abc", node_key_hash="k1", team_id=None, at=at,
                                            fields={"hostname": "box", "platform": "ubuntu",
                                                    "additional": {"a": [1, 2]}})
        host, created = enrollment.host, enrollment.created
        await uow.commit()

    assert created is True
    assert (host.osquery_host_id, host.hostname, host.platform, host.additional) == (
        "abc", "box", "ubuntu", {"a": [1, 2]})
    assert host.created_at == host.updated_at == host.last_enrolled_at == host.seen_time == at
    assert host.detail_updated_at == host.label_updated_at == host.policy_updated_at == NEVER
    assert host.refetch_requested is True
    async with uow_factory() as uow:
        assert await uow.hosts.get(host.id) == host
        assert await uow.hosts.get_by_node_key("k1") == host
        assert await uow.hosts.get_by_osquery_host_id("abc") == host
        assert [label.name for label in await uow.host_inventory.labels(host.id)] == ["All Hosts"]


async def test_reenrolling_keeps_the_row_and_replaces_key_team_and_times(
    uow_factory: UnitOfWorkFactory, at: dt.datetime, add_team: Any
) -> None:
    later = at + DAY
    async with uow_factory() as uow:
        team = await add_team(uow, "Servers")
        first = (await uow.hosts.enroll(osquery_host_id="abc", node_key_hash="k1", team_id=None, at=at,
                                        fields={"hostname": "old"})).host
        await set_policy_results(uow, first.id, {7: True}, at)
        await uow.commit()

    async with uow_factory() as uow:
        enrollment = await uow.hosts.enroll(osquery_host_id="abc", node_key_hash="k2", team_id=team.id,
                                            at=later, fields={"hostname": "new"})
        second, created = enrollment.host, enrollment.created
        await uow.commit()

    assert created is False
    assert second.id == first.id
    assert (second.team_id, second.team_name, second.hostname) == (team.id, "Servers", "new")
    assert (second.created_at, second.last_enrolled_at, second.seen_time) == (at, later, later)
    async with uow_factory() as uow:
        assert await uow.hosts.get_by_node_key("k1") is None
        assert await uow.hosts.get_by_node_key("k2") == second
        assert await uow.host_inventory.ids(HostFilter(policy_id=7), now=later) == []
        assert [label.name for label in await uow.host_inventory.labels(first.id)] == ["All Hosts"]
        assert await uow.host_inventory.count(HostFilter(), now=later) == 1


async def test_enrolling_with_an_unknown_field_is_rejected(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        with pytest.raises(InvalidArgument):
            await uow.hosts.enroll(osquery_host_id="abc", node_key_hash="k", team_id=None, at=at,
                                   fields={"node_key": "x"})


async def test_a_node_key_held_by_another_host_is_refused_and_the_unit_of_work_survives(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        await uow.hosts.enroll(osquery_host_id="a", node_key_hash="same", team_id=None, at=at, fields={})
        with pytest.raises(AlreadyExists):
            await uow.hosts.enroll(osquery_host_id="b", node_key_hash="same", team_id=None, at=at, fields={})
        await uow.hosts.enroll(osquery_host_id="c", node_key_hash="other", team_id=None, at=at, fields={})
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.hosts.get_by_osquery_host_id("b") is None
        assert await uow.host_inventory.count(HostFilter(), now=at) == 2


async def test_enrolling_into_a_missing_team_is_not_found(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.hosts.enroll(osquery_host_id="a", node_key_hash="k", team_id=999, at=at, fields={})


async def test_an_uncommitted_enrollment_is_not_visible(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        await enroll(uow, "ghost", at)

    async with uow_factory() as uow:
        assert await uow.hosts.get_by_osquery_host_id("ghost") is None
        assert await uow.hosts.get_by_node_key("key-ghost") is None


async def test_two_concurrent_enrollments_of_one_identifier_make_one_host(
    uow_factory: UnitOfWorkFactory, at: dt.datetime, wait_for_lock_waiter: Callable[[], Awaitable[None]]
) -> None:
    results: dict[str, tuple[int, bool]] = {}

    async def second() -> None:
        async with uow_factory() as uow:
            enrollment = await uow.hosts.enroll(osquery_host_id="dup", node_key_hash="k2", team_id=None,
                                                at=at + MINUTE, fields={})
            host, created = enrollment.host, enrollment.created
            await uow.commit()
        results["second"] = (host.id, created)

    async with anyio.create_task_group() as tg:
        async with uow_factory() as uow:
            enrollment = await uow.hosts.enroll(osquery_host_id="dup", node_key_hash="k1", team_id=None, at=at,
                                                fields={})
            host, created = enrollment.host, enrollment.created
            results["first"] = (host.id, created)
            tg.start_soon(second)
            await wait_for_lock_waiter()
            await uow.commit()

    assert results["first"] == (results["second"][0], True)
    assert results["second"][1] is False
    async with uow_factory() as uow:
        assert await uow.host_inventory.ids(HostFilter(), now=at) == [results["first"][0]]
        found = await uow.hosts.get_by_node_key("k2")
        assert found is not None and found.last_enrolled_at == at + MINUTE


async def test_unknown_hosts_are_none(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        assert await uow.hosts.get(12345) is None
        assert await uow.hosts.get_by_node_key("nope") is None
        assert await uow.hosts.get_by_osquery_host_id("nope") is None
        assert await uow.hosts.find_by_identifier("nope", node_key_hash="nope") is None
        assert await uow.host_inventory.mdm(12345) is None
        assert await uow.host_inventory.munki(12345) is None
        assert await uow.host_inventory.software(12345) == []


async def test_find_by_identifier_matches_each_identifying_column_and_the_lowest_id_wins(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        a = await enroll(uow, "osq-a", at, uuid="U-1", hostname="alpha", hardware_serial="S-1")
        b = await enroll(uow, "osq-b", at, uuid="U-2", hostname="U-1", hardware_serial="S-2")
        # Never reported any of them: must not match a blank identifier.
        await enroll(uow, "osq-c", at)
        await uow.commit()

    async with uow_factory() as uow:
        async def found(identifier: str, node_key_hash: str = "none") -> int | None:
            host = await uow.hosts.find_by_identifier(identifier, node_key_hash=node_key_hash)
            return None if host is None else host.id

        assert await found("U-1") == a  # a's uuid and b's hostname: the lower id
        assert await found("U-2") == b
        assert await found("osq-b") == b
        assert await found("alpha") == a
        assert await found("S-2") == b
        assert await found("whatever", node_key_hash="key-osq-b") == b
        assert await found("") is None


async def test_applied_facts_update_the_row_and_replace_each_reported_list(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    later = at + DAY
    async with uow_factory() as uow:
        host_id = await enroll(uow, "h", at)
        await uow.hosts.apply_facts(host_id, HostFacts(
            fields={"hostname": "box", "memory": 2**40, "gigs_disk_space_available": 12.5,
                    "last_restarted_at": at - DAY, "os_version": "Ubuntu 22.04.1 LTS", "platform": "ubuntu"},
            users=(HostUser(501, "ann", "person", "staff", "/bin/zsh"),
                   HostUser(uid=0, username="root")),
            software=(SoftwareItem("curl", "8.0", "deb_packages", vendor="Ubuntu"),
                      SoftwareItem("zsh", "5.9", "deb_packages", last_opened_at=at),
                      SoftwareItem("zsh", "5.9", "deb_packages", last_opened_at=later)),
            device_mapping=(DeviceMapping("b@example.com", "custom"), DeviceMapping("a@example.com", "custom")),
            mdm=MDMInfo(enrolled=True, server_url="https://mdm.example.com", installed_from_dep=True, name="Jamf"),
            munki=MunkiInfo("6.3", errors=("disk full", "disk full"), warnings=("slow",)),
            batteries=(Battery(cycle_count=10, health="Good"), Battery(cycle_count=900, health="Poor")),
        ), at=later, details_updated=True, clear_refetch=True)
        await uow.commit()

    async with uow_factory() as uow:
        host = await uow.hosts.get(host_id)
        assert host is not None
        assert (host.hostname, host.memory, host.gigs_disk_space_available, host.last_restarted_at) == (
            "box", 2**40, 12.5, at - DAY)
        assert (host.updated_at, host.detail_updated_at, host.label_updated_at) == (later, later, NEVER)
        assert host.refetch_requested is False
        assert [(u.uid, u.username) for u in await uow.host_inventory.users(host_id)] == [(0, "root"), (501, "ann")]
        software = await uow.host_inventory.software(host_id)
        assert [(s.name, s.version, s.vendor, s.last_opened_at) for s in software] == [
            ("curl", "8.0", "Ubuntu", None), ("zsh", "5.9", "", later)]
        assert [m.email for m in await uow.host_inventory.device_mapping(host_id)] == ["a@example.com", "b@example.com"]
        assert await uow.host_inventory.mdm(host_id) == MDMInfo(True, "https://mdm.example.com", True, "Jamf")
        assert await uow.host_inventory.munki(host_id) == MunkiInfo("6.3", errors=("disk full",), warnings=("slow",))
        assert await uow.host_inventory.batteries(host_id) == [Battery(10, "Good"), Battery(900, "Poor")]

        # Lists not mentioned stay; empty lists clear; labels/policies flags stamp their own time.
        await uow.hosts.apply_facts(host_id, HostFacts(users=(), software=(SoftwareItem("curl", "8.0", "deb"),)),
                                    at=later + MINUTE, labels_updated=True, policies_updated=True)
        await uow.commit()

    async with uow_factory() as uow:
        host = await uow.hosts.get(host_id)
        assert host is not None
        assert (host.label_updated_at, host.policy_updated_at, host.detail_updated_at) == (
            later + MINUTE, later + MINUTE, later)
        assert await uow.host_inventory.users(host_id) == []
        assert [(s.name, s.source) for s in await uow.host_inventory.software(host_id)] == [("curl", "deb")]
        assert len(await uow.host_inventory.device_mapping(host_id)) == 2
        assert len(await uow.host_inventory.batteries(host_id)) == 2


async def test_software_rows_are_shared_between_hosts(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        one = await enroll(uow, "one", at)
        two = await enroll(uow, "two", at)
        for host_id in (one, two):
            await uow.hosts.apply_facts(host_id, HostFacts(software=(SoftwareItem("git", "2.4", "apps"),)), at=at)
        await uow.commit()

    async with uow_factory() as uow:
        [git_one] = await uow.host_inventory.software(one)
        [git_two] = await uow.host_inventory.software(two)
        assert git_one.id == git_two.id
        assert await uow.host_inventory.ids(HostFilter(software_id=git_one.id), now=at) == [one, two]


async def test_facts_for_a_missing_host_are_ignored(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        await uow.hosts.apply_facts(999, HostFacts(fields={"hostname": "x"}, users=(HostUser(1, "a"),)), at=at)
        assert await uow.host_inventory.users(999) == []


async def test_mark_seen_moves_seen_time_forward_only_and_skips_unknown_hosts(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at)
        b = await enroll(uow, "b", at)
        await uow.commit()

    async with uow_factory() as uow:
        await uow.hosts.mark_seen({b: at + 2 * MINUTE, a: at + MINUTE, 999: at + DAY})
        await uow.commit()
    async with uow_factory() as uow:
        await uow.hosts.mark_seen({a: at - DAY, b: at + 3 * MINUTE})
        await uow.hosts.mark_seen({})
        await uow.commit()

    async with uow_factory() as uow:
        host_a, host_b = await uow.hosts.get(a), await uow.hosts.get(b)
        assert host_a is not None and host_b is not None
        assert (host_a.seen_time, host_b.seen_time) == (at + MINUTE, at + 3 * MINUTE)
        assert await uow.hosts.get(999) is None
        assert await uow.hosts.seen_before(at + 2 * MINUTE) == [a]
        assert await uow.hosts.seen_before(at) == []

        # Re-enrolling earlier than the last check-in does not move seen_time back.
        host = (await uow.hosts.enroll(osquery_host_id="b", node_key_hash="k", team_id=None, at=at + MINUTE,
                                       fields={})).host
        assert host.seen_time == at + 3 * MINUTE


async def test_request_refetch_flags_existing_hosts_and_counts_them(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at)
        await uow.hosts.apply_facts(a, HostFacts(), at=at, clear_refetch=True)
        assert await uow.hosts.request_refetch([a, a, 999]) == 1
        assert await uow.hosts.request_refetch([]) == 0
        host = await uow.hosts.get(a)
        assert host is not None and host.refetch_requested is True


async def test_transfer_moves_hosts_and_keeps_their_global_policy_results(
    uow_factory: UnitOfWorkFactory, at: dt.datetime, add_team: Any
) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "Laptops")
        a = await enroll(uow, "a", at)
        b = await enroll(uow, "b", at)
        await set_policy_results(uow, a, {1: True}, at)
        await set_policy_results(uow, b, {1: False}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.hosts.transfer([b, a, 999], team.id) == [a, b]
        with pytest.raises(NotFound):
            await uow.hosts.transfer([a], 999)
        # Global policies still apply in any team (team policies' answers go: see the policy contract).
        assert await uow.host_inventory.ids(HostFilter(policy_id=1), now=at) == [a, b]
        assert await uow.host_inventory.ids(HostFilter(team_id=team.id), now=at) == [a, b]
        assert await uow.hosts.transfer([a], None) == [a]
        assert await uow.host_inventory.ids(HostFilter(no_team=True), now=at) == [a]
        await uow.commit()


async def test_delete_removes_hosts_with_everything_collected(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at)
        b = await enroll(uow, "b", at)
        await uow.hosts.apply_facts(a, HostFacts(users=(HostUser(1, "x"),), software=(SoftwareItem("s", "1", "p"),),
                                                 munki=MunkiInfo("1", errors=("e",))), at=at)
        await uow.hosts.mark_seen({a: at + MINUTE})
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.hosts.delete([a, 999, a]) == [a]
        assert await uow.hosts.delete([]) == []
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.hosts.get(a) is None
        assert await uow.hosts.get_by_node_key("key-a") is None
        assert await uow.host_inventory.users(a) == []
        assert await uow.host_inventory.labels(a) == []
        assert await uow.host_aggregates.munki_issues(HostFilter()) == []
        assert await uow.host_inventory.ids(HostFilter(), now=at) == [b]
        # The identifier is free again.
        enrollment = await uow.hosts.enroll(osquery_host_id="a", node_key_hash="k", team_id=None, at=at,
                                            fields={})
        host, created = enrollment.host, enrollment.created
        assert created is True and host.id != a


async def test_status_filters_follow_the_rules_at_the_given_now(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    now = at + 40 * DAY
    async with uow_factory() as uow:
        # Interval min(30, 60) = 30 s plus the 60 s buffer: online while seen within 90 s.
        fresh = await enroll(uow, "fresh", now - dt.timedelta(seconds=89), distributed_interval=30,
                             config_tls_refresh=60)
        edge = await enroll(uow, "edge", now - dt.timedelta(seconds=90), distributed_interval=30,
                            config_tls_refresh=60)
        gone = await enroll(uow, "gone", at)
        await uow.hosts.mark_seen({gone: now - 30 * DAY})
        await uow.commit()

    async with uow_factory() as uow:
        async def status(value: HostStatus) -> list[int]:
            return await uow.host_inventory.ids(HostFilter(status=value), now=now)

        assert await status(HostStatus.ONLINE) == [fresh]
        assert await status(HostStatus.OFFLINE) == [edge, gone]
        assert await status(HostStatus.MISSING) == [gone]
        assert await status(HostStatus.MIA) == [gone]
        assert await status(HostStatus.NEW) == [fresh, edge]
        summary = await uow.host_inventory.summary(HostFilter(), platform=None, now=now)
        assert (summary.totals_hosts_count, summary.online_count, summary.offline_count, summary.mia_count,
                summary.missing_30_days_count, summary.new_count) == (3, 1, 2, 1, 1, 2)


async def test_team_and_visibility_filters(uow_factory: UnitOfWorkFactory, at: dt.datetime, add_team: Any) -> None:
    async with uow_factory() as uow:
        one = await add_team(uow, "One")
        two = await add_team(uow, "Two")
        a = await enroll(uow, "a", at, team_id=one.id)
        b = await enroll(uow, "b", at, team_id=two.id)
        c = await enroll(uow, "c", at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.host_inventory.ids(HostFilter(team_id=one.id), now=at) == [a]
        assert await uow.host_inventory.ids(HostFilter(no_team=True), now=at) == [c]
        assert await uow.host_inventory.ids(HostFilter(visible_team_ids=frozenset({one.id, two.id})), now=at) == [a, b]
        assert await uow.host_inventory.ids(HostFilter(visible_team_ids=frozenset()), now=at) == []
        assert await uow.host_inventory.ids(HostFilter(ids=frozenset({a, c})), now=at) == [a, c]
        listed = await uow.host_inventory.list(HostFilter(), ListOptions(order_key="team_name"), now=at)
        assert [(h.id, h.team_name) for h in listed] == [(a, "One"), (b, "Two"), (c, None)]


async def test_policy_software_os_mdm_and_munki_filters(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at, os_version="macOS 14.1", platform="darwin")
        b = await enroll(uow, "b", at, os_version="macOS 14.1", platform="darwin")
        c = await enroll(uow, "c", at, os_version="Ubuntu 22.04.1 LTS", platform="ubuntu")
        await set_policy_results(uow, a, {1: True}, at)
        await set_policy_results(uow, b, {1: False}, at)
        await set_policy_results(uow, c, {1: None}, at)
        await uow.hosts.apply_facts(a, HostFacts(
            mdm=MDMInfo(True, "https://jamf.example.com", False, "Jamf"), munki=MunkiInfo("6.3", errors=("e1",))),
            at=at)
        await uow.hosts.apply_facts(b, HostFacts(
            mdm=MDMInfo(True, "https://jamf.example.com", True, "Jamf"), munki=MunkiInfo("6.3", warnings=("w1",))),
            at=at)
        await uow.hosts.apply_facts(c, HostFacts(mdm=MDMInfo(False), munki=MunkiInfo("5.0", errors=("e1",))), at=at)
        await uow.commit()

    async with uow_factory() as uow:
        def ids(**kw: Any) -> Awaitable[list[int]]:
            return uow.host_inventory.ids(HostFilter(**kw), now=at)

        assert await ids(policy_id=1, policy_response="passing") == [a]
        assert await ids(policy_id=1, policy_response="failing") == [b]
        assert await ids(policy_id=1) == [a, b, c]
        assert await ids(policy_id=2, policy_response="passing") == []

        versions = await uow.host_aggregates.os_versions(HostFilter())
        assert [(v.name, v.name_only, v.version, v.platform, v.hosts_count) for v in versions] == [
            ("macOS 14.1", "macOS", "14.1", "darwin", 2), ("Ubuntu 22.04.1 LTS", "Ubuntu", "22.04.1 LTS", "ubuntu", 1)]
        mac = versions[0].os_id
        assert await ids(os_id=mac) == [a, b]
        assert await ids(os_name="Ubuntu", os_version="22.04.1 LTS") == [c]
        assert await ids(os_name="Ubuntu", os_version="20.04") == []

        [solution] = await uow.host_aggregates.mdm_solutions(HostFilter())
        assert (solution.name, solution.server_url, solution.hosts_count) == ("Jamf", "https://jamf.example.com", 2)
        assert await ids(mdm_id=solution.id) == [a, b]
        assert await ids(mdm_enrollment_status="manual") == [a]
        assert await ids(mdm_enrollment_status="automatic") == [b]
        assert await ids(mdm_enrollment_status="unenrolled") == [c]
        with pytest.raises(InvalidArgument):
            await ids(mdm_enrollment_status="sideways")
        assert await uow.host_aggregates.mdm_status_counts(HostFilter()) == {
            "enrolled_manual_hosts_count": 1, "enrolled_automated_hosts_count": 1, "unenrolled_hosts_count": 1,
            "hosts_count": 3}
        assert await uow.host_aggregates.mdm_status_counts(HostFilter(ids=frozenset({a}))) == {
            "enrolled_manual_hosts_count": 1, "enrolled_automated_hosts_count": 0, "unenrolled_hosts_count": 0,
            "hosts_count": 1}

        assert await uow.host_aggregates.munki_versions(HostFilter()) == [
            MunkiVersion("6.3", 2), MunkiVersion("5.0", 1)]
        issues = await uow.host_aggregates.munki_issues(HostFilter())
        assert [(i.name, i.type, i.hosts_count) for i in issues] == [("e1", "error", 2), ("w1", "warning", 1)]
        assert await ids(munki_issue_id=issues[0].id) == [a, c]


async def test_os_ids_are_stable_as_hosts_come_and_go(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at, os_version="macOS 14.1", platform="darwin")
        [before] = await uow.host_aggregates.os_versions(HostFilter())
        await uow.hosts.apply_facts(a, HostFacts(fields={"os_version": "macOS 14.2"}), at=at)
        b = await enroll(uow, "b", at, os_version="macOS 14.1", platform="darwin")
        after = await uow.host_aggregates.os_versions(HostFilter())
        await uow.commit()

    assert [(v.os_id, v.version) for v in after] == [(before.os_id, "14.1"), (after[1].os_id, "14.2")]
    assert after[1].os_id != before.os_id
    async with uow_factory() as uow:
        assert await uow.host_inventory.ids(HostFilter(os_id=before.os_id), now=at) == [b]


async def test_query_searches_identifying_columns_and_exact_device_emails(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at, hostname="Web-01", primary_ip="10.0.0.5")
        b = await enroll(uow, "b", at, computer_name="Ann's 50% Mac", hardware_serial="C02XYZ")
        c = await enroll(uow, "c", at, uuid="ABC-123")
        await uow.hosts.apply_facts(c, HostFacts(device_mapping=(DeviceMapping("Ann@Example.com", "custom"),)), at=at)
        await uow.commit()

    async with uow_factory() as uow:
        async def search(text: str) -> list[int]:
            listed = await uow.host_inventory.list(HostFilter(query=text), ListOptions(), now=at)
            assert await uow.host_inventory.count(HostFilter(query=text), now=at) == len(listed)
            return [h.id for h in listed]

        assert await search("web") == [a]
        assert await search("10.0.0") == [a]
        assert await search("50%") == [b]
        assert await search("5_") == []
        assert await search("xyz") == [b]
        assert await search("abc-1") == [c]
        assert await search("ann@example.com") == [c]
        assert await search("ann@example") == []
        # The list options' search text applies when the filter has none.
        listed = await uow.host_inventory.list(HostFilter(), ListOptions(query="web"), now=at)
        assert [h.id for h in listed] == [a]


async def test_list_orders_by_key_then_id_and_pages_with_after(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at, hostname="b", memory=3)
        b = await enroll(uow, "b", at + MINUTE, hostname="A", memory=1)
        c = await enroll(uow, "c", at + 2 * MINUTE, hostname="b", memory=2)
        d = await enroll(uow, "d", at + 3 * MINUTE, hostname="", computer_name="C", memory=2)
        await uow.commit()

    async with uow_factory() as uow:
        async def order(key: str | None, direction: Direction = Direction.ASC, after: str | None = None,
                        page: int = 0, per_page: int = 100) -> list[int]:
            options = ListOptions(page=page, per_page=per_page, order_key=key, order_direction=direction)
            return [h.id for h in await uow.host_inventory.list(HostFilter(), options, now=at, after=after)]

        assert await order(None) == [a, b, c, d]
        assert await order("hostname") == [d, b, a, c]
        assert await order("hostname", Direction.DESC) == [a, c, b, d]
        assert await order("display_name") == [b, a, c, d]
        assert await order("memory", Direction.DESC) == [a, c, d, b]
        assert await order("memory", after="1") == [c, d, a]
        assert await order("memory", Direction.DESC, after="3") == [c, d, b]
        assert await order("hostname", after="a") == [a, c]
        assert await order("created_at", after=(at + MINUTE).isoformat()) == [c, d]
        assert await order("created_at", Direction.DESC, after=(at + 2 * MINUTE).isoformat()) == [b, a]
        assert await order("hostname", page=1, per_page=2) == [a, c]
        with pytest.raises(InvalidArgument):
            await order("memory", after="lots")
        with pytest.raises(InvalidArgument):
            await order("created_at", after="yesterday")
        with pytest.raises(InvalidArgument):
            await order("node_key")


async def test_summary_counts_platforms_and_lists_builtin_labels(
    uow_factory: UnitOfWorkFactory, at: dt.datetime, add_team: Any
) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "T")
        await enroll(uow, "a", at, platform="ubuntu")
        await enroll(uow, "b", at, platform="rhel", team_id=team.id)
        await enroll(uow, "c", at, platform="darwin", team_id=team.id)
        await uow.commit()

    async with uow_factory() as uow:
        everything = await uow.host_inventory.summary(HostFilter(), platform=None, now=at)
        assert everything.team_id is None
        assert everything.platforms == (("darwin", 1), ("rhel", 1), ("ubuntu", 1))
        assert everything.all_linux_count == 2
        assert [label.name for label in everything.builtin_labels][:2] == ["All Hosts", "macOS"]
        teamed = await uow.host_inventory.summary(HostFilter(team_id=team.id), platform="linux", now=at)
        assert (teamed.team_id, teamed.totals_hosts_count, teamed.platforms) == (team.id, 1, (("rhel", 1),))


# Memory versus Postgres on random fleets.

NOW = dt.datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)
TEAM_IDS = (1, 2)
SOFTWARE = (SoftwareItem("curl", "8.0", "deb_packages"), SoftwareItem("Zoom", "5.1", "apps"),
            SoftwareItem("zoom", "5.1", "apps"))
OS_VERSIONS = ("", "macOS 14.1", "Ubuntu 22.04 LTS", "CentOS Linux 7")
MDMS = (None, MDMInfo(True, "https://a.example", False, "A"), MDMInfo(True, "https://a.example", True, "A"),
        MDMInfo(True, "https://b.example", False, "B"), MDMInfo(False))
MUNKIS = (None, MunkiInfo("1.0", errors=("e",)), MunkiInfo("2.0", warnings=("w",), errors=("e",)))
MUNKI_ISSUES = (("e", "error"), ("w", "warning"), ("x", "error"))
# Offsets (seconds before NOW) on and around every status boundary, plus anything in 40 days.
# Online boundaries sit at 60 s plus each possible interval (0, 10, 30, 60, 3600).
BOUNDARIES = sorted({b + d for b in (60, 70, 90, 120, 3660, 86400, 30 * 86400) for d in (-1, 0, 1)})
OFFSETS = st.one_of(st.sampled_from(BOUNDARIES), st.sampled_from(BOUNDARIES), st.integers(0, 40 * 86400))
TEXT = "aAbB_%"

hosts = st.lists(
    st.fixed_dictionaries({
        "team_id": st.sampled_from([None, *TEAM_IDS]),
        "platform": st.sampled_from(["darwin", "ubuntu", "rhel", "windows", ""]),
        "hostname": st.text(TEXT, max_size=3),
        "computer_name": st.text("aB ", max_size=2),
        "uuid": st.text("aZ1", max_size=2),
        "primary_ip": st.sampled_from(["", "10.0.0.1", "10.0.0.12"]),
        "os_version": st.sampled_from(OS_VERSIONS),
        "created": OFFSETS,
        "seen": st.none() | OFFSETS,
        "distributed_interval": st.sampled_from([0, 10, 30, 3600]),
        "config_tls_refresh": st.sampled_from([0, 10, 60]),
        "memory": st.integers(0, 3),
        "gigs_disk_space_available": st.sampled_from([0.0, 1.5, 2.25]),
        "labels": st.lists(st.sampled_from([2, 3, 4]), unique=True, max_size=2),
        "policy": st.sampled_from(["none", True, False, None]),
        "software": st.lists(st.sampled_from(range(len(SOFTWARE))), unique=True, max_size=2),
        "email": st.sampled_from([None, "a@x.io", "B@x.io"]),
        "mdm": st.sampled_from(range(len(MDMS))),
        "munki": st.sampled_from(range(len(MUNKIS))),
    }),
    max_size=8,
)

FILTER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "query": st.sampled_from(["a", "A_", "%", "10.0.0.1", "a@x.io", "b@x.io", "z1"]),
    "status": st.sampled_from(list(HostStatus)),
    "team_id": st.sampled_from([*TEAM_IDS, 3]),
    "no_team": st.just(True),
    "label_id": st.sampled_from([1, 2, 3]),
    "policy_id": st.just(1),
    "policy_response": st.sampled_from(["passing", "failing"]),
    "os_name": st.sampled_from(["macOS", "Ubuntu", "CentOS Linux"]),
    "os_version": st.sampled_from(["14.1", "22.04 LTS", "7"]),
    "mdm_enrollment_status": st.sampled_from(["manual", "automatic", "unenrolled"]),
    "ids": st.frozensets(st.integers(1, 9), max_size=4),
    "visible_team_ids": st.frozensets(st.sampled_from(TEAM_IDS)),
    # Resolved per store by name, since each store numbers these rows itself.
    "software": st.sampled_from(range(len(SOFTWARE))),
    "os": st.sampled_from(OS_VERSIONS[1:]),
    "mdm": st.sampled_from(["A", "B"]),
    "munki_issue": st.sampled_from(range(len(MUNKI_ISSUES))),
}
# A few filters at a time: every filter at once would almost always select nothing.
filters = st.lists(st.sampled_from(sorted(FILTER_VALUES)), unique=True, max_size=3).flatmap(
    lambda keys: st.fixed_dictionaries({k: FILTER_VALUES[k] for k in keys}))

listings = st.lists(
    st.tuples(filters, st.none() | st.sampled_from(sorted(HOST_ORDER_KEYS)), st.sampled_from(list(Direction)),
              st.integers(0, 2), st.sampled_from([1, 2, 3, 1000]), st.none() | st.integers(0, 7)),
    min_size=1, max_size=4,
)


async def populate(uow_factory: UnitOfWorkFactory, specs: list[dict[str, Any]]) -> None:
    async with uow_factory() as uow:
        for team_id in TEAM_IDS:
            await uow.teams.add(name=f"team {team_id}", description="", at=NOW)
        for index, spec in enumerate(specs):
            fields = {k: spec[k] for k in ("platform", "hostname", "computer_name", "uuid", "primary_ip",
                                           "os_version", "distributed_interval", "config_tls_refresh", "memory",
                                           "gigs_disk_space_available")}
            host = (await uow.hosts.enroll(osquery_host_id=f"host-{index}", node_key_hash=f"key-{index}",
                                           team_id=spec["team_id"], at=NOW - dt.timedelta(seconds=spec["created"]),
                                           fields=fields)).host
            await uow.hosts.apply_facts(host.id, HostFacts(
                software=tuple(SOFTWARE[i] for i in spec["software"]),
                device_mapping=() if spec["email"] is None else (DeviceMapping(spec["email"], "custom"),),
                mdm=MDMS[spec["mdm"]], munki=MUNKIS[spec["munki"]]), at=host.created_at)
            await uow.labels.record_results(host.id, dict.fromkeys(spec["labels"], True), NOW)
            if spec["policy"] != "none":
                await set_policy_results(uow, host.id, {1: spec["policy"]}, NOW)
            if spec["seen"] is not None:
                await uow.hosts.mark_seen({host.id: NOW - dt.timedelta(seconds=spec["seen"])})
        await uow.commit()


async def resolve(uow_factory: UnitOfWorkFactory, raw: dict[str, Any]) -> HostFilter:
    """The HostFilter for ``raw``, naming software, OS, MDM and Munki rows by this store's ids."""
    values = {k: v for k, v in raw.items() if k not in ("software", "os", "mdm", "munki_issue")}
    raw = {"software": None, "os": None, "mdm": None, "munki_issue": None, **raw}
    async with uow_factory() as uow:
        everything = HostFilter()
        if raw["software"] is not None:
            wanted = SOFTWARE[raw["software"]]
            found = [s.id for host_id in await uow.host_inventory.ids(everything, now=NOW)
                     for s in await uow.host_inventory.software(host_id)
                     if (s.name, s.version, s.source) == (wanted.name, wanted.version, wanted.source)]
            values["software_id"] = found[0] if found else 10_000
        if raw["os"] is not None:
            found = [v.os_id for v in await uow.host_aggregates.os_versions(everything) if v.name == raw["os"]]
            values["os_id"] = found[0] if found else 10_000
        if raw["mdm"] is not None:
            found = [m.id for m in await uow.host_aggregates.mdm_solutions(everything) if m.name == raw["mdm"]]
            values["mdm_id"] = found[0] if found else 10_000
        if raw["munki_issue"] is not None:
            name, kind = MUNKI_ISSUES[raw["munki_issue"]]
            found = [i.id for i in await uow.host_aggregates.munki_issues(everything)
                     if (i.name, i.type) == (name, kind)]
            values["munki_issue_id"] = found[0] if found else 10_000
    return HostFilter(**values)


def after_text(host: Host, key: str) -> str | None:
    value = host.display_name if key == "display_name" else host.uptime_seconds if key == "uptime" \
        else getattr(host, key)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


async def observe(uow_factory: UnitOfWorkFactory, raw: dict[str, Any], options: ListOptions,
                  after_host: int | None, platform: str | None) -> dict[str, Any]:
    host_filter = await resolve(uow_factory, raw)
    async with uow_factory() as uow:
        names = {h.id: h.osquery_host_id for h in await uow.host_inventory.list(HostFilter(), ListOptions(), now=NOW)}
        after = None
        if after_host is not None and options.order_key is not None:
            anchor = await uow.hosts.get_by_osquery_host_id(f"host-{after_host}")
            after = None if anchor is None else after_text(anchor, options.order_key)
        listed = await uow.host_inventory.list(host_filter, options, now=NOW, after=after)
        summary = await uow.host_inventory.summary(host_filter, platform=platform, now=NOW)
        return {
            "list": [(h.osquery_host_id, h.seen_time, h.team_name) for h in listed],
            "count": await uow.host_inventory.count(host_filter, now=NOW),
            "ids": [names[i] for i in await uow.host_inventory.ids(host_filter, now=NOW)],
            "summary": (summary.totals_hosts_count, summary.online_count, summary.offline_count,
                        summary.mia_count, summary.new_count, summary.all_linux_count, summary.platforms,
                        [label.name for label in summary.builtin_labels]),
            "os": sorted((v.name, v.name_only, v.version, v.platform, v.hosts_count)
                         for v in await uow.host_aggregates.os_versions(host_filter)),
            "mdm": [(m.name, m.server_url, m.hosts_count)
                    for m in await uow.host_aggregates.mdm_solutions(host_filter)],
            "mdm_status": await uow.host_aggregates.mdm_status_counts(host_filter),
            "munki": await uow.host_aggregates.munki_versions(host_filter),
            "munki_issues": [(i.name, i.type, i.hosts_count)
                             for i in await uow.host_aggregates.munki_issues(host_filter)],
        }


async def outcome(uow_factory: UnitOfWorkFactory, *args: Any) -> Any:
    try:
        return await observe(uow_factory, *args)
    except InvalidArgument as exc:
        return ("invalid", exc.problems)


@pytest.mark.postgres
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=hosts, cases=listings, platform=st.sampled_from([None, "linux", "darwin"]))
async def test_memory_and_postgres_list_count_and_aggregate_hosts_identically(
    pg_uow_factory: Callable[[], Any], pg_dsn: str, specs: list[dict[str, Any]],
    cases: list[tuple[dict[str, Any], str | None, Direction, int, int, int | None]], platform: str | None,
) -> None:
    # Examples share the test's database; start each from empty tables and sequences. Teams are
    # deleted rather than truncated: TRUNCATE ... CASCADE would empty the seeded labels too.
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute("TRUNCATE hosts, host_seen_times, software, operating_systems, mdm_solutions,"
                           " munki_issues RESTART IDENTITY CASCADE")
        await conn.execute("DELETE FROM teams")
        await conn.execute("ALTER SEQUENCE teams_id_seq RESTART")
    memory = InMemoryStore().unit_of_work
    await populate(memory, specs)
    await populate(pg_uow_factory, specs)

    for raw, key, direction, page, per_page, after_host in cases:
        options = ListOptions(page=page, per_page=per_page, order_key=key,
                              order_direction=direction if key else Direction.ASC)
        expected = await outcome(memory, raw, options, after_host, platform)
        assert await outcome(pg_uow_factory, raw, options, after_host, platform) == expected, (raw, options)


async def test_software_by_id_counts_the_hosts_that_have_it(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        first, second = await enroll(uow, "sw-1", at), await enroll(uow, "sw-2", at)
        tar = SoftwareItem("tar", "1.30", "deb_packages")
        await uow.hosts.apply_facts(first, HostFacts(software=(tar,)), at=at)
        await uow.hosts.apply_facts(second, HostFacts(software=(tar, SoftwareItem("zsh", "5.9", "deb_packages"))),
                                    at=at)
        await uow.commit()
    async with uow_factory() as uow:
        [listed_tar, _] = await uow.host_inventory.software(second)
        # The count is the one the host-count job stored: none before its first run.
        uncounted = await uow.host_inventory.software_by_id(listed_tar.id)
        assert uncounted is not None and uncounted.hosts_count == 0
        await uow.software.refresh_host_counts(at)
        await uow.commit()
        found = await uow.host_inventory.software_by_id(listed_tar.id)
        assert found is not None
        assert (found.name, found.version, found.source, found.hosts_count) == ("tar", "1.30", "deb_packages", 2)
        assert await uow.host_inventory.software_by_id(listed_tar.id + 10_000) is None
