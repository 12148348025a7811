"""Live queries (fleet_core.services.live_queries): who may start a campaign on what, how answers
reach its creator, and when a campaign ends."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock, in_memory_kit
from fleet_core.authz import Viewer
from fleet_core.errors import BadRequest, InvalidArgument, NotFound, PermissionDenied, Unavailable
from fleet_core.model.campaigns import CampaignMetrics, CampaignStatus
from fleet_core.model.hosts import Host
from fleet_core.model.queries import QueryFields
from fleet_core.model.runtime import ServerRuntime
from fleet_core.rules.campaigns import LISTENER_GRACE, query_name
from fleet_core.rules.targets import TargetSelection
from fleet_core.services.agents import QueryResult
from fleet_core.services.live_queries import DISABLED, TIMEOUT_ERROR
from tests.unit.services.support import MakeUser, create_team, enroll_host, first_admin, last_activity

pytestmark = pytest.mark.anyio

SQL = "SELECT * FROM osquery_info;"


async def asked(kit: InMemoryKit, host: Host) -> dict[str, str]:
    """The live queries the host is asked at its next check-in."""
    queries = (await kit.services.agents.distributed_read(host)).queries
    return {name: sql for name, sql in queries.items() if name.startswith("fleet_distributed_query_")}


async def answer(kit: InMemoryKit, host: Host, campaign_id: int, rows: list[dict[str, str]]) -> None:
    await kit.services.agents.distributed_write(host, {query_name(campaign_id): QueryResult(rows=rows)})


async def answer_when_asked(kit: InMemoryKit, host: Host, rows: list[dict[str, str]]) -> None:
    """The agent side of a synchronous run: answer the campaign as soon as the host is asked it.

    The run starts its campaign on the same event loop, so this only yields (sleep(0)) until it
    has; a bounded number of turns keeps a broken run from hanging the test."""
    for _ in range(1000):
        pending = await asked(kit, host)
        if pending:
            [name] = pending
            await kit.services.agents.distributed_write(host, {name: QueryResult(rows=rows)})
            return
        await asyncio.sleep(0)
    pytest.fail("the host was never asked")


async def test_a_campaign_is_recorded_and_asked_of_each_targeted_host(kit: InMemoryKit, admin: Viewer) -> None:
    first = await enroll_host(kit, admin, "first")
    second = await enroll_host(kit, admin, "second")
    started = await kit.services.live_queries.create_campaign(admin, query=SQL, query_id=None,
                                                              selected=TargetSelection(host_ids=[first.id]))
    campaign = started.campaign
    assert (campaign.host_ids, campaign.status, campaign.user_id) == ((first.id,), CampaignStatus.WAITING,
                                                                      admin.user.id)
    assert started.metrics == CampaignMetrics(total=1, online=1, new=1)
    assert await asked(kit, first) == {query_name(campaign.id): SQL}
    assert await asked(kit, second) == {}
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("live_query", {"targets_count": 1, "query_sql": SQL,
                                                                "query_name": None})


async def test_a_campaign_needs_sql_a_known_query_and_some_host(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    selected = TargetSelection(host_ids=[host.id])
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.live_queries.create_campaign(admin, query=" ", query_id=None, selected=selected)
    assert [n for n, _ in caught.value.problems] == ["query"]
    with pytest.raises(NotFound):
        await kit.services.live_queries.create_campaign(admin, query=None, query_id=999, selected=selected)
    with pytest.raises(BadRequest):
        await kit.services.live_queries.create_campaign(admin, query=SQL, query_id=None,
                                                        selected=TargetSelection(host_ids=[999]))
    assert await asked(kit, host) == {}


async def test_a_saved_query_runs_its_own_sql(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    saved = await kit.services.queries.create(admin, QueryFields(name="info", query=SQL))
    started = await kit.services.live_queries.create_campaign(admin, query="SELECT 'ignored';", query_id=saved.id,
                                                              selected=TargetSelection(host_ids=[host.id]))
    assert (started.campaign.query, started.campaign.query_id) == (SQL, saved.id)
    assert (await last_activity(kit, admin)).details["query_name"] == "info"  # type: ignore[index]


async def test_observers_run_only_saved_queries_observers_may_run(kit: InMemoryKit, admin: Viewer,
                                                                  make_user: MakeUser) -> None:
    host = await enroll_host(kit, admin, "laptop")
    observer = await make_user(global_role="observer")
    selected = TargetSelection(host_ids=[host.id])
    closed = await kit.services.queries.create(admin, QueryFields(name="closed", query=SQL))
    runnable = await kit.services.queries.create(admin, QueryFields(name="open", query=SQL, observer_can_run=True))
    for query, query_id in ((SQL, None), (None, closed.id)):
        with pytest.raises(PermissionDenied):
            await kit.services.live_queries.create_campaign(observer, query=query, query_id=query_id,
                                                            selected=selected)
    started = await kit.services.live_queries.create_campaign(observer, query=None, query_id=runnable.id,
                                                              selected=selected)
    assert started.campaign.host_ids == (host.id,)


async def test_team_users_reach_only_their_teams_hosts(kit: InMemoryKit, admin: Viewer,
                                                       make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    apple = await enroll_host(kit, admin, "apple", team_id=apples)
    loose = await enroll_host(kit, admin, "loose")
    maintainer = await make_user(teams=[(apples, "maintainer")])
    started = await kit.services.live_queries.create_campaign(
        maintainer, query=SQL, query_id=None, selected=TargetSelection(host_ids=[apple.id, loose.id]))
    assert started.campaign.host_ids == (apple.id,)
    with pytest.raises(BadRequest):
        await kit.services.live_queries.create_campaign(maintainer, query=SQL, query_id=None,
                                                        selected=TargetSelection(host_ids=[loose.id]))


async def test_nobody_runs_live_queries_while_they_are_disabled(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    await kit.services.config.modify(admin, {"server_settings": {"live_query_disabled": True}})
    with pytest.raises(PermissionDenied, match=DISABLED):
        await kit.services.live_queries.create_campaign(admin, query=SQL, query_id=None,
                                                        selected=TargetSelection(host_ids=[host.id]))
    with pytest.raises(PermissionDenied):
        await kit.services.live_queries.check_status()
    with pytest.raises(PermissionDenied):
        await kit.services.live_queries.run_on_host(admin, SQL, host_id=host.id)


async def test_campaigns_by_identifiers_skip_unknown_hosts_but_not_unknown_labels(kit: InMemoryKit,
                                                                                  admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    started = await kit.services.live_queries.create_campaign_by_identifiers(
        admin, query=SQL, query_id=None, hosts=["laptop", "nowhere", " "], labels=[])
    assert started.campaign.host_ids == (host.id,)
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.live_queries.create_campaign_by_identifiers(
            admin, query=SQL, query_id=None, hosts=["laptop"], labels=["No such label"])
    assert [n for n, _ in caught.value.problems] == ["labels"]


async def test_the_creator_streams_each_answer_until_closing_ends_the_campaign(kit: InMemoryKit, admin: Viewer,
                                                                               make_user: MakeUser) -> None:
    host = await enroll_host(kit, admin, "laptop")
    started = await kit.services.live_queries.create_campaign(admin, query=SQL, query_id=None,
                                                              selected=TargetSelection(host_ids=[host.id]))
    campaign_id = started.campaign.id
    other_admin = await make_user(global_role="admin")
    with pytest.raises(PermissionDenied):
        await kit.services.live_queries.open_stream(other_admin, campaign_id)
    with pytest.raises(NotFound):
        await kit.services.live_queries.open_stream(admin, 999)
    stream = await kit.services.live_queries.open_stream(admin, campaign_id)
    assert stream.campaign.status is CampaignStatus.RUNNING
    assert (await stream.totals()).online == 1
    await answer(kit, host, campaign_id, [{"version": "5.12.1"}])
    result = await stream.next_result(wait=5)
    assert result is not None
    assert (result.host_id, result.hostname, result.rows, result.error) == (
        host.id, "laptop", ({"version": "5.12.1"},), None)
    assert await asked(kit, host) == {}  # answered: not asked again
    await stream.close()
    await stream.close()  # idempotent
    with pytest.raises(BadRequest):
        await kit.services.live_queries.open_stream(admin, campaign_id)


async def test_a_failed_answer_carries_the_agents_message(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    started = await kit.services.live_queries.create_campaign(admin, query=SQL, query_id=None,
                                                              selected=TargetSelection(host_ids=[host.id]))
    stream = await kit.services.live_queries.open_stream(admin, started.campaign.id)
    await kit.services.agents.distributed_write(host, {query_name(started.campaign.id): QueryResult(
        rows=[], status=1, message="no such table: nope")})
    result = await stream.next_result(wait=5)
    assert result is not None and result.error == "no such table: nope"
    await stream.close()


async def test_an_unheard_answer_is_asked_again_while_the_campaign_is_young_and_ends_it_after(
        kit: InMemoryKit, admin: Viewer, clock: MovableClock) -> None:
    host = await enroll_host(kit, admin, "laptop")
    started = await kit.services.live_queries.create_campaign(admin, query=SQL, query_id=None,
                                                              selected=TargetSelection(host_ids=[host.id]))
    await answer(kit, host, started.campaign.id, [{"a": "1"}])
    assert await asked(kit, host) == {query_name(started.campaign.id): SQL}
    clock.advance(LISTENER_GRACE)
    await answer(kit, host, started.campaign.id, [{"a": "1"}])
    assert await asked(kit, host) == {}
    with pytest.raises(BadRequest):
        await kit.services.live_queries.open_stream(admin, started.campaign.id)


async def test_cleanup_ends_campaigns_nobody_listened_to_within_the_grace_period(
        kit: InMemoryKit, admin: Viewer, clock: MovableClock) -> None:
    host = await enroll_host(kit, admin, "laptop")
    selected = TargetSelection(host_ids=[host.id])
    abandoned = await kit.services.live_queries.create_campaign(admin, query=SQL, query_id=None, selected=selected)
    assert await kit.services.live_queries.cleanup() == 0
    clock.advance(LISTENER_GRACE + dt.timedelta(seconds=1))
    listened = await kit.services.live_queries.create_campaign(admin, query="SELECT 2;", query_id=None,
                                                               selected=selected)
    stream = await kit.services.live_queries.open_stream(admin, listened.campaign.id)
    assert await kit.services.live_queries.cleanup() == 1
    assert await asked(kit, host) == {query_name(listened.campaign.id): "SELECT 2;"}
    with pytest.raises(BadRequest):
        await kit.services.live_queries.open_stream(admin, abandoned.campaign.id)
    await stream.close()


async def test_a_store_that_does_not_answer_is_reported(kit: InMemoryKit) -> None:
    await kit.services.live_queries.check_result_store()
    kit.live_store.available = False
    with pytest.raises(Unavailable):
        await kit.services.live_queries.check_result_store()


async def test_a_run_on_one_online_host_returns_its_answer(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    run, _ = await asyncio.gather(kit.services.live_queries.run_on_host(admin, SQL, identifier="laptop"),
                                  answer_when_asked(kit, host, [{"uptime": "42"}]))
    assert (run.host_id, run.online, run.rows, run.error) == (host.id, True, [{"uptime": "42"}], None)
    assert await asked(kit, host) == {}  # the run's campaign is over


async def test_an_offline_host_is_reported_at_once_and_asked_nothing(kit: InMemoryKit, admin: Viewer,
                                                                     clock: MovableClock) -> None:
    host = await enroll_host(kit, admin, "laptop")
    clock.advance(dt.timedelta(hours=1))
    run = await kit.services.live_queries.run_on_host(admin, SQL, host_id=host.id)
    assert (run.online, run.rows, run.error) == (False, [], None)
    assert await asked(kit, host) == {}


async def test_a_run_on_one_host_needs_sql_and_a_host_the_viewer_sees(kit: InMemoryKit, admin: Viewer,
                                                                      make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    loose = await enroll_host(kit, admin, "loose")
    member = await make_user(teams=[(apples, "admin")])
    with pytest.raises(InvalidArgument):
        await kit.services.live_queries.run_on_host(admin, " ", host_id=loose.id)
    with pytest.raises(NotFound):
        await kit.services.live_queries.run_on_host(admin, SQL, host_id=999)
    with pytest.raises(NotFound):  # a host outside the viewer's teams does not exist for them
        await kit.services.live_queries.run_on_host(member, SQL, host_id=loose.id)


async def test_saved_query_runs_report_each_querys_own_problem(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    saved = await kit.services.queries.create(admin, QueryFields(name="info", query=SQL))
    runs, _ = await asyncio.gather(kit.services.live_queries.run_saved_queries(admin, [saved.id, 999], [host.id]),
                                   answer_when_asked(kit, host, [{"a": "1"}]))
    good, unknown = runs
    assert (good.query_id, good.targeted_host_ids, [a.rows for a in good.answers]) == (saved.id, (host.id,),
                                                                                       [[{"a": "1"}]])
    assert (unknown.targeted_host_ids, unknown.answers) == ((), ())
    assert unknown.error
    with pytest.raises(NotFound):  # the single run is strict
        await kit.services.live_queries.run_saved_query(admin, 999, [host.id])


async def test_a_host_that_does_not_answer_within_the_rest_period_times_out() -> None:
    # A rest period of zero: the run gives up at once instead of waiting on the clock.
    kit = in_memory_kit(runtime=ServerRuntime(live_query_rest_period=dt.timedelta(0)))
    admin = await first_admin(kit)
    host = await enroll_host(kit, admin, "laptop")
    run = await kit.services.live_queries.run_on_host(admin, SQL, host_id=host.id)
    assert (run.online, run.rows, run.error) == (True, [], TIMEOUT_ERROR)
    assert await asked(kit, host) == {}


async def test_a_saved_query_run_returns_once_every_online_host_answered(kit: InMemoryKit, admin: Viewer,
                                                                         clock: MovableClock) -> None:
    offline = await enroll_host(kit, admin, "offline")
    clock.advance(dt.timedelta(hours=1))
    online = await enroll_host(kit, admin, "online")
    saved = await kit.services.queries.create(admin, QueryFields(name="info", query=SQL))
    # The rest period is 25 s: finishing at all shows the run did not wait for the offline host.
    async with asyncio.timeout(10):
        run, _ = await asyncio.gather(kit.services.live_queries.run_saved_query(admin, saved.id,
                                                                                [offline.id, online.id]),
                                      answer_when_asked(kit, online, [{"a": "1"}]))
    assert run.targeted_host_ids == (offline.id, online.id)
    assert [a.host_id for a in run.answers] == [online.id]
