"""User packs and the global and team schedules (fleet_core.services.packs)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.packs import PackFields, PackTargets, ScheduleFields
from fleet_core.model.queries import QueryFields
from fleet_core.rules.paging import ListOptions
from fleet_core.services.packs import (
    MAX_SHARD,
    PackChanges,
    ScheduleChanges,
    checked_pack_fields,
    checked_schedule,
    is_reserved_pack_name,
)
from tests.unit.services.support import Announcements, MakeUser, create_team, enroll_host, last_activity, no_deadline

pytestmark = pytest.mark.anyio


async def saved_query(kit: InMemoryKit, viewer: Viewer, name: str = "uptime", team_id: int | None = None) -> int:
    return (await kit.services.queries.create(viewer, QueryFields(name=name, query="SELECT 1;"),
                                              team_id=team_id)).id


async def test_a_new_pack_is_recorded_and_announced_with_sorted_unique_targets(kit: InMemoryKit,
                                                                              admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    host = await enroll_host(kit, admin, "laptop")
    label = (await kit.services.labels.create(admin, name="Pack target", query="SELECT 1;")).label
    heard = Announcements(kit)
    pack = await kit.services.packs.create(admin, PackFields(name=" Pack ", targets=PackTargets(
        host_ids=(host.id, host.id), label_ids=(label.id,), team_ids=(team_id,))))
    assert (pack.name, pack.type, pack.targets) == ("Pack", None, PackTargets(
        host_ids=(host.id,), label_ids=(label.id,), team_ids=(team_id,)))
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("created_pack", {"pack_id": pack.id, "pack_name": "Pack"})
    assert heard.config_changes == 1


async def test_unknown_targets_are_named_by_their_kind(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.packs.create(admin, PackFields(name="Pack", targets=PackTargets(
            host_ids=(901,), label_ids=(902,), team_ids=(903,))))
    assert [n for n, _ in caught.value.problems] == ["host_ids", "label_ids", "team_ids"]
    assert await kit.services.packs.list(admin, ListOptions()) == []


@pytest.mark.parametrize("name", ["", "  ", "Global", "team-3", "x" * 256])
async def test_a_pack_name_must_be_present_short_and_not_a_schedules(kit: InMemoryKit, admin: Viewer,
                                                                    name: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.packs.create(admin, PackFields(name=name))
    assert [n for n, _ in caught.value.problems] == ["name"]


@no_deadline
@given(st.integers(min_value=0, max_value=10**6))
def test_only_the_schedules_own_names_are_reserved(n: int) -> None:
    assert is_reserved_pack_name(f"team-{n}")
    assert not is_reserved_pack_name(f"team-{n}x")
    assert not is_reserved_pack_name(f"Team {n}")


@no_deadline
@given(st.lists(st.integers(1, 5)), st.lists(st.integers(1, 5)))
def test_checked_targets_are_sorted_and_unique(host_ids: list[int], label_ids: list[int]) -> None:
    checked = checked_pack_fields(PackFields(name="p", targets=PackTargets(host_ids=tuple(host_ids),
                                                                           label_ids=tuple(label_ids))))
    assert checked.targets.host_ids == tuple(sorted(set(host_ids)))
    assert checked.targets.label_ids == tuple(sorted(set(label_ids)))


@no_deadline
@given(st.integers(-5, 2**31 + 5), st.none() | st.integers(-5, MAX_SHARD + 5))
def test_a_schedule_runs_at_least_every_second_on_a_shard_of_at_most_a_hundred(interval: int,
                                                                             shard: int | None) -> None:
    fields = ScheduleFields(interval=interval, shard=shard)
    if 1 <= interval <= 2**31 - 1 and (shard is None or 0 <= shard <= MAX_SHARD):
        assert checked_schedule(fields) == fields
    else:
        with pytest.raises(InvalidArgument):
            checked_schedule(fields)


async def test_pack_names_are_unique(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.packs.create(admin, PackFields(name="Pack"))
    other = await kit.services.packs.create(admin, PackFields(name="Other"))
    with pytest.raises(AlreadyExists):
        await kit.services.packs.create(admin, PackFields(name="Pack"))
    with pytest.raises(AlreadyExists):
        await kit.services.packs.modify(admin, other.id, PackChanges(name="Pack"))


async def test_user_packs_are_written_by_global_writers_only(kit: InMemoryKit, admin: Viewer,
                                                            make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    pack = await kit.services.packs.create(admin, PackFields(name="Pack"))
    maintainer = await make_user(global_role="maintainer")
    observer = await make_user(global_role="observer")
    team_admin = await make_user(teams=[(team_id, "admin")])
    await kit.services.packs.modify(maintainer, pack.id, PackChanges(description="by a maintainer"))
    assert [p.name for p in await kit.services.packs.list(observer, ListOptions())] == ["Pack"]
    for viewer in (observer, team_admin):
        with pytest.raises(PermissionDenied):
            await kit.services.packs.create(viewer, PackFields(name="Mine"))
        with pytest.raises(PermissionDenied):
            await kit.services.packs.delete(viewer, pack.id)
    with pytest.raises(PermissionDenied):
        await kit.services.packs.list(team_admin, ListOptions())


async def test_a_patch_changes_only_what_it_names(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    pack = await kit.services.packs.create(admin, PackFields(name="Pack", description="d", targets=PackTargets(
        host_ids=(host.id,))))
    changed = await kit.services.packs.modify(admin, pack.id, PackChanges(disabled=True))
    assert (changed.name, changed.description, changed.disabled, changed.targets.host_ids) == (
        "Pack", "d", True, (host.id,))
    assert (await last_activity(kit, admin)).type == "edited_pack"


async def test_the_schedules_packs_are_not_user_packs(kit: InMemoryKit, admin: Viewer) -> None:
    query_id = await saved_query(kit, admin)
    entry = await kit.services.packs.add_to_schedule(admin, None, query_id, ScheduleFields(interval=60))
    global_pack = await kit.services.packs.get(admin, entry.pack_id)
    assert (global_pack.name, global_pack.type) == ("Global", "global")
    assert await kit.services.packs.list(admin, ListOptions()) == []
    with pytest.raises(InvalidArgument):
        await kit.services.packs.modify(admin, global_pack.id, PackChanges(name="Renamed"))
    with pytest.raises(InvalidArgument):
        await kit.services.packs.delete(admin, global_pack.id)


async def test_unknown_packs_and_entries_are_not_found(kit: InMemoryKit, admin: Viewer) -> None:
    query_id = await saved_query(kit, admin)
    with pytest.raises(NotFound):
        await kit.services.packs.get(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.packs.delete_by_name(admin, "nothing")
    with pytest.raises(NotFound):
        await kit.services.packs.schedule(admin, 999, query_id, ScheduleFields(interval=60))
    pack = await kit.services.packs.create(admin, PackFields(name="Pack"))
    with pytest.raises(NotFound):
        await kit.services.packs.schedule(admin, pack.id, 999, ScheduleFields(interval=60))
    with pytest.raises(NotFound):
        await kit.services.packs.get_scheduled(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.packs.schedule_of(admin, 999)


async def test_a_pack_schedules_a_global_query_once_by_name(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    global_query = await saved_query(kit, admin)
    team_query = await saved_query(kit, admin, "team query", team_id)
    pack = await kit.services.packs.create(admin, PackFields(name="Pack"))
    heard = Announcements(kit)
    entry = await kit.services.packs.schedule(admin, pack.id, global_query, ScheduleFields(interval=60,
                                                                                           platform="linux, darwin"))
    assert (entry.name, entry.query_name, entry.platform) == ("uptime", "uptime", "linux,darwin")
    assert heard.config_changes == 1
    with pytest.raises(AlreadyExists):
        await kit.services.packs.schedule(admin, pack.id, global_query, ScheduleFields(interval=30))
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.packs.schedule(admin, pack.id, team_query, ScheduleFields(interval=60))
    assert [n for n, _ in caught.value.problems] == ["query_id"]
    assert [e.id for e in await kit.services.packs.scheduled(admin, pack.id)] == [entry.id]


async def test_a_scheduled_entry_is_patched_and_removed_and_each_recorded(kit: InMemoryKit, admin: Viewer) -> None:
    pack = await kit.services.packs.create(admin, PackFields(name="Pack"))
    entry = await kit.services.packs.schedule(admin, pack.id, await saved_query(kit, admin),
                                              ScheduleFields(interval=60, snapshot=True))
    changed = await kit.services.packs.modify_scheduled(admin, entry.id, ScheduleChanges(interval=120))
    assert (changed.interval, changed.snapshot) == (120, True)
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.packs.modify_scheduled(admin, entry.id, ScheduleChanges(shard=101))
    assert [n for n, _ in caught.value.problems] == ["shard"]
    await kit.services.packs.delete_scheduled(admin, entry.id)
    assert await kit.services.packs.scheduled(admin, pack.id) == []
    assert (await last_activity(kit, admin)).details == {"pack_id": pack.id, "pack_name": "Pack"}


async def test_deleting_a_pack_removes_its_entries(kit: InMemoryKit, admin: Viewer) -> None:
    pack = await kit.services.packs.create(admin, PackFields(name="Pack"))
    entry = await kit.services.packs.schedule(admin, pack.id, await saved_query(kit, admin),
                                              ScheduleFields(interval=60))
    await kit.services.packs.delete_by_name(admin, "Pack")
    with pytest.raises(NotFound):
        await kit.services.packs.get_scheduled(admin, entry.id)
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("deleted_pack", {"pack_name": "Pack"})


async def test_a_team_schedule_runs_global_queries_and_the_teams_own(kit: InMemoryKit, admin: Viewer,
                                                                    make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    maintainer = await make_user(teams=[(apples, "maintainer")])
    own = await saved_query(kit, admin, "own", apples)
    foreign = await saved_query(kit, admin, "foreign", pears)
    shared = await saved_query(kit, admin, "shared")
    await kit.services.packs.add_to_schedule(maintainer, apples, own, ScheduleFields(interval=60))
    await kit.services.packs.add_to_schedule(maintainer, apples, shared, ScheduleFields(interval=30))
    with pytest.raises(InvalidArgument):
        await kit.services.packs.add_to_schedule(admin, apples, foreign, ScheduleFields(interval=60))
    with pytest.raises(PermissionDenied):
        await kit.services.packs.add_to_schedule(maintainer, pears, foreign, ScheduleFields(interval=60))
    with pytest.raises(PermissionDenied):
        await kit.services.packs.add_to_schedule(maintainer, None, shared, ScheduleFields(interval=60))
    schedule = await kit.services.packs.schedule_of(maintainer, apples, ListOptions(order_key="interval"))
    assert [e.name for e in schedule] == ["shared", "own"]
    assert (await kit.services.packs.get(admin, schedule[0].pack_id)).name == f"team-{apples}"
    assert await kit.services.packs.schedule_of(admin, pears) == []


async def test_an_entry_is_changed_only_through_its_own_schedule(kit: InMemoryKit, admin: Viewer) -> None:
    apples = await create_team(kit, admin, "Apples")
    query_id = await saved_query(kit, admin)
    entry = await kit.services.packs.add_to_schedule(admin, apples, query_id, ScheduleFields(interval=60))
    with pytest.raises(NotFound):
        await kit.services.packs.modify_in_schedule(admin, None, entry.id, ScheduleChanges(interval=5))
    changed = await kit.services.packs.modify_in_schedule(admin, apples, entry.id, ScheduleChanges(interval=5))
    assert changed.interval == 5
    with pytest.raises(NotFound):
        await kit.services.packs.remove_from_schedule(admin, None, entry.id)
    await kit.services.packs.remove_from_schedule(admin, apples, entry.id)
    assert await kit.services.packs.schedule_of(admin, apples) == []


async def test_deleted_hosts_and_labels_leave_the_packs_targets(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    kept = await enroll_host(kit, admin, "kept")
    label = (await kit.services.labels.create(admin, name="Pack target", query="SELECT 1;")).label
    pack = await kit.services.packs.create(admin, PackFields(name="Pack", targets=PackTargets(
        host_ids=(host.id, kept.id), label_ids=(label.id,))))
    await kit.services.hosts.delete(admin, host.id)
    await kit.services.labels.delete(admin, label.id)
    assert (await kit.services.packs.get(admin, pack.id)).targets == PackTargets(host_ids=(kept.id,))


async def test_a_pack_counts_its_scheduled_queries(kit: InMemoryKit, admin: Viewer) -> None:
    pack = await kit.services.packs.create(admin, PackFields(name="Pack"))
    for name in ("first", "second"):
        await kit.services.packs.schedule(admin, pack.id, await saved_query(kit, admin, name),
                                          ScheduleFields(interval=60))
    assert (await kit.services.packs.get(admin, pack.id)).query_count == 2
