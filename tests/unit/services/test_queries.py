"""Saved queries (fleet_core.services.queries): scopes, validation, uniqueness, deletion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.packs import PackFields, ScheduleFields
from fleet_core.model.queries import QueryFields
from fleet_core.rules.paging import ListOptions
from fleet_core.services.queries import (
    MAX_INTERVAL,
    QUERY_PLATFORMS,
    QueryChanges,
    checked_fields,
    normalized_platform,
)
from tests.unit.services.support import Announcements, MakeUser, activity_types, create_team, last_activity, no_deadline

pytestmark = pytest.mark.anyio

SQL = "SELECT 1;"


def fields(name: str = "uptime", **changes: object) -> QueryFields:
    return QueryFields(name=name, query=changes.pop("query", SQL), **changes)  # type: ignore[arg-type]


async def test_a_saved_query_is_recorded_announced_and_authored_by_its_creator(kit: InMemoryKit,
                                                                              admin: Viewer) -> None:
    heard = Announcements(kit)
    saved = await kit.services.queries.create(admin, fields(" uptime ", interval=60))
    assert (saved.name, saved.interval, saved.team_id, saved.author_id) == ("uptime", 60, None, admin.user.id)
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("created_saved_query", {"query_id": saved.id,
                                                                         "query_name": "uptime"})
    assert heard.config_changes == 1


async def test_every_invalid_field_is_named_at_once(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.queries.create(admin, QueryFields(name=" ", query="  ", logging="sometimes",
                                                             interval=-1, platform="beos"))
    assert [n for n, _ in caught.value.problems] == ["name", "query", "logging", "interval", "platform"]
    assert await kit.services.queries.list(admin, ListOptions()) == []


@no_deadline
@given(st.lists(st.sampled_from(sorted(QUERY_PLATFORMS)), max_size=4), st.sampled_from(["", " "]))
def test_known_platforms_are_kept_in_order_without_blanks(platforms: list[str], pad: str) -> None:
    assert normalized_platform(",".join(pad + p + pad for p in platforms)) == ",".join(platforms)


@no_deadline
@given(st.integers())
def test_an_interval_is_a_non_negative_32_bit_number(interval: int) -> None:
    if 0 <= interval <= MAX_INTERVAL:
        assert checked_fields(fields(interval=interval)).interval == interval
    else:
        with pytest.raises(InvalidArgument):
            checked_fields(fields(interval=interval))


async def test_names_are_unique_within_a_scope_only(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    await kit.services.queries.create(admin, fields("uptime"))
    await kit.services.queries.create(admin, fields("uptime"), team_id=team_id)
    with pytest.raises(AlreadyExists):
        await kit.services.queries.create(admin, fields("uptime"))
    other = await kit.services.queries.create(admin, fields("other"))
    with pytest.raises(AlreadyExists):
        await kit.services.queries.modify(admin, other.id, QueryChanges(name="uptime"))


async def test_team_users_read_global_queries_and_write_only_their_teams(kit: InMemoryKit, admin: Viewer,
                                                                        make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    global_query = await kit.services.queries.create(admin, fields("global"))
    pear_query = await kit.services.queries.create(admin, fields("pear"), team_id=pears)
    maintainer = await make_user(teams=[(apples, "maintainer")])
    observer = await make_user(teams=[(apples, "observer")])

    assert (await kit.services.queries.get(observer, global_query.id)).name == "global"
    with pytest.raises(PermissionDenied):
        await kit.services.queries.get(observer, pear_query.id)
    with pytest.raises(PermissionDenied):
        await kit.services.queries.list(maintainer, ListOptions(), team_id=pears)
    own = await kit.services.queries.create(maintainer, fields("mine"), team_id=apples)
    assert own.team_id == apples
    with pytest.raises(PermissionDenied):
        await kit.services.queries.create(observer, fields("theirs"), team_id=apples)
    with pytest.raises(PermissionDenied):
        await kit.services.queries.create(maintainer, fields("global too"))
    with pytest.raises(PermissionDenied):
        await kit.services.queries.modify(maintainer, global_query.id, QueryChanges(description="x"))
    with pytest.raises(PermissionDenied):
        await kit.services.queries.delete(maintainer, pear_query.id)


async def test_global_observers_read_but_do_not_write(kit: InMemoryKit, admin: Viewer,
                                                      make_user: MakeUser) -> None:
    saved = await kit.services.queries.create(admin, fields())
    observer = await make_user(global_role="observer")
    assert [q.id for q in await kit.services.queries.list(observer, ListOptions())] == [saved.id]
    with pytest.raises(PermissionDenied):
        await kit.services.queries.create(observer, fields("mine"))
    with pytest.raises(PermissionDenied):
        await kit.services.queries.delete_many(observer, [saved.id])


async def test_listing_a_scope_shows_only_that_scope(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    await kit.services.queries.create(admin, fields("b global"))
    await kit.services.queries.create(admin, fields("a global"))
    await kit.services.queries.create(admin, fields("team"), team_id=team_id)
    assert [q.name for q in await kit.services.queries.list(admin, ListOptions(order_key="name"))] == [
        "a global", "b global"]
    assert [q.name for q in await kit.services.queries.list(admin, ListOptions(), team_id=team_id)] == ["team"]
    with pytest.raises(NotFound):
        await kit.services.queries.list(admin, ListOptions(), team_id=999)


async def test_a_patch_changes_only_what_it_names(kit: InMemoryKit, admin: Viewer) -> None:
    saved = await kit.services.queries.create(admin, fields(description="before", interval=60, platform="darwin"))
    heard = Announcements(kit)
    changed = await kit.services.queries.modify(admin, saved.id, QueryChanges(description="after"))
    assert (changed.description, changed.interval, changed.platform, changed.query) == ("after", 60, "darwin", SQL)
    assert (await last_activity(kit, admin)).type == "edited_saved_query"
    assert heard.config_changes == 1
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.queries.modify(admin, saved.id, QueryChanges(query=""))
    assert [n for n, _ in caught.value.problems] == ["query"]


async def test_unknown_queries_are_not_found(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(NotFound):
        await kit.services.queries.get(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.queries.modify(admin, 999, QueryChanges(name="x"))
    with pytest.raises(NotFound):
        await kit.services.queries.delete(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.queries.delete_by_name(admin, "nothing")


async def test_deleting_by_name_looks_in_the_given_scope_only(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    await kit.services.queries.create(admin, fields("uptime"), team_id=team_id)
    with pytest.raises(NotFound):
        await kit.services.queries.delete_by_name(admin, "uptime")
    await kit.services.queries.delete_by_name(admin, "uptime", team_id=team_id)
    assert await kit.services.queries.list(admin, ListOptions(), team_id=team_id) == []
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("deleted_saved_query", {"query_name": "uptime"})


async def test_deleting_a_query_unschedules_it_from_every_pack(kit: InMemoryKit, admin: Viewer) -> None:
    saved = await kit.services.queries.create(admin, fields())
    pack = await kit.services.packs.create(admin, PackFields(name="Pack"))
    await kit.services.packs.schedule(admin, pack.id, saved.id, ScheduleFields(interval=60))
    assert [p.name for p in (await kit.services.queries.get(admin, saved.id)).packs] == ["Pack"]
    await kit.services.queries.delete(admin, saved.id)
    assert await kit.services.packs.scheduled(admin, pack.id) == []


async def test_deleting_many_is_all_or_nothing_and_skips_unknown_ids(kit: InMemoryKit, admin: Viewer,
                                                                    make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    mine = await kit.services.queries.create(admin, fields("mine"), team_id=apples)
    global_query = await kit.services.queries.create(admin, fields("global"))
    maintainer = await make_user(teams=[(apples, "maintainer")])
    with pytest.raises(PermissionDenied):
        await kit.services.queries.delete_many(maintainer, [mine.id, global_query.id])
    assert len(await kit.services.queries.list(admin, ListOptions(), team_id=apples)) == 1
    with pytest.raises(InvalidArgument):
        await kit.services.queries.delete_many(admin, [])
    assert await kit.services.queries.delete_many(admin, [mine.id, global_query.id, 999]) == 2
    activity = await last_activity(kit, admin)
    assert (activity.type, sorted(activity.details["query_ids"])) == (  # type: ignore[index]
        "deleted_multiple_saved_query", sorted([mine.id, global_query.id]))
    recorded = await activity_types(kit, admin)
    assert await kit.services.queries.delete_many(admin, [999]) == 0
    assert await activity_types(kit, admin) == recorded  # nothing deleted, nothing recorded
