"""TeamRepository contract (fleet_core.ports), on every storage implementation."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.config import FailingPoliciesWebhook
from fleet_core.model.teams import (
    Team,
    TeamAutomations,
    TeamCounts,
    TeamJiraIntegration,
    TeamMembers,
    TeamZendeskIntegration,
)
from fleet_core.model.users import NewInvite, Role, TeamRole
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from tests.contract.conftest import AddUser

pytestmark = pytest.mark.anyio


async def test_an_added_team_is_found_by_id(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        team = await uow.teams.add(name="Servers", description="Linux fleet", at=at)
        await uow.commit()

    assert team == Team(id=team.id, name="Servers", description="Linux fleet", created_at=at)
    async with uow_factory() as uow:
        assert await uow.teams.get(team.id) == team
        assert await uow.teams.get(team.id + 1000) is None


async def test_a_taken_name_is_refused_whatever_its_case(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        await uow.teams.add(name="Laptops", description="", at=at)
        with pytest.raises(AlreadyExists):
            await uow.teams.add(name="Laptops", description="again", at=at)
        with pytest.raises(AlreadyExists):
            await uow.teams.add(name="LAPTOPS", description="shouting", at=at)
        await uow.teams.add(name="Desktops", description="", at=at)
        await uow.commit()

    async with uow_factory() as uow:
        assert [t.name for t in await uow.teams.get_many(range(1, 10))] == ["Laptops", "Desktops"]


async def test_a_team_is_found_by_name_whatever_its_case(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        team = await uow.teams.add(name="Build Servers", description="", at=at)
        await uow.teams.add(name="Build", description="", at=at)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.teams.get_by_name("Build Servers") == team
        assert await uow.teams.get_by_name("build servers") == team
        assert await uow.teams.get_by_name("Build Server") is None
        assert await uow.teams.get_by_name("") is None


async def test_get_many_returns_the_existing_teams_in_id_order(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        a, b, c = [await uow.teams.add(name=n, description="", at=at) for n in ("A", "B", "C")]

        assert await uow.teams.get_many([c.id, a.id, c.id + 100, b.id, a.id]) == [a, b, c]
        assert await uow.teams.get_many([b.id]) == [b]
        assert await uow.teams.get_many([]) == []


async def test_agent_options_are_stored_per_team_and_cleared_with_none(uow_factory: UnitOfWorkFactory, at) -> None:
    options = {"config": {"options": {"distributed_interval": 30}}}
    async with uow_factory() as uow:
        team = await uow.teams.add(name="Options", description="", at=at)
        assert team.agent_options is None
        await uow.teams.set_agent_options(team.id, options)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.teams.get(team.id)
        assert stored is not None and stored.agent_options == options
        await uow.teams.set_agent_options(team.id, None)
        await uow.commit()
    async with uow_factory() as uow:
        cleared = await uow.teams.get(team.id)
        assert cleared is not None and cleared.agent_options is None
        with pytest.raises(NotFound):
            await uow.teams.set_agent_options(team.id + 1000, options)


# ---- list, update, delete, counts, members ------------------------------------------------------

async def _enroll(uow, name: str, at, team_id: int | None) -> int:
    host = (await uow.hosts.enroll(osquery_host_id=name, node_key_hash=f"key-{name}", team_id=team_id, at=at,
                                   fields={})).host
    return int(host.id)


async def test_list_searches_names_orders_pages_and_filters_by_id(uow_factory: UnitOfWorkFactory, at) -> None:
    later = at + dt.timedelta(hours=1)
    async with uow_factory() as uow:
        b = await uow.teams.add(name="beta", description="Z", at=later)
        a = await uow.teams.add(name="Alpha", description="y", at=at)
        c = await uow.teams.add(name="alphabet", description="x", at=later)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.teams.list(ListOptions()) == [b, a, c]
        assert await uow.teams.list(ListOptions(order_key="name")) == [a, c, b]
        assert await uow.teams.list(ListOptions(order_key="name", order_direction="desc")) == [b, c, a]
        assert await uow.teams.list(ListOptions(order_key="description")) == [c, a, b]
        # Ties on created_at fall back to id ascending in either direction.
        assert await uow.teams.list(ListOptions(order_key="created_at", order_direction="desc")) == [b, c, a]
        assert await uow.teams.list(ListOptions(query="ALPH")) == [a, c]
        assert await uow.teams.list(ListOptions(query="%")) == []
        assert await uow.teams.list(ListOptions(per_page=2, page=1)) == [c]
        assert await uow.teams.list(ListOptions(), team_ids=frozenset({c.id, b.id})) == [b, c]
        assert await uow.teams.list(ListOptions(), team_ids=frozenset()) == []


async def test_update_renames_and_keeps_names_unique(uow_factory: UnitOfWorkFactory, at) -> None:
    async with uow_factory() as uow:
        one = await uow.teams.add(name="One", description="", at=at)
        await uow.teams.add(name="Two", description="", at=at)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.teams.update(one.id, name="TWO", description="")
        renamed = await uow.teams.update(one.id, name="one", description="first")
        assert renamed == Team(id=one.id, name="one", description="first", created_at=at)
        with pytest.raises(NotFound):
            await uow.teams.update(one.id + 1000, name="Ghost", description="")
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.teams.get(one.id) == renamed


async def test_delete_takes_secrets_and_roles_and_frees_hosts(
    uow_factory: UnitOfWorkFactory, at, add_user: AddUser
) -> None:
    async with uow_factory() as uow:
        doomed = await uow.teams.add(name="Doomed", description="", at=at)
        kept = await uow.teams.add(name="Kept", description="", at=at)
        user = await add_user(uow, "member@example.com", global_role=None, teams=(
            TeamRole(team_id=doomed.id, role=Role.ADMIN), TeamRole(team_id=kept.id, role=Role.OBSERVER)))
        invite = await uow.invites.add(NewInvite(
            invited_by=user.id, email="new@example.com", name="New", global_role=None,
            teams=(TeamRole(team_id=doomed.id, role=Role.OBSERVER),), token_hash="invite-hash", position=""))
        await uow.enroll_secrets.replace(doomed.id, ["doomed-secret"], at)
        await uow.enroll_secrets.replace(kept.id, ["kept-secret"], at)
        h1 = await _enroll(uow, "h1", at, doomed.id)
        h2 = await _enroll(uow, "h2", at, kept.id)
        h3 = await _enroll(uow, "h3", at, doomed.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.teams.delete(doomed.id) == [h1, h3]
        assert await uow.teams.delete(doomed.id) is None
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.teams.get(doomed.id) is None
        assert await uow.enroll_secrets.find("doomed-secret") is None
        assert await uow.enroll_secrets.find("kept-secret") is not None
        member = await uow.users.get(user.id)
        assert member is not None and [m.team_id for m in member.teams] == [kept.id]
        invited = await uow.invites.get(invite.id)
        assert invited is not None and invited.teams == ()
        moved = [await uow.hosts.get(h) for h in (h1, h2, h3)]
        assert [h.team_id for h in moved if h is not None] == [None, kept.id, None]
        assert await uow.teams.members(doomed.id) == TeamMembers()


async def test_counts_and_members_report_users_and_hosts_per_team(
    uow_factory: UnitOfWorkFactory, at, add_user: AddUser
) -> None:
    async with uow_factory() as uow:
        one = await uow.teams.add(name="One", description="", at=at)
        two = await uow.teams.add(name="Two", description="", at=at)
        empty = await uow.teams.add(name="Empty", description="", at=at)
        u1 = await add_user(uow, "u1@example.com", global_role=None,
                            teams=(TeamRole(team_id=one.id, role=Role.ADMIN),))
        u2 = await add_user(uow, "u2@example.com", global_role=None, teams=(
            TeamRole(team_id=one.id, role=Role.OBSERVER), TeamRole(team_id=two.id, role=Role.MAINTAINER)))
        await add_user(uow, "global@example.com")
        h1 = await _enroll(uow, "h1", at, two.id)
        await _enroll(uow, "h2", at, None)
        h3 = await _enroll(uow, "h3", at, two.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.teams.counts([one.id, two.id, empty.id, empty.id + 1000]) == {
            one.id: TeamCounts(2, 0), two.id: TeamCounts(1, 2), empty.id: TeamCounts(0, 0)}
        assert await uow.teams.counts([]) == {}
        assert await uow.teams.members(one.id) == TeamMembers(user_ids=(u1.id, u2.id))
        assert await uow.teams.members(two.id) == TeamMembers(user_ids=(u2.id,), host_ids=(h1, h3))
        assert await uow.teams.members(empty.id + 1000) == TeamMembers()


async def test_team_automations_are_stored_listed_and_go_with_the_team(uow_factory: UnitOfWorkFactory, at) -> None:
    automations = TeamAutomations(
        failing_policies_webhook=FailingPoliciesWebhook(
            enable_failing_policies_webhook=True, destination_url="https://hooks.example.com/team",
            policy_ids=[3, 1], host_batch_size=5),
        jira=(TeamJiraIntegration(url="https://jira.example.com", project_key="OPS"),),
        zendesk=(TeamZendeskIntegration(url="https://zd.example.com", group_id=7, enable_failing_policies=False),),
    )
    async with uow_factory() as uow:
        plain = await uow.teams.add(name="Plain", description="", at=at)
        hooked = await uow.teams.add(name="Hooked", description="", at=at)
        await uow.teams.set_automations(hooked.id, automations)
        with pytest.raises(NotFound):
            await uow.teams.set_automations(hooked.id + 1000, automations)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.teams.automations(hooked.id) == automations
        assert await uow.teams.automations(plain.id) == TeamAutomations()
        assert await uow.teams.automations(hooked.id + 1000) == TeamAutomations()
        assert await uow.teams.all_automations() == {hooked.id: automations}
        # The team's own row is unchanged by its automations.
        assert await uow.teams.get(hooked.id) == hooked
        await uow.teams.set_automations(hooked.id, TeamAutomations())
        assert await uow.teams.automations(hooked.id) == TeamAutomations()
        await uow.teams.set_automations(hooked.id, automations)
        await uow.teams.delete(hooked.id)
        assert await uow.teams.all_automations() == {}
