"""Policies (fleet_core.services.policies): scopes per role, validation, answers and counts, specs."""

from __future__ import annotations

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.hosts import Host
from fleet_core.model.policies import PolicyFields
from fleet_core.model.queries import QueryFields
from fleet_core.services.agents import POLICY_PREFIX, QueryResult
from fleet_core.services.policies import PolicyChanges
from tests.unit.services.support import (
    Announcements,
    MakeUser,
    activity_types,
    create_team,
    enroll_host,
    last_activity,
)

pytestmark = pytest.mark.anyio

SQL = "SELECT 1 FROM osquery_info;"


def fields(name: str = "Disk encrypted", **changes: object) -> PolicyFields:
    return PolicyFields(name=name, query=changes.pop("query", SQL), **changes)  # type: ignore[arg-type]


async def report(kit: InMemoryKit, host: Host, policy_id: int, passes: bool) -> None:
    """The host's agent answers the policy: a row passes, no row fails."""
    rows = [{"1": "1"}] if passes else []
    await kit.services.agents.distributed_write(host, {f"{POLICY_PREFIX}{policy_id}": QueryResult(rows=rows)})


async def test_a_new_policy_is_recorded_announced_and_authored(kit: InMemoryKit, admin: Viewer) -> None:
    heard = Announcements(kit)
    policy = await kit.services.policies.create(admin, fields(" Disk encrypted ", platform="darwin, linux"))
    assert (policy.name, policy.platform, policy.team_id, policy.author_id) == (
        "Disk encrypted", "darwin,linux", None, admin.user.id)
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("created_policy", {"policy_id": policy.id,
                                                                    "policy_name": "Disk encrypted"})
    assert heard.config_changes == 1


async def test_every_invalid_field_is_named_at_once(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.policies.create(admin, PolicyFields(name=" ", query=" ", platform="beos"))
    assert [n for n, _ in caught.value.problems] == ["name", "query", "platform"]
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.policies.create(admin, None)
    assert [n for n, _ in caught.value.problems] == ["query"]
    assert await kit.services.policies.list(admin) == []


async def test_a_policy_can_be_made_from_a_saved_query_of_its_scope(kit: InMemoryKit, admin: Viewer) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    saved = await kit.services.queries.create(admin, QueryFields(name="From query", query=SQL, description="d"))
    pear_query = await kit.services.queries.create(admin, QueryFields(name="Pear query", query=SQL), team_id=pears)
    policy = await kit.services.policies.create(admin, None, query_id=saved.id, team_id=apples)
    assert (policy.name, policy.query, policy.description, policy.team_id) == ("From query", SQL, "d", apples)
    with pytest.raises(NotFound):
        await kit.services.policies.create(admin, None, query_id=pear_query.id, team_id=apples)
    with pytest.raises(NotFound):
        await kit.services.policies.create(admin, None, query_id=999)


async def test_policy_names_are_unique(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    await kit.services.policies.create(admin, fields("Taken"))
    with pytest.raises(AlreadyExists):
        await kit.services.policies.create(admin, fields("Taken"))
    other = await kit.services.policies.create(admin, fields("Other"), team_id=team_id)
    with pytest.raises(AlreadyExists):
        await kit.services.policies.modify(admin, other.id, PolicyChanges(name="Taken"), team_id=team_id)


async def test_team_users_read_global_policies_and_manage_their_teams_by_role(kit: InMemoryKit, admin: Viewer,
                                                                             make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    global_policy = await kit.services.policies.create(admin, fields("Global"))
    await kit.services.policies.create(admin, fields("Pear"), team_id=pears)
    maintainer = await make_user(teams=[(apples, "maintainer")])
    observer = await make_user(teams=[(apples, "observer")])
    assert [p.name for p in await kit.services.policies.list(observer)] == ["Global"]
    assert (await kit.services.policies.get(observer, global_policy.id)).name == "Global"
    with pytest.raises(PermissionDenied):
        await kit.services.policies.list(maintainer, team_id=pears)
    own = await kit.services.policies.create(maintainer, fields("Own"), team_id=apples)
    assert [p.name for p in await kit.services.policies.list(observer, team_id=apples)] == ["Own"]
    with pytest.raises(PermissionDenied):
        await kit.services.policies.create(observer, fields("Observed"), team_id=apples)
    with pytest.raises(PermissionDenied):
        await kit.services.policies.create(maintainer, fields("Everyone's"))
    with pytest.raises(PermissionDenied):
        await kit.services.policies.modify(maintainer, global_policy.id, PolicyChanges(name="Mine"))
    with pytest.raises(PermissionDenied):
        await kit.services.policies.delete_many(observer, [own.id], team_id=apples)


async def test_a_policy_is_found_only_in_its_own_scope(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    team_policy = await kit.services.policies.create(admin, fields(), team_id=team_id)
    with pytest.raises(NotFound):
        await kit.services.policies.get(admin, team_policy.id)
    assert (await kit.services.policies.get(admin, team_policy.id, team_id=team_id)).id == team_policy.id
    with pytest.raises(NotFound):
        await kit.services.policies.modify(admin, team_policy.id, PolicyChanges(name="x"))
    with pytest.raises(NotFound):
        await kit.services.policies.list(admin, team_id=999)
    with pytest.raises(NotFound):
        await kit.services.policies.create(admin, fields("x"), team_id=999)


async def test_answers_are_counted_and_a_new_query_forgets_them(kit: InMemoryKit, admin: Viewer) -> None:
    passing = await enroll_host(kit, admin, "passing")
    failing = await enroll_host(kit, admin, "failing")
    policy = await kit.services.policies.create(admin, fields())
    await report(kit, passing, policy.id, passes=True)
    await report(kit, failing, policy.id, passes=False)
    counted = await kit.services.policies.get(admin, policy.id)
    assert (counted.passing_host_count, counted.failing_host_count) == (1, 1)
    described = await kit.services.policies.modify(admin, policy.id, PolicyChanges(description="why"))
    assert (described.passing_host_count, described.failing_host_count) == (1, 1)
    await kit.services.policies.modify(admin, policy.id, PolicyChanges(query="SELECT 2;"))
    requeried = await kit.services.policies.get(admin, policy.id)
    assert (requeried.passing_host_count, requeried.failing_host_count) == (0, 0)
    assert (await last_activity(kit, admin)).type == "edited_policy"


async def test_deleting_policies_is_all_or_nothing_within_the_scope(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    first = await kit.services.policies.create(admin, fields("First"))
    second = await kit.services.policies.create(admin, fields("Second"))
    team_policy = await kit.services.policies.create(admin, fields("Team"), team_id=team_id)
    with pytest.raises(InvalidArgument):
        await kit.services.policies.delete_many(admin, [])
    with pytest.raises(NotFound):
        await kit.services.policies.delete_many(admin, [first.id, 999])
    with pytest.raises(PermissionDenied):  # as Fleet: team policies are not deleted through the global scope
        await kit.services.policies.delete_many(admin, [first.id, team_policy.id])
    assert len(await kit.services.policies.list(admin)) == 2
    assert await kit.services.policies.delete_many(admin, [first.id, second.id, first.id]) == 2
    assert (await activity_types(kit, admin))[-2:] == ["deleted_policy", "deleted_policy"]
    assert await kit.services.policies.delete_many(admin, [team_policy.id], team_id=team_id) == 1
    assert await kit.services.policies.list(admin, team_id=team_id) == []


async def test_specs_create_by_name_and_update_keeping_the_team(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    heard = Announcements(kit)
    await kit.services.policies.apply_specs(admin, [{"name": "Spec", "query": SQL, "team": "Apples",
                                                     "critical": True}])
    [created] = await kit.services.policies.list(admin, team_id=team_id)
    assert (created.name, created.critical) == ("Spec", True)
    await kit.services.policies.apply_specs(admin, [{"name": "Spec", "query": "SELECT 2;", "team": ""}])
    [updated] = await kit.services.policies.list(admin, team_id=team_id)
    assert (updated.id, updated.query, updated.critical) == (created.id, "SELECT 2;", False)
    activity = await last_activity(kit, admin)
    assert activity.type == "applied_spec_policy"
    assert [p["name"] for p in activity.details["policies"]] == ["Spec"]  # type: ignore[index]
    assert heard.config_changes == 2


async def test_specs_are_checked_whole_before_anything_is_written(kit: InMemoryKit, admin: Viewer,
                                                                 make_user: MakeUser) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.policies.apply_specs(admin, [{"name": "A", "query": SQL}, {"name": "A", "query": ""},
                                                        {"name": "B", "query": SQL, "platform": "beos"}])
    assert [n for n, _ in caught.value.problems] == ["specs[1].query", "specs[2].platform", "specs[1].name"]
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.policies.apply_specs(admin, [{"name": "C", "query": SQL, "critical": "yes"}])
    assert [n for n, _ in caught.value.problems] == ["specs[0].critical"]
    with pytest.raises(NotFound):
        await kit.services.policies.apply_specs(admin, [{"name": "D", "query": SQL, "team": "Nobody"}])
    observer = await make_user(global_role="observer")
    with pytest.raises(PermissionDenied):
        await kit.services.policies.apply_specs(observer, [{"name": "E"}])
    assert await kit.services.policies.list(admin) == []


async def test_a_host_moving_to_another_team_drops_its_answers_to_the_old_teams_policies(
        kit: InMemoryKit, admin: Viewer) -> None:
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    host = await enroll_host(kit, admin, "laptop", team_id=apples)
    apple_policy = await kit.services.policies.create(admin, fields("Apple policy"), team_id=apples)
    global_policy = await kit.services.policies.create(admin, fields("Global policy"))
    await report(kit, host, apple_policy.id, passes=False)
    await report(kit, host, global_policy.id, passes=False)
    await kit.services.hosts.transfer(admin, pears, ids=[host.id])
    assert (await kit.services.policies.get(admin, apple_policy.id, team_id=apples)).failing_host_count == 0
    assert (await kit.services.policies.get(admin, global_policy.id)).failing_host_count == 1
