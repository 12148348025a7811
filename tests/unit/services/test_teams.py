"""Teams (fleet_core.services.teams): who may see and change them, membership, transfers, deletion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.users import Role
from fleet_core.rules.paging import ListOptions
from fleet_core.services.teams import MAX_TEAM_NAME_LENGTH, TeamChanges, checked_team_name
from tests.unit.services.support import (
    Announcements,
    MakeUser,
    activity_types,
    create_team,
    enroll_host,
    last_activity,
    no_deadline,
)

pytestmark = pytest.mark.anyio


async def test_a_new_team_is_recorded_and_its_name_trimmed(kit: InMemoryKit, admin: Viewer) -> None:
    view = await kit.services.teams.create(admin, name="  Apples ", description="fruit")
    assert (view.team.name, view.team.description, view.user_count, view.host_count) == ("Apples", "fruit", 0, 0)
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("created_team", {"team_id": view.team.id, "team_name": "Apples"})


@pytest.mark.parametrize("name", ["", "   ", "x" * (MAX_TEAM_NAME_LENGTH + 1)])
async def test_a_team_name_must_be_present_and_not_too_long(kit: InMemoryKit, admin: Viewer, name: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.teams.create(admin, name=name)
    assert [n for n, _ in caught.value.problems] == ["name"]
    assert await kit.services.teams.list(admin, ListOptions()) == []


@no_deadline
@given(st.text(max_size=300))
def test_a_checked_team_name_is_the_trimmed_name_when_it_fits(name: str) -> None:
    stripped = name.strip()
    if stripped and len(stripped) <= MAX_TEAM_NAME_LENGTH:
        assert checked_team_name(name) == stripped
    else:
        with pytest.raises(InvalidArgument):
            checked_team_name(name)


async def test_team_names_are_unique_whatever_their_case(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.teams.create(admin, name="Apples")
    other = await kit.services.teams.create(admin, name="Pears")
    with pytest.raises(AlreadyExists):
        await kit.services.teams.create(admin, name="APPLES")
    with pytest.raises(AlreadyExists):
        await kit.services.teams.modify(admin, other.team.id, TeamChanges(name="apples"))


@pytest.mark.parametrize("role", ["maintainer", "observer"])
async def test_only_global_admins_create_and_delete_teams(kit: InMemoryKit, admin: Viewer, make_user: MakeUser,
                                                         role: str) -> None:
    team_id = await create_team(kit, admin, "Apples")
    global_user = await make_user(global_role=role)
    team_admin = await make_user(teams=[(team_id, "admin")])
    for viewer in (global_user, team_admin):
        with pytest.raises(PermissionDenied):
            await kit.services.teams.create(viewer, name="Mine")
        with pytest.raises(PermissionDenied):
            await kit.services.teams.delete(viewer, team_id)


async def test_team_users_see_only_their_teams_and_secrets_only_as_writers(kit: InMemoryKit, admin: Viewer,
                                                                          make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    await kit.services.config.replace_enroll_secrets(admin, ["apple-secret"], apples)
    observer = await make_user(teams=[(apples, "observer")])
    maintainer = await make_user(teams=[(apples, "maintainer")])
    [seen] = await kit.services.teams.list(observer, ListOptions())
    assert (seen.team.id, seen.secrets) == (apples, None)
    [seen] = await kit.services.teams.list(maintainer, ListOptions())
    assert [s.secret for s in seen.secrets or ()] == ["apple-secret"]
    with pytest.raises(PermissionDenied):
        await kit.services.teams.get(observer, pears)
    assert (await kit.services.teams.get(observer, apples)).team.name == "Apples"
    assert [v.team.name for v in await kit.services.teams.list(admin, ListOptions())] == ["Apples", "Pears"]


async def test_unknown_teams_are_not_found(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(NotFound):
        await kit.services.teams.get(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.teams.modify(admin, 999, TeamChanges(name="x"))
    with pytest.raises(NotFound):
        await kit.services.teams.delete(admin, 999)


async def test_listing_searches_orders_and_pages(kit: InMemoryKit, admin: Viewer) -> None:
    for name in ("Cherries", "Apples", "Bananas", "Apricots"):
        await kit.services.teams.create(admin, name=name)

    async def names(options: ListOptions) -> list[str]:
        return [v.team.name for v in await kit.services.teams.list(admin, options)]

    assert await names(ListOptions(order_key="name")) == ["Apples", "Apricots", "Bananas", "Cherries"]
    assert await names(ListOptions(order_key="name", order_direction="desc", per_page=2, page=1)) == [
        "Apricots", "Apples"]
    assert await names(ListOptions(order_key="name", query="ap")) == ["Apples", "Apricots"]


async def test_a_team_admin_may_modify_their_team_but_not_another(kit: InMemoryKit, admin: Viewer,
                                                                 make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    team_admin = await make_user(teams=[(apples, "admin")])
    maintainer = await make_user(teams=[(apples, "maintainer")])
    renamed = await kit.services.teams.modify(team_admin, apples, TeamChanges(description="crisp"))
    assert (renamed.team.name, renamed.team.description) == ("Apples", "crisp")
    with pytest.raises(PermissionDenied):
        await kit.services.teams.modify(team_admin, pears, TeamChanges(description="soft"))
    with pytest.raises(PermissionDenied):
        await kit.services.teams.modify(maintainer, apples, TeamChanges(description="soft"))


async def test_agent_options_fall_back_to_the_global_ones_and_changes_are_recorded_and_announced(
        kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    global_options = (await kit.services.config.get(admin)).agent_options
    assert (await kit.services.teams.get(admin, team_id)).agent_options == global_options
    heard = Announcements(kit)
    options = {"config": {"options": {"distributed_interval": 7}}}
    view = await kit.services.teams.modify(admin, team_id, TeamChanges(agent_options={"spec": options}))
    assert view.agent_options == options
    assert heard.config_changes == 1
    assert (await last_activity(kit, admin)).details == {"global": False, "team_id": team_id, "team_name": "Apples"}
    await kit.services.teams.modify(admin, team_id, TeamChanges(agent_options=options))  # unchanged: no news
    assert heard.config_changes == 1
    assert (await kit.services.teams.modify(admin, team_id, TeamChanges(agent_options=None))).agent_options == (
        global_options)


async def test_unknown_agent_option_keys_are_refused(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    with pytest.raises(InvalidArgument):
        await kit.services.teams.modify(admin, team_id, TeamChanges(agent_options={"nonsense": {}}))


async def test_user_ids_are_the_whole_membership(kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    stays = await make_user(teams=[(team_id, "maintainer")])
    leaves = await make_user(teams=[(team_id, "observer")])
    other_team = await create_team(kit, admin, "Pears")
    joins = await make_user(teams=[(other_team, "admin")])
    view = await kit.services.teams.modify(admin, team_id, TeamChanges(user_ids=[stays.user.id, joins.user.id]))
    assert sorted(view.user_ids or ()) == sorted([stays.user.id, joins.user.id])
    joined = await kit.services.users.get(admin, joins.user.id)
    assert {(m.team_id, m.role) for m in joined.teams} == {(team_id, Role.OBSERVER), (other_team, Role.ADMIN)}
    assert (await kit.services.users.get(admin, stays.user.id)).teams[0].role is Role.MAINTAINER
    assert (await kit.services.users.get(admin, leaves.user.id)).teams == ()


async def test_unknown_users_and_users_with_a_global_role_cannot_join(kit: InMemoryKit, admin: Viewer,
                                                                     make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    global_observer = await make_user(global_role="observer")
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.teams.modify(admin, team_id, TeamChanges(user_ids=[global_observer.user.id, 999]))
    assert [n for n, _ in caught.value.problems] == ["user_ids", "user_ids"]
    assert (await kit.services.teams.get(admin, team_id)).user_ids == ()


async def test_host_ids_transfer_hosts_and_announce_them(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    host = await enroll_host(kit, admin, "laptop")
    heard = Announcements(kit)
    view = await kit.services.teams.modify(admin, team_id, TeamChanges(host_ids=[host.id]))
    assert (view.host_ids, view.host_count) == ((host.id,), 1)
    assert heard.host_ids == {host.id}
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("transferred_hosts", {
        "team_id": team_id, "team_name": "Apples", "host_ids": [host.id], "host_display_names": ["laptop"]})
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.teams.modify(admin, team_id, TeamChanges(host_ids=[host.id, 999]))
    assert caught.value.problems[0][0] == "host_ids"


async def test_a_team_admin_may_not_pull_in_hosts_from_elsewhere(kit: InMemoryKit, admin: Viewer,
                                                                make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    loose = await enroll_host(kit, admin, "loose")
    pear_host = await enroll_host(kit, admin, "pear", team_id=pears)
    team_admin = await make_user(teams=[(apples, "admin")])
    for host in (loose, pear_host):
        with pytest.raises(PermissionDenied):
            await kit.services.teams.modify(team_admin, apples, TeamChanges(host_ids=[host.id]))
    assert (await kit.services.teams.get(admin, apples)).host_ids == ()


async def test_deleting_a_team_frees_its_hosts_and_drops_its_secrets_and_roles(
        kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    host = await enroll_host(kit, admin, "laptop", team_id=team_id)
    member = await make_user(teams=[(team_id, "maintainer")])
    await kit.services.config.replace_enroll_secrets(admin, ["apple-secret"], team_id)
    heard = Announcements(kit)
    await kit.services.teams.delete(admin, team_id)
    assert heard.host_ids == {host.id}
    assert (await kit.services.hosts.get(admin, host.id)).host.team_id is None
    assert (await kit.services.users.get(admin, member.user.id)).teams == ()
    assert (await activity_types(kit, admin))[-1] == "deleted_team"
    with pytest.raises(NotFound):
        await kit.services.config.enroll_secrets(admin, team_id)
    with pytest.raises(NotFound):
        await kit.services.teams.get(admin, team_id)
