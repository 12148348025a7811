"""Invites (fleet_core.services.invites): who may invite whom, and what is stored and mailed.

Invite tokens, expiry, mail failures and uniqueness are tested in test_users_and_invites.py."""

from __future__ import annotations

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.users import Role
from fleet_core.rules.paging import ListOptions
from fleet_core.services.invites import InviteChanges, InviteInput
from tests.unit.services.support import MakeUser, create_team, token_in

pytestmark = pytest.mark.anyio


async def enable_smtp(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.modify(admin, {"smtp_settings": {
        "enable_smtp": True, "server": "mail.example.com", "sender_address": "fleet@example.com",
        "authentication_type": "authtype_none"}})


async def test_without_smtp_an_invite_is_stored_and_nothing_is_mailed(kit: InMemoryKit, admin: Viewer) -> None:
    invite = await kit.services.invites.create(admin, InviteInput(email=" new@example.com ", name=" New ",
                                                                  global_role="observer", position="Ops"))
    assert (invite.email, invite.name, invite.global_role, invite.position, invite.invited_by) == (
        "new@example.com", "New", Role.OBSERVER, "Ops", admin.user.id)
    assert kit.mailer.sent == []
    assert [i.id for i in await kit.services.invites.list(admin, ListOptions())] == [invite.id]


async def test_the_mail_links_to_the_server_and_names_the_organisation(kit: InMemoryKit, admin: Viewer) -> None:
    await enable_smtp(kit, admin)
    await kit.services.invites.create(admin, InviteInput(email="new@example.com", name="New",
                                                         global_role="observer"))
    mail = kit.mailer.sent[-1]
    token = token_in(mail.text)
    assert mail.subject == "You have been invited to Acme on Fleet"
    assert f"https://fleet.example.com/login/invites/{token}" in mail.text


async def test_an_invite_needs_a_name_an_email_and_one_kind_of_role(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.invites.create(admin, InviteInput(email="nope", name=" ", global_role="observer"))
    assert [n for n, _ in caught.value.problems] == ["name", "email"]
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.invites.create(admin, InviteInput(email="n@example.com", name="N"))
    assert [n for n, _ in caught.value.problems] == ["global_role"]
    assert await kit.services.invites.list(admin, ListOptions()) == []


async def test_team_admins_invite_to_their_teams_only_and_see_only_those_invites(
        kit: InMemoryKit, admin: Viewer, make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    team_admin = await make_user(teams=[(apples, "admin")])
    mine = await kit.services.invites.create(team_admin, InviteInput(email="a@example.com", name="A",
                                                                     teams=[(apples, "observer")]))
    for roles in ({"teams": [(pears, "observer")]}, {"global_role": "observer"},
                  {"teams": [(apples, "observer"), (pears, "observer")]}):
        with pytest.raises(PermissionDenied):
            await kit.services.invites.create(team_admin, InviteInput(email="x@example.com", name="X",
                                                                      **roles))
    theirs = await kit.services.invites.create(admin, InviteInput(email="p@example.com", name="P",
                                                                  teams=[(pears, "observer")]))
    assert [i.id for i in await kit.services.invites.list(team_admin, ListOptions())] == [mine.id]
    assert {i.id for i in await kit.services.invites.list(admin, ListOptions())} == {mine.id, theirs.id}
    with pytest.raises(PermissionDenied):
        await kit.services.invites.delete(team_admin, theirs.id)
    await kit.services.invites.delete(team_admin, mine.id)
    assert [i.id for i in await kit.services.invites.list(admin, ListOptions())] == [theirs.id]


async def test_members_who_administer_no_team_may_not_list_invites(kit: InMemoryKit, admin: Viewer,
                                                                    make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    for viewer in (await make_user(teams=[(team_id, "maintainer")]), await make_user(global_role="observer")):
        with pytest.raises(PermissionDenied):
            await kit.services.invites.list(viewer, ListOptions())


async def test_an_invite_can_be_edited_but_not_onto_a_users_email(kit: InMemoryKit, admin: Viewer) -> None:
    invite = await kit.services.invites.create(admin, InviteInput(email="n@example.com", name="N",
                                                                  global_role="observer"))
    edited = await kit.services.invites.update(admin, invite.id, InviteChanges(name=" Renamed ", position="Dev",
                                                                               email="renamed@example.com"))
    assert (edited.name, edited.position, edited.email, edited.global_role) == (
        "Renamed", "Dev", "renamed@example.com", Role.OBSERVER)
    with pytest.raises(AlreadyExists):
        await kit.services.invites.update(admin, invite.id, InviteChanges(email="admin@example.com"))
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.invites.update(admin, invite.id, InviteChanges(name=" ", email="nope"))
    assert [n for n, _ in caught.value.problems] == ["name", "email"]


async def test_unknown_invites_and_tokens_are_not_found(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(NotFound):
        await kit.services.invites.delete(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.invites.update(admin, 999, InviteChanges(name="x"))
    with pytest.raises(NotFound):
        await kit.services.invites.verify("no-such-token")
