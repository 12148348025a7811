"""Labels (fleet_core.services.labels): dynamic and manual labels, built-ins, writers, memberships."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.hosts import Host
from fleet_core.rules.paging import ListOptions
from fleet_core.services.agents import QueryResult
from fleet_core.services.labels import LABEL_PLATFORMS, LabelChanges, checked_label_platform
from tests.unit.services.support import Announcements, MakeUser, create_team, enroll_host, last_activity, no_deadline

pytestmark = pytest.mark.anyio

SQL = "SELECT 1 FROM os_version WHERE platform = 'ubuntu';"


async def report_member(kit: InMemoryKit, host: Host, label_id: int) -> None:
    """The host's agent answers the label's query with a row: the host is in the label."""
    await kit.services.agents.distributed_write(host, {f"fleet_label_query_{label_id}": QueryResult(rows=[{"1": "1"}])})


async def builtin_label_id(kit: InMemoryKit, viewer: Viewer) -> int:
    return next(label.id for label in await kit.services.labels.summary(viewer) if label.label_type == "builtin")


async def test_a_dynamic_label_is_recorded_and_announced(kit: InMemoryKit, admin: Viewer) -> None:
    heard = Announcements(kit)
    view = await kit.services.labels.create(admin, name=" Ubuntu ", query=SQL, platform="ubuntu")
    assert (view.label.name, view.label.label_membership_type, view.host_count, view.host_ids) == (
        "Ubuntu", "dynamic", 0, None)
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("created_label", {"label_id": view.label.id,
                                                                   "label_name": "Ubuntu"})
    assert heard.config_changes == 1


async def test_a_manual_label_lists_its_hosts_and_refuses_unknown_ones(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    view = await kit.services.labels.create(admin, name="Picked", host_ids=[host.id, host.id])
    assert (view.label.label_membership_type, view.host_count, view.host_ids) == ("manual", 1, (host.id,))
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.labels.create(admin, name="Ghosts", host_ids=[host.id, 998, 999])
    assert [n for n, _ in caught.value.problems] == ["host_ids"]
    assert "998, 999" in caught.value.problems[0][1]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": " ", "query": SQL}, "name"),
    ({"name": "x" * 256, "query": SQL}, "name"),
    ({"name": "L", "query": SQL, "platform": "beos"}, "platform"),
    ({"name": "L"}, "query"),
    ({"name": "L", "query": " "}, "query"),
    ({"name": "L", "query": SQL, "host_ids": []}, "query"),
])
async def test_a_label_needs_a_name_a_known_platform_and_exactly_one_of_query_or_hosts(
        kit: InMemoryKit, admin: Viewer, kwargs: dict[str, object], field: str) -> None:
    before = len(await kit.services.labels.summary(admin))
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.labels.create(admin, **kwargs)  # type: ignore[arg-type]
    assert [n for n, _ in caught.value.problems] == [field]
    assert len(await kit.services.labels.summary(admin)) == before


@no_deadline
@given(st.text(max_size=10))
def test_only_fleets_platforms_are_label_platforms(platform: str) -> None:
    if platform in LABEL_PLATFORMS:
        assert checked_label_platform(platform) == platform
    else:
        with pytest.raises(InvalidArgument):
            checked_label_platform(platform)


async def test_label_names_are_unique_built_in_ones_included(kit: InMemoryKit, admin: Viewer) -> None:
    builtin_name = (await kit.services.labels.get(admin, await builtin_label_id(kit, admin))).label.name
    with pytest.raises(AlreadyExists):
        await kit.services.labels.create(admin, name=builtin_name, query=SQL)
    await kit.services.labels.create(admin, name="Mine", query=SQL)
    other = await kit.services.labels.create(admin, name="Other", query=SQL)
    with pytest.raises(AlreadyExists):
        await kit.services.labels.modify(admin, other.label.id, LabelChanges(name="Mine"))


async def test_built_in_labels_are_read_only(kit: InMemoryKit, admin: Viewer) -> None:
    label_id = await builtin_label_id(kit, admin)
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.labels.modify(admin, label_id, LabelChanges(description="mine now"))
    assert [n for n, _ in caught.value.problems] == ["label"]
    with pytest.raises(InvalidArgument):
        await kit.services.labels.delete(admin, label_id)
    assert (await kit.services.labels.get(admin, label_id)).label.label_type == "builtin"


async def test_only_global_writers_write_labels_and_everyone_reads_them(kit: InMemoryKit, admin: Viewer,
                                                                       make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    maintainer = await make_user(global_role="maintainer")
    label = await kit.services.labels.create(maintainer, name="By maintainer", query=SQL)
    for viewer in (await make_user(global_role="observer"), await make_user(teams=[(team_id, "admin")])):
        assert "By maintainer" in [v.label.name for v in await kit.services.labels.list(viewer, ListOptions())]
        with pytest.raises(PermissionDenied):
            await kit.services.labels.create(viewer, name="Mine", query=SQL)
        with pytest.raises(PermissionDenied):
            await kit.services.labels.modify(viewer, label.label.id, LabelChanges(description="x"))
        with pytest.raises(PermissionDenied):
            await kit.services.labels.delete(viewer, label.label.id)


async def test_host_counts_include_only_hosts_the_viewer_may_see(kit: InMemoryKit, admin: Viewer,
                                                                 make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    apple = await enroll_host(kit, admin, "apple", team_id=apples)
    loose = await enroll_host(kit, admin, "loose")
    label = await kit.services.labels.create(admin, name="Both", host_ids=[apple.id, loose.id])
    member = await make_user(teams=[(apples, "observer")])
    seen = await kit.services.labels.get(member, label.label.id)
    assert (seen.host_count, seen.host_ids) == (1, (apple.id,))
    assert (await kit.services.labels.get(admin, label.label.id)).host_count == 2


async def test_a_manual_label_takes_a_new_host_list_but_no_query(kit: InMemoryKit, admin: Viewer) -> None:
    first = await enroll_host(kit, admin, "first")
    second = await enroll_host(kit, admin, "second")
    label = await kit.services.labels.create(admin, name="Picked", host_ids=[first.id])
    changed = await kit.services.labels.modify(admin, label.label.id, LabelChanges(host_ids=[second.id]))
    assert changed.host_ids == (second.id,)
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.labels.modify(admin, label.label.id, LabelChanges(query=SQL))
    assert [n for n, _ in caught.value.problems] == ["query"]
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("edited_label", {"label_id": label.label.id,
                                                                  "label_name": "Picked"})


async def test_changing_a_dynamic_labels_query_drops_its_memberships(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    label = await kit.services.labels.create(admin, name="Dynamic", query=SQL)
    await report_member(kit, host, label.label.id)
    assert (await kit.services.labels.get(admin, label.label.id)).host_count == 1
    renamed = await kit.services.labels.modify(admin, label.label.id, LabelChanges(name="Renamed"))
    assert renamed.host_count == 1
    requeried = await kit.services.labels.modify(admin, label.label.id, LabelChanges(query="SELECT 2;"))
    assert (requeried.label.query, requeried.host_count) == ("SELECT 2;", 0)
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.labels.modify(admin, label.label.id, LabelChanges(host_ids=[host.id]))
    assert [n for n, _ in caught.value.problems] == ["host_ids"]


async def test_deleting_a_label_by_id_or_name_is_recorded(kit: InMemoryKit, admin: Viewer) -> None:
    first = await kit.services.labels.create(admin, name="First", query=SQL)
    await kit.services.labels.create(admin, name="Second", query=SQL)
    heard = Announcements(kit)
    await kit.services.labels.delete(admin, first.label.id)
    await kit.services.labels.delete_by_name(admin, "Second")
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("deleted_label", {"label_name": "Second"})
    assert heard.config_changes == 2
    assert not {"First", "Second"} & {label.name for label in await kit.services.labels.summary(admin)}


async def test_unknown_labels_are_not_found(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(NotFound):
        await kit.services.labels.get(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.labels.modify(admin, 999, LabelChanges(name="x"))
    with pytest.raises(NotFound):
        await kit.services.labels.delete(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.labels.delete_by_name(admin, "nothing")


async def test_labels_are_listed_ordered_and_paged(kit: InMemoryKit, admin: Viewer) -> None:
    for name in ("zz-b", "zz-a", "zz-c"):
        await kit.services.labels.create(admin, name=name, query=SQL)
    page = await kit.services.labels.list(admin, ListOptions(order_key="name", order_direction="desc", per_page=2,
                                                             query="zz-"))
    assert [v.label.name for v in page] == ["zz-c", "zz-b"]
    ids = [label.id for label in await kit.services.labels.summary(admin)]
    assert ids == sorted(ids)


async def test_refused_label_writes_record_nothing(kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    observer = await make_user(global_role="observer")
    label = await kit.services.labels.create(admin, name="Taken", query=SQL)
    before = await last_activity(kit, admin)
    with pytest.raises(AlreadyExists):
        await kit.services.labels.create(admin, name="Taken", query=SQL)
    with pytest.raises(PermissionDenied):
        await kit.services.labels.delete(observer, label.label.id)
    with pytest.raises(InvalidArgument):
        await kit.services.labels.modify(admin, label.label.id, LabelChanges(platform="beos"))
    assert await last_activity(kit, admin) == before
