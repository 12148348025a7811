"""Users (fleet_core.services.users): creation rules, role-change activities, sessions, deletion.

Role exclusivity, unique emails, the last admin, self-service email changes and team admins'
reach are tested in test_users_and_invites.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.users import Role
from fleet_core.rules.paging import ListOptions
from fleet_core.services.users import UserChanges, UserInput, parse_roles
from tests.unit.services.support import PASSWORD, MakeUser, create_team, last_activity, no_deadline

pytestmark = pytest.mark.anyio

ROLES = [r.value for r in Role]


@no_deadline
@given(st.none() | st.sampled_from(ROLES),
       st.lists(st.tuples(st.integers(1, 4), st.sampled_from(ROLES)), max_size=4, unique_by=lambda t: t[0]))
def test_a_role_assignment_is_one_global_role_or_some_team_roles(global_role: str | None,
                                                                  teams: list[tuple[int, str]]) -> None:
    if (global_role is None) == (not teams):
        with pytest.raises(InvalidArgument):
            parse_roles(global_role, teams)
    else:
        role, memberships = parse_roles(global_role, teams)
        assert role == (Role(global_role) if global_role else None)
        assert [(m.team_id, m.role.value) for m in memberships] == sorted(teams)


def test_a_team_listed_twice_or_an_unknown_role_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_roles(None, [(1, "observer"), (1, "admin"), (2, "owner")])
    assert [n for n, _ in caught.value.problems] == ["teams", "teams"]


async def test_a_new_user_needs_a_name_an_email_and_a_good_password(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.users.create(admin, UserInput(name=" ", email="not-an-email", password="short",
                                                         global_role="observer"))
    assert [n for n, _ in caught.value.problems][:2] == ["name", "email"]
    assert "password" in [n for n, _ in caught.value.problems]
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.users.create(admin, UserInput(name="N", email="n@example.com", global_role="observer"))
    assert [n for n, _ in caught.value.problems] == ["password"]
    sso = await kit.services.users.create(admin, UserInput(name="S", email="s@example.com", sso_enabled=True,
                                                           global_role="observer"))
    assert sso.sso_enabled


async def test_creating_a_user_records_the_user_and_each_role(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    user = await kit.services.users.create(admin, UserInput(name="Team", email="t@example.com", password=PASSWORD,
                                                            teams=[(team_id, "maintainer")]))
    feed = await kit.services.activities.list(admin, ListOptions(order_key="id", order_direction="desc", per_page=2))
    assert [(a.type, a.details) for a in reversed(feed)] == [
        ("created_user", {"user_id": user.id, "user_name": "Team", "user_email": "t@example.com"}),
        ("changed_user_team_role", {"user_id": user.id, "user_name": "Team", "user_email": "t@example.com",
                                    "role": "maintainer", "team_id": team_id, "team_name": "Apples"}),
    ]


async def test_leaving_a_team_is_recorded(kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    user = await make_user(teams=[(apples, "observer")])
    moved = await kit.services.users.modify(admin, user.user.id, UserChanges(teams=[(pears, "admin")]))
    assert [(m.team_id, m.role) for m in moved.teams] == [(pears, Role.ADMIN)]
    feed = await kit.services.activities.list(admin, ListOptions(order_key="id", order_direction="desc", per_page=2))
    assert sorted((a.type, a.details["team_id"]) for a in feed) == [  # type: ignore[index]
        ("changed_user_team_role", pears), ("deleted_user_team_role", apples)]


async def test_users_read_themselves_and_global_users_read_everyone(kit: InMemoryKit, admin: Viewer,
                                                                   make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    member = await make_user(teams=[(team_id, "observer")])
    observer = await make_user(global_role="observer")
    assert (await kit.services.users.get(member, member.user.id)).id == member.user.id
    assert (await kit.services.users.get(observer, member.user.id)).id == member.user.id
    with pytest.raises(PermissionDenied):
        await kit.services.users.get(member, observer.user.id)
    with pytest.raises(PermissionDenied):
        await kit.services.users.list(member, ListOptions())
    with pytest.raises(NotFound):
        await kit.services.users.get(admin, 999)


async def test_users_are_listed_per_team(kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    member = await make_user(teams=[(apples, "observer")])
    await make_user(global_role="observer")
    assert [u.id for u in await kit.services.users.list(admin, ListOptions(), team_id=apples)] == [member.user.id]
    assert len(await kit.services.users.list(admin, ListOptions())) == 3


async def test_only_admins_change_api_only(kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    me = await make_user(global_role="maintainer")
    with pytest.raises(PermissionDenied):
        await kit.services.users.modify(me, me.user.id, UserChanges(api_only=True))
    assert (await kit.services.users.modify(admin, me.user.id, UserChanges(api_only=True))).api_only


async def test_single_sign_on_users_cannot_be_made_to_reset_a_password(kit: InMemoryKit, admin: Viewer) -> None:
    sso = await kit.services.users.create(admin, UserInput(name="S", email="s@example.com", sso_enabled=True,
                                                           global_role="observer"))
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.users.require_password_reset(admin, sso.id, True)
    assert [n for n, _ in caught.value.problems] == ["require"]
    assert not (await kit.services.users.require_password_reset(admin, sso.id, False)).force_password_reset


async def test_sessions_are_read_and_ended_by_their_owner_or_an_admin(kit: InMemoryKit, admin: Viewer,
                                                                      make_user: MakeUser) -> None:
    me = await make_user(global_role="observer")
    other = await make_user(global_role="maintainer")
    _, second_token = await kit.services.auth.login(me.user.email, PASSWORD)
    sessions = await kit.services.users.list_sessions(me, me.user.id)
    assert len(sessions) == 2
    assert (await kit.services.users.get_session(me, sessions[0].id)).user_id == me.user.id
    with pytest.raises(PermissionDenied):
        await kit.services.users.list_sessions(other, me.user.id)
    with pytest.raises(PermissionDenied):
        await kit.services.users.delete_session(other, sessions[0].id)
    assert me.session is not None
    await kit.services.users.delete_session(admin, me.session.id)
    with pytest.raises(NotFound):
        await kit.services.users.get_session(admin, me.session.id)
    await kit.services.auth.authenticate(second_token)
    await kit.services.users.delete_sessions(me, me.user.id)
    with pytest.raises(AuthFailed):
        await kit.services.auth.authenticate(second_token)
    with pytest.raises(NotFound):
        await kit.services.users.list_sessions(admin, 999)


async def test_deleting_a_user_is_recorded_and_ends_their_access(kit: InMemoryKit, admin: Viewer,
                                                                 make_user: MakeUser) -> None:
    user = await make_user(global_role="observer")
    await kit.services.users.delete(admin, user.user.id)
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details["user_id"]) == ("deleted_user", user.user.id)  # type: ignore[index]
    with pytest.raises(NotFound):
        await kit.services.users.get(admin, user.user.id)
    with pytest.raises(AuthFailed):
        await kit.services.auth.login(user.user.email, PASSWORD)
    with pytest.raises(NotFound):
        await kit.services.users.delete(admin, user.user.id)
