"""A detail refresh changes exactly what changed: the host's lists (users, emails, batteries), its
MDM solution and OS, its label memberships and policy answers, on both adapters.

The Postgres adapter stores each list by one statement that deletes what is gone and upserts the
rest, and looks the OS and MDM solution up inside the host and MDM writes; these tests pin that
a partial change (one user's shell, one battery, a new OS or MDM solution never seen before) lands
as the in-memory store has it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_adapters.memory.uow import InMemoryUnitOfWork
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_core.model.hosts import Battery, DeviceMapping, HostFacts, HostFilter, HostUser, MDMInfo
from fleet_core.model.policies import Policy
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory

pytestmark = pytest.mark.anyio

MINUTE = dt.timedelta(minutes=1)


async def _enroll(uow: UnitOfWork, name: str, at: dt.datetime) -> int:
    return (await uow.hosts.enroll(osquery_host_id=name, node_key_hash=f"key-{name}", team_id=None, at=at,
                                   fields={})).host.id


async def test_a_refresh_replaces_each_list_by_what_changed(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host_id = await _enroll(uow, "h", at)
        other = await _enroll(uow, "other", at)
        await uow.hosts.apply_facts(other, HostFacts(users=(HostUser(501, "ann", "", "", "/bin/sh"),),
                                                     device_mapping=(DeviceMapping("a@example.com", "custom"),),
                                                     batteries=(Battery(1, "Good"),)), at=at)
        await uow.hosts.apply_facts(host_id, HostFacts(
            users=(HostUser(501, "ann", "person", "staff", "/bin/zsh"), HostUser(502, "bob"), HostUser(0, "root")),
            device_mapping=(DeviceMapping("a@example.com", "custom"), DeviceMapping("b@example.com", "custom")),
            batteries=(Battery(10, "Good"), Battery(20, "Good")),
        ), at=at)
        await uow.commit()

    async with uow_factory() as uow:
        # ann's shell changed, bob left, carol came; one email stays, one goes, one comes; the
        # second battery is gone and the first one aged. The same answer twice changes nothing.
        for _ in range(2):
            await uow.hosts.apply_facts(host_id, HostFacts(
                users=(HostUser(0, "root"), HostUser(501, "ann", "person", "staff", "/bin/bash"),
                       HostUser(503, "carol")),
                device_mapping=(DeviceMapping("b@example.com", "custom"), DeviceMapping("c@example.com", "google")),
                batteries=(Battery(11, "Fair"),),
            ), at=at + MINUTE)
        await uow.commit()

    async with uow_factory() as uow:
        users = await uow.host_inventory.users(host_id)
        assert [(u.uid, u.username, u.shell) for u in users] == [(0, "root", ""), (501, "ann", "/bin/bash"),
                                                                 (503, "carol", "")]
        assert [(m.email, m.source) for m in await uow.host_inventory.device_mapping(host_id)] == [
            ("b@example.com", "custom"), ("c@example.com", "google")]
        assert await uow.host_inventory.batteries(host_id) == [Battery(11, "Fair")]
        # Another host's rows are not touched.
        assert [(u.uid, u.shell) for u in await uow.host_inventory.users(other)] == [(501, "/bin/sh")]
        assert [m.email for m in await uow.host_inventory.device_mapping(other)] == ["a@example.com"]
        assert await uow.host_inventory.batteries(other) == [Battery(1, "Good")]


async def test_a_refresh_moves_the_host_to_its_os_and_mdm_solution_new_or_known(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        a = await _enroll(uow, "a", at)
        b = await _enroll(uow, "b", at)
        macos = {"os_version": "macOS 14.1", "platform": "darwin"}
        jamf = MDMInfo(True, "https://jamf.example.com", False, "Jamf")
        await uow.hosts.apply_facts(a, HostFacts(fields=macos, mdm=jamf), at=at)
        await uow.hosts.apply_facts(b, HostFacts(fields=macos, mdm=jamf), at=at)
        # b: an OS and an MDM solution nobody reported before, then back to known ones.
        await uow.hosts.apply_facts(b, HostFacts(fields={"os_version": "macOS 14.2", "platform": "darwin"},
                                                 mdm=MDMInfo(True, "https://kandji.example.com", True, "Kandji")),
                                    at=at + MINUTE)
        await uow.commit()

    async with uow_factory() as uow:
        versions = {v.version: v for v in await uow.host_aggregates.os_versions(HostFilter())}
        assert {k: v.hosts_count for k, v in versions.items()} == {"14.1": 1, "14.2": 1}
        assert await uow.host_inventory.ids(HostFilter(os_id=versions["14.2"].os_id), now=at) == [b]
        solutions = {s.name: s for s in await uow.host_aggregates.mdm_solutions(HostFilter())}
        assert {k: s.hosts_count for k, s in solutions.items()} == {"Jamf": 1, "Kandji": 1}
        assert await uow.host_inventory.ids(HostFilter(mdm_id=solutions["Kandji"].id), now=at) == [b]
        assert await uow.host_inventory.mdm(b) == MDMInfo(True, "https://kandji.example.com", True, "Kandji")

        await uow.hosts.apply_facts(b, HostFacts(fields={"os_version": "macOS 14.1", "platform": "darwin"},
                                                 mdm=jamf), at=at + 2 * MINUTE)
        await uow.hosts.apply_facts(a, HostFacts(fields={"os_version": "", "platform": "darwin"},
                                                 mdm=MDMInfo(False)), at=at + 2 * MINUTE)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.host_inventory.ids(HostFilter(os_id=versions["14.1"].os_id), now=at) == [b]
        assert await uow.host_inventory.ids(HostFilter(mdm_id=solutions["Jamf"].id), now=at) == [b]
        assert await uow.host_inventory.ids(HostFilter(mdm_id=solutions["Kandji"].id), now=at) == []
        assert await uow.host_inventory.mdm(a) == MDMInfo(False)
        assert await uow.host_inventory.ids(HostFilter(mdm_enrollment_status="unenrolled"), now=at) == [a]


async def _add_label(uow: UnitOfWork, name: str, at: dt.datetime) -> int:
    label = await uow.labels.add(name=name, description="", query="SELECT 1;", platform="",
                                 membership_type="dynamic", at=at)
    return label.id


async def test_label_and_policy_answers_change_only_what_changed(
    uow_factory: UnitOfWorkFactory, at: dt.datetime
) -> None:
    async with uow_factory() as uow:
        host_id = await _enroll(uow, "h", at)
        labels = [await _add_label(uow, f"label {i}", at) for i in range(3)]
        for policy_id in (1, 2):
            if isinstance(uow, InMemoryUnitOfWork):
                uow.policies.state.policies[policy_id] = Policy(
                    id=policy_id, name=f"policy {policy_id}", query="SELECT 1;", created_at=at, updated_at=at)
            else:
                assert isinstance(uow, PgUnitOfWork)
                await uow.hosts._conn.execute(
                    "INSERT INTO policies (id, name, query, created_at, updated_at)"
                    " VALUES (%s, %s, 'SELECT 1;', %s, %s)",
                    (policy_id, f"policy {policy_id}", at, at))
        await uow.labels.record_results(host_id, {labels[0]: True, labels[1]: True, labels[2]: None}, at)
        await uow.policies.record_results(host_id, {1: True, 2: False}, at)
        await uow.commit()

    async with uow_factory() as uow:
        for _ in range(2):
            await uow.labels.record_results(host_id, {labels[0]: False, labels[1]: True, labels[2]: True},
                                            at + MINUTE)
            await uow.policies.record_results(host_id, {1: True, 2: True}, at + MINUTE)
        # Only members joined; only-non-members answers remove.
        await uow.labels.record_results(host_id, {labels[1]: None}, at + MINUTE)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.host_inventory.ids(HostFilter(label_id=labels[2]), now=at) == [host_id]
        assert await uow.host_inventory.ids(HostFilter(label_id=labels[1]), now=at) == []
        assert await uow.host_inventory.ids(HostFilter(label_id=labels[0]), now=at) == []
        assert await uow.policies.host_results(host_id) == {1: True, 2: True}
        assert {p.id: (p.passing_host_count, p.failing_host_count)
                for p in await uow.policies.list(team_id=None)} == {1: (1, 0), 2: (1, 0)}
