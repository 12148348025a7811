"""Users, roles, invites, setup."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, AuthFailed, Conflict, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.users import Role
from fleet_core.rules.paging import ListOptions
from fleet_core.services.invites import InviteInput
from fleet_core.services.setup import SetupInput
from fleet_core.services.users import UserChanges, UserInput
from tests.unit.services.support import PASSWORD, MakeUser, make_team, token_in

pytestmark = pytest.mark.anyio


def setup_input(email: str = "admin@example.com") -> SetupInput:
    return SetupInput(name="Admin", email=email, password=PASSWORD, password_confirmation=PASSWORD,
                      org_name="Acme", server_url="https://fleet.example.com")


async def test_setup_runs_once(kit: InMemoryKit) -> None:
    assert await kit.services.setup.required()
    await kit.services.setup.setup(setup_input())
    assert not await kit.services.setup.required()
    with pytest.raises(Conflict):
        await kit.services.setup.setup(setup_input("second@example.com"))


async def test_concurrent_setups_create_exactly_one_admin(kit: InMemoryKit) -> None:
    results = await asyncio.gather(*(kit.services.setup.setup(setup_input(f"a{i}@example.com")) for i in range(4)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))


async def test_setup_validates_every_field(kit: InMemoryKit) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.setup.setup(SetupInput(name="", email="nope", password="short",
                                                  password_confirmation="other", org_name="", server_url="x"))
    assert [n for n, _ in caught.value.problems] == [
        "admin.name", "admin.email", "admin.password", "admin.password_confirmation", "org_info.org_name",
        "server_url"]
    assert await kit.services.setup.required()


async def test_users_hold_a_global_role_or_team_roles_never_both(kit: InMemoryKit, admin: Viewer) -> None:
    team = await make_team(kit, "Apples")
    with pytest.raises(InvalidArgument):
        await kit.services.users.create(admin, UserInput(name="Both", email="both@example.com", password=PASSWORD,
                                                         global_role="observer", teams=[(team, "observer")]))
    with pytest.raises(InvalidArgument):
        await kit.services.users.create(admin, UserInput(name="None", email="none@example.com", password=PASSWORD))
    user = await kit.services.users.create(admin, UserInput(name="Team", email="team@example.com",
                                                            password=PASSWORD, teams=[(team, "maintainer")]))
    assert (user.global_role, [(m.team_id, m.role, m.team_name) for m in user.teams]) == (
        None, [(team, Role.MAINTAINER, "Apples")])
    changed = await kit.services.users.modify(admin, user.id, UserChanges(global_role="observer"))
    assert (changed.global_role, changed.teams) == (Role.OBSERVER, ())


async def test_a_failed_create_leaves_nothing_behind(kit: InMemoryKit, admin: Viewer) -> None:
    before = await kit.services.activities.list(admin, ListOptions())
    with pytest.raises(NotFound):
        await kit.services.users.create(admin, UserInput(name="Ghost", email="ghost@example.com", password=PASSWORD,
                                                         teams=[(999, "observer")]))
    assert await kit.services.activities.list(admin, ListOptions()) == before
    assert [u.email for u in await kit.services.users.list(admin, ListOptions())] == ["admin@example.com"]


async def test_emails_are_unique_regardless_of_case(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(AlreadyExists):
        await kit.services.users.create(admin, UserInput(name="Dup", email="ADMIN@example.com", password=PASSWORD,
                                                         global_role="observer"))


async def test_new_users_must_reset_their_password_unless_api_only(kit: InMemoryKit, admin: Viewer) -> None:
    forced = await kit.services.users.create(admin, UserInput(name="F", email="f@example.com", password=PASSWORD,
                                                              global_role="observer"))
    api = await kit.services.users.create(admin, UserInput(name="A", email="a@example.com", password=PASSWORD,
                                                           global_role="observer", api_only=True))
    assert (forced.force_password_reset, api.force_password_reset) == (True, False)


async def test_the_last_global_admin_cannot_be_removed_or_demoted(kit: InMemoryKit, admin: Viewer,
                                                                   make_user: MakeUser) -> None:
    with pytest.raises(InvalidArgument):
        await kit.services.users.delete(admin, admin.user.id)
    with pytest.raises(InvalidArgument):
        await kit.services.users.modify(admin, admin.user.id, UserChanges(global_role="observer"))
    second = await make_user(global_role="admin")
    await kit.services.users.delete(second, admin.user.id)


async def test_changing_ones_own_email_needs_the_current_password(kit: InMemoryKit, make_user: MakeUser) -> None:
    me = await make_user(global_role="observer")
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.users.modify(me, me.user.id, UserChanges(email="new@example.com"))
    assert caught.value.problems[0][0] == "password"
    with pytest.raises(InvalidArgument):
        await kit.services.users.modify(me, me.user.id, UserChanges(email="new@example.com", password="wrong-pw-123!"))
    changed = await kit.services.users.modify(me, me.user.id, UserChanges(email="new@example.com", password=PASSWORD))
    assert changed.email == "new@example.com"


async def test_non_admins_cannot_change_roles_even_their_own(kit: InMemoryKit, make_user: MakeUser) -> None:
    me = await make_user(global_role="maintainer")
    with pytest.raises(PermissionDenied):
        await kit.services.users.modify(me, me.user.id, UserChanges(global_role="admin"))
    renamed = await kit.services.users.modify(me, me.user.id, UserChanges(name="Renamed"))
    assert renamed.name == "Renamed"


async def test_team_admins_manage_only_their_teams_users(kit: InMemoryKit, admin: Viewer,
                                                         make_user: MakeUser) -> None:
    apples, pears = await make_team(kit, "Apples"), await make_team(kit, "Pears")
    team_admin = await make_user(teams=[(apples, "admin")])
    member = await kit.services.users.create(team_admin, UserInput(
        name="M", email="m@example.com", password=PASSWORD, teams=[(apples, "observer")]))
    with pytest.raises(PermissionDenied):
        await kit.services.users.create(team_admin, UserInput(name="X", email="x@example.com", password=PASSWORD,
                                                              teams=[(pears, "observer")]))
    with pytest.raises(PermissionDenied):
        await kit.services.users.create(team_admin, UserInput(name="G", email="g@example.com", password=PASSWORD,
                                                              global_role="observer"))
    listed = await kit.services.users.list(team_admin, ListOptions())
    assert {u.email for u in listed} == {team_admin.user.email, member.email}
    with pytest.raises(PermissionDenied):
        await kit.services.users.get(team_admin, admin.user.id)


async def test_require_password_reset_revokes_every_session(kit: InMemoryKit, admin: Viewer,
                                                            make_user: MakeUser) -> None:
    user = await make_user(global_role="observer")
    _, token = await kit.services.auth.login(user.user.email, PASSWORD)
    await kit.services.users.require_password_reset(admin, user.user.id, True)
    for t in (token,):
        with pytest.raises(AuthFailed):
            await kit.services.auth.authenticate(t, allow_pending_reset=True)
    assert await kit.services.users.list_sessions(admin, user.user.id) == []


async def test_an_admin_setting_a_password_forces_a_reset(kit: InMemoryKit, admin: Viewer,
                                                          make_user: MakeUser) -> None:
    user = await make_user(global_role="observer")
    changed = await kit.services.users.modify(admin, user.user.id, UserChanges(new_password="set-by-admin-1!"))
    assert changed.force_password_reset
    with pytest.raises(AuthFailed):
        assert user.session is not None
        await kit.services.auth.authenticate("x")
    await kit.services.auth.login(user.user.email, "set-by-admin-1!")


async def test_an_invite_mail_carries_a_token_that_registers_the_user_once(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.modify(admin, {"smtp_settings": {
        "enable_smtp": True, "server": "mail.example.com", "sender_address": "fleet@example.com",
        "authentication_type": "authtype_none"}})
    team = await make_team(kit, "Apples")
    invite = await kit.services.invites.create(admin, InviteInput(email="new@example.com", name="New",
                                                                  teams=[(team, "observer")]))
    token = token_in(kit.mailer.sent[-1].text)
    assert kit.mailer.sent[-1].to == "new@example.com"
    assert (await kit.services.invites.verify(token)).id == invite.id
    with pytest.raises(InvalidArgument):
        await kit.services.users.create_from_invite(invite_token=token, name="New", email="other@example.com",
                                                    password=PASSWORD, password_confirmation=PASSWORD)
    user = await kit.services.users.create_from_invite(invite_token=token, name="New", email="new@example.com",
                                                       password=PASSWORD, password_confirmation=PASSWORD)
    assert [(m.team_id, m.role) for m in user.teams] == [(team, Role.OBSERVER)]
    assert not user.force_password_reset
    with pytest.raises(NotFound):
        await kit.services.invites.verify(token)
    await kit.services.auth.login("new@example.com", PASSWORD)


async def test_invites_expire_after_five_days(kit: InMemoryKit, admin: Viewer, clock: MovableClock) -> None:
    await kit.services.config.modify(admin, {"smtp_settings": {
        "enable_smtp": True, "server": "mail.example.com", "sender_address": "fleet@example.com",
        "authentication_type": "authtype_none"}})
    await kit.services.invites.create(admin, InviteInput(email="late@example.com", name="Late",
                                                         global_role="observer"))
    token = token_in(kit.mailer.sent[-1].text)
    clock.advance(dt.timedelta(days=5, minutes=1))
    with pytest.raises(NotFound):
        await kit.services.invites.verify(token)


async def test_an_invite_mail_failure_stores_no_invite(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.modify(admin, {"smtp_settings": {
        "enable_smtp": True, "server": "mail.example.com", "sender_address": "fleet@example.com",
        "authentication_type": "authtype_none"}})
    kit.mailer.unavailable = True
    with pytest.raises(Exception, match="mail"):
        await kit.services.invites.create(admin, InviteInput(email="x@example.com", name="X", global_role="observer"))
    assert await kit.services.invites.list(admin, ListOptions()) == []


async def test_nobody_can_be_invited_twice_or_when_already_a_user(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.invites.create(admin, InviteInput(email="x@example.com", name="X", global_role="observer"))
    with pytest.raises(AlreadyExists):
        await kit.services.invites.create(admin, InviteInput(email="X@example.com", name="X", global_role="observer"))
    with pytest.raises(AlreadyExists):
        await kit.services.invites.create(admin, InviteInput(email="admin@example.com", name="A",
                                                             global_role="observer"))
