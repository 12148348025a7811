"""Managing single hosts (fleet_core.services.hosts): reading, deleting, refetching and moving them.

Complements test_hosts.py (expiry and the host cache). The host listings are left to the HTTP
tests while they are reshaped into one page call."""

from __future__ import annotations

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.hosts import HostFilter
from fleet_core.model.policies import PolicyFields
from fleet_core.services.agents import POLICY_PREFIX, QueryResult
from tests.unit.services.support import Announcements, MakeUser, create_team, enroll_host, last_activity

pytestmark = pytest.mark.anyio


@pytest.fixture
async def apples(kit: InMemoryKit, admin: Viewer) -> int:
    return await create_team(kit, admin, "Apples")


async def test_a_host_is_found_by_id_or_by_any_of_its_identifiers(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    assert (await kit.services.hosts.get(admin, host.id)).host.hostname == "laptop"
    for identifier in ("laptop", "uuid-laptop"):
        assert (await kit.services.hosts.get_by_identifier(admin, identifier)).host.id == host.id
    with pytest.raises(NotFound):
        await kit.services.hosts.get(admin, 999)
    with pytest.raises(NotFound):
        await kit.services.hosts.get_by_identifier(admin, "nowhere")


async def test_team_users_reach_only_their_teams_hosts(kit: InMemoryKit, admin: Viewer, make_user: MakeUser,
                                                       apples: int) -> None:
    apple = await enroll_host(kit, admin, "apple", team_id=apples)
    loose = await enroll_host(kit, admin, "loose")
    observer = await make_user(teams=[(apples, "observer")])
    assert (await kit.services.hosts.get(observer, apple.id)).host.id == apple.id
    with pytest.raises(PermissionDenied):
        await kit.services.hosts.get(observer, loose.id)
    with pytest.raises(PermissionDenied):
        await kit.services.hosts.get_by_identifier(observer, "loose")
    with pytest.raises(PermissionDenied):  # observers read but do not write
        await kit.services.hosts.delete(observer, apple.id)
    await kit.services.hosts.refetch(observer, apple.id)  # but anyone who reads a host may refetch it


async def test_a_hosts_details_count_the_policies_it_fails(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    failed = await kit.services.policies.create(admin, PolicyFields(name="Failed", query="SELECT 1;"))
    await kit.services.policies.create(admin, PolicyFields(name="Unanswered", query="SELECT 1;"))
    await kit.services.agents.distributed_write(host, {f"{POLICY_PREFIX}{failed.id}": QueryResult(rows=[])})
    details = await kit.services.hosts.get(admin, host.id)
    assert {p.policy.name: p.response for p in details.policies} == {"Failed": "fail", "Unanswered": ""}
    assert details.failing_policies_count == 1


async def test_deleting_a_host_announces_it(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    heard = Announcements(kit)
    await kit.services.hosts.delete(admin, host.id)
    assert heard.host_ids == {host.id}
    with pytest.raises(NotFound):
        await kit.services.hosts.get(admin, host.id)
    with pytest.raises(NotFound):
        await kit.services.hosts.delete(admin, host.id)


async def test_deleting_many_takes_ids_or_a_filter_and_skips_what_the_viewer_cannot_reach(
        kit: InMemoryKit, admin: Viewer, make_user: MakeUser, apples: int) -> None:
    first = await enroll_host(kit, admin, "first", team_id=apples)
    second = await enroll_host(kit, admin, "second", team_id=apples)
    loose = await enroll_host(kit, admin, "loose")
    with pytest.raises(InvalidArgument):
        await kit.services.hosts.delete_many(admin)
    with pytest.raises(InvalidArgument):
        await kit.services.hosts.delete_many(admin, ids=[first.id], filters=HostFilter())
    maintainer = await make_user(teams=[(apples, "maintainer")])
    with pytest.raises(PermissionDenied):
        await kit.services.hosts.delete_many(maintainer, ids=[first.id, loose.id])
    assert await kit.services.hosts.delete_many(admin, ids=[first.id, first.id, 999]) == 1
    with pytest.raises(InvalidArgument):  # a filter that selects nothing in particular would select everything
        await kit.services.hosts.delete_many(maintainer, filters=HostFilter())
    assert await kit.services.hosts.delete_many(maintainer, filters=HostFilter(status="new")) == 1  # only its team's
    assert (await kit.services.hosts.get(admin, loose.id)).host.id == loose.id
    with pytest.raises(NotFound):
        await kit.services.hosts.get(admin, second.id)


async def test_a_refetch_flags_the_host_and_tells_the_caches(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    heard = Announcements(kit)
    await kit.services.hosts.refetch(admin, host.id)
    assert (await kit.services.hosts.get(admin, host.id)).host.refetch_requested
    assert heard.host_ids == {host.id}
    with pytest.raises(NotFound):
        await kit.services.hosts.refetch(admin, 999)


async def test_a_transfer_is_recorded_announced_and_needs_write_access_on_both_sides(
        kit: InMemoryKit, admin: Viewer, make_user: MakeUser, apples: int) -> None:
    pears = await create_team(kit, admin, "Pears")
    host = await enroll_host(kit, admin, "laptop")
    heard = Announcements(kit)
    assert await kit.services.hosts.transfer(admin, apples, ids=[host.id]) == [host.id]
    assert heard.host_ids == {host.id}
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("transferred_hosts", {
        "team_id": apples, "team_name": "Apples", "host_ids": [host.id], "host_display_names": ["laptop"]})
    apple_maintainer = await make_user(teams=[(apples, "maintainer")])
    with pytest.raises(PermissionDenied):  # may take hosts out of Apples, but not into Pears
        await kit.services.hosts.transfer(apple_maintainer, pears, ids=[host.id])
    with pytest.raises(PermissionDenied):  # only global users move hosts to no team
        await kit.services.hosts.transfer(apple_maintainer, None, ids=[host.id])
    with pytest.raises(NotFound):
        await kit.services.hosts.transfer(admin, 999, ids=[host.id])
    assert await kit.services.hosts.transfer(admin, None, ids=[host.id]) == [host.id]
    assert (await kit.services.hosts.get(admin, host.id)).host.team_id is None

