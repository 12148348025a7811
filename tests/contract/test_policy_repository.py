"""PolicyRepository and DeviceTokenRepository contracts (fleet_core.ports): unique names, team
scoping, answers replacing each other, counts kept right through every change to the answers
(re-enrollment, transfer, host and team deletion, policy resets), cascades, device tokens."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.hosts import NEVER, HostFacts, HostFilter
from fleet_core.model.policies import Policy, PolicyFields
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from tests.contract.conftest import AddTeam, AddUser
from tests.contract.test_host_repository import enroll

pytestmark = pytest.mark.anyio


def fields(name: str, **extra: object) -> PolicyFields:
    return PolicyFields(name=name, query=f"SELECT 1 WHERE '{name}' = '{name}';", **extra)  # type: ignore[arg-type]


async def counts(uow: UnitOfWork, policy_id: int) -> tuple[int, int]:
    policy = await uow.policies.get(policy_id)
    assert policy is not None
    return policy.passing_host_count, policy.failing_host_count


async def test_add_stores_every_field_and_joins_the_author(uow_factory: UnitOfWorkFactory, add_user: AddUser,
                                                           add_team: AddTeam, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        author = await add_user(uow, "ann@example.com")
        team = await add_team(uow, "blue")
        added = await uow.policies.add(
            fields("gatekeeper", description="is it on", resolution="turn it on", platform="darwin,linux",
                   critical=True),
            team_id=team.id, author_id=author.id, at=at)
        await uow.commit()

    async with uow_factory() as uow:
        got = await uow.policies.get(added.id)
        by_name = await uow.policies.get_by_name("gatekeeper")

    assert got == added == by_name
    assert got is not None
    assert (got.name, got.description, got.resolution, got.platform, got.critical, got.team_id) == (
        "gatekeeper", "is it on", "turn it on", "darwin,linux", True, team.id)
    assert (got.author_id, got.author_name, got.author_email) == (author.id, "Ann", "ann@example.com")
    assert got.created_at == got.updated_at == at
    assert (got.passing_host_count, got.failing_host_count) == (0, 0)


async def test_names_are_unique_across_global_and_team_policies(uow_factory: UnitOfWorkFactory, add_team: AddTeam,
                                                                at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "blue")
        first = await uow.policies.add(fields("same"), team_id=None, author_id=None, at=at)
        with pytest.raises(AlreadyExists):
            await uow.policies.add(fields("same"), team_id=team.id, author_id=None, at=at)
        other = await uow.policies.add(fields("other"), team_id=team.id, author_id=None, at=at)
        with pytest.raises(AlreadyExists):
            await uow.policies.update(other.id, fields("same"), at)
        with pytest.raises(NotFound):
            await uow.policies.add(fields("teamless"), team_id=999, author_id=None, at=at)
        # The failed writes leave the unit of work usable.
        await uow.commit()

    async with uow_factory() as uow:
        assert [p.id for p in await uow.policies.list(team_id=None)] == [first.id]
        assert [p.id for p in await uow.policies.list(team_id=team.id)] == [other.id]
        assert [p.id for p in await uow.policies.every()] == [first.id, other.id]


async def test_a_deleted_author_leaves_the_policy_without_author(uow_factory: UnitOfWorkFactory, add_user: AddUser,
                                                                at: dt.datetime) -> None:
    async with uow_factory() as uow:
        author = await add_user(uow, "gone@example.com")
        added = await uow.policies.add(fields("orphan"), team_id=None, author_id=author.id, at=at)
        await uow.users.delete(author.id)
        got = await uow.policies.get(added.id)

    assert got is not None
    assert (got.author_id, got.author_name, got.author_email) == (None, "", "")


async def test_answers_replace_each_other_and_counts_follow(uow_factory: UnitOfWorkFactory,
                                                            at: dt.datetime) -> None:
    later = at + dt.timedelta(minutes=1)
    async with uow_factory() as uow:
        one = await enroll(uow, "one", at)
        two = await enroll(uow, "two", at)
        three = await enroll(uow, "three", at)
        policy = await uow.policies.add(fields("p"), team_id=None, author_id=None, at=at)
        await uow.policies.record_results(one, {policy.id: True}, at)
        await uow.policies.record_results(two, {policy.id: False}, at)
        await uow.policies.record_results(three, {policy.id: None}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await counts(uow, policy.id) == (1, 1)
        # The same answers again change nothing; flips move one host between the counts.
        await uow.policies.record_results(one, {policy.id: True}, later)
        await uow.policies.record_results(two, {policy.id: True}, later)
        await uow.policies.record_results(three, {policy.id: False}, later)
        await uow.commit()

    async with uow_factory() as uow:
        assert await counts(uow, policy.id) == (2, 1)
        assert await uow.policies.host_results(two) == {policy.id: True}
        assert await uow.policies.failing_counts([one, two, three, 999]) == {three: 1}
        passing = await uow.host_inventory.list(HostFilter(policy_id=policy.id, policy_response="passing"),
                                                ListOptions(), now=later)
        assert sorted(h.id for h in passing) == [one, two]


async def test_unknown_policies_and_hosts_are_ignored_and_dropped_answers_go(uow_factory: UnitOfWorkFactory,
                                                                             at: dt.datetime) -> None:
    async with uow_factory() as uow:
        host = await enroll(uow, "one", at)
        kept = await uow.policies.add(fields("kept"), team_id=None, author_id=None, at=at)
        dropped = await uow.policies.add(fields("dropped"), team_id=None, author_id=None, at=at)
        await uow.policies.record_results(host, {kept.id: False, dropped.id: False, 999: True}, at)
        await uow.policies.record_results(12345, {kept.id: True}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.policies.host_results(host) == {kept.id: False, dropped.id: False}
        await uow.policies.record_results(host, {kept.id: True}, at, dropped=[dropped.id])
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.policies.host_results(host) == {kept.id: True}
        assert await counts(uow, kept.id) == (1, 0)
        assert await counts(uow, dropped.id) == (0, 0)


async def test_a_new_query_or_platform_resets_the_answers_and_other_edits_do_not(
        uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    later = at + dt.timedelta(hours=1)
    async with uow_factory() as uow:
        host = await enroll(uow, "one", at)
        policy = await uow.policies.add(fields("p"), team_id=None, author_id=None, at=at)
        await uow.policies.record_results(host, {policy.id: False}, at)
        edited = await uow.policies.update(policy.id, PolicyFields(
            name="renamed", query=policy.query, description="d", resolution="r", critical=True), later)
        assert (edited.name, edited.description, edited.resolution, edited.critical) == ("renamed", "d", "r", True)
        assert edited.updated_at == later
        assert await counts(uow, policy.id) == (0, 1)
        await uow.policies.update(policy.id, PolicyFields(name="renamed", query=policy.query, platform="linux"),
                                  later)
        assert await counts(uow, policy.id) == (0, 0)
        await uow.policies.record_results(host, {policy.id: True}, later)
        await uow.policies.update(policy.id, PolicyFields(name="renamed", query="SELECT 2;", platform="linux"),
                                  later)
        assert await uow.policies.host_results(host) == {}
        assert await counts(uow, policy.id) == (0, 0)
        with pytest.raises(NotFound):
            await uow.policies.update(999, fields("x"), later)


async def test_reenrollment_transfer_and_deletion_keep_counts_right(uow_factory: UnitOfWorkFactory,
                                                                    add_team: AddTeam, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "blue")
        hosts = [await enroll(uow, f"h{i}", at) for i in range(4)]
        policy = await uow.policies.add(fields("p"), team_id=None, author_id=None, at=at)
        for host in hosts:
            await uow.policies.record_results(host, {policy.id: host % 2 == 0}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await counts(uow, policy.id) == (2, 2)
        # Re-enrolling drops the host's answers; moving it to a team keeps its answers to global
        # policies, which still apply.
        await uow.hosts.enroll(osquery_host_id="h0", node_key_hash="new-key", team_id=None, at=at, fields={})
        await uow.hosts.transfer([hosts[1]], team.id)
        await uow.hosts.delete([hosts[2]])
        await uow.commit()

    remaining = [hosts[1], hosts[3]]
    expected = sum(1 for h in remaining if h % 2 == 0), sum(1 for h in remaining if h % 2 == 1)
    async with uow_factory() as uow:
        assert await counts(uow, policy.id) == expected
        assert await uow.policies.host_results(hosts[0]) == {}
        assert await uow.policies.host_results(hosts[1]) == {policy.id: hosts[1] % 2 == 0}


async def test_moving_a_host_drops_its_team_policy_answers_and_asks_again(uow_factory: UnitOfWorkFactory,
                                                                         add_team: AddTeam,
                                                                         at: dt.datetime) -> None:
    async with uow_factory() as uow:
        red, blue = await add_team(uow, "red"), await add_team(uow, "blue")
        host = await enroll(uow, "mover", at, team_id=red.id)
        global_policy = await uow.policies.add(fields("everyone"), team_id=None, author_id=None, at=at)
        red_policy = await uow.policies.add(fields("red only"), team_id=red.id, author_id=None, at=at)
        await uow.policies.record_results(host, {global_policy.id: True, red_policy.id: False}, at)
        await uow.hosts.apply_facts(host, HostFacts(), at=at, details_updated=False, labels_updated=False,
                                    policies_updated=True, clear_refetch=False)
        await uow.commit()

    async with uow_factory() as uow:
        await uow.hosts.transfer([host], blue.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.policies.host_results(host) == {global_policy.id: True}
        assert await counts(uow, red_policy.id) == (0, 0)
        moved = await uow.hosts.get(host)
        # Its new team's policies are asked at the next check-in, not an hour later.
        assert moved is not None and moved.policy_updated_at == NEVER


async def test_deleting_policies_or_their_team_takes_their_answers(uow_factory: UnitOfWorkFactory,
                                                                   add_team: AddTeam, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "blue")
        host = await enroll(uow, "one", at, team_id=team.id)
        kept = await uow.policies.add(fields("global"), team_id=None, author_id=None, at=at)
        doomed = await uow.policies.add(fields("doomed"), team_id=None, author_id=None, at=at)
        of_team = await uow.policies.add(fields("team"), team_id=team.id, author_id=None, at=at)
        await uow.policies.record_results(host, {kept.id: False, doomed.id: False, of_team.id: False}, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.policies.delete_many([doomed.id, 999]) == [doomed.id]
        assert await uow.teams.delete(team.id) == [host]
        await uow.commit()

    async with uow_factory() as uow:
        assert [p.id for p in await uow.policies.every()] == [kept.id]
        assert await uow.policies.get(of_team.id) is None
        assert await uow.policies.host_results(host) == {kept.id: False}
        assert await uow.policies.failing_counts([host]) == {host: 1}


async def test_counts_stay_exact_over_many_hosts(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        hosts = [await enroll(uow, f"h{i}", at) for i in range(30)]
        policies: list[Policy] = [await uow.policies.add(fields(f"p{i}"), team_id=None, author_id=None, at=at)
                                  for i in range(3)]
        for n, host in enumerate(hosts):
            await uow.policies.record_results(host, {p.id: (n + i) % 3 == 0 for i, p in enumerate(policies)}, at)
        for host in hosts[:10]:
            await uow.policies.record_results(host, {policies[0].id: None}, at)
        await uow.commit()

    async with uow_factory() as uow:
        for i, policy in enumerate(policies):
            answers = [await uow.policies.host_results(h) for h in hosts]
            passing = sum(1 for a in answers if a.get(policy.id) is True)
            failing = sum(1 for a in answers if a.get(policy.id) is False)
            assert await counts(uow, policy.id) == (passing, failing), i
        assert await counts(uow, policies[0].id) == (sum(1 for n in range(10, 30) if n % 3 == 0),
                                                     sum(1 for n in range(10, 30) if n % 3 != 0))
