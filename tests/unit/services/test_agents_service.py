"""The osquery agent side (fleet_core.services.agents): enrollment, node keys, config, distributed
queries and logs. The host cache and label asking are covered in test_hosts.py."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock, in_memory_kit
from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument, NodeInvalid, Unavailable
from fleet_core.model.packs import ScheduleFields
from fleet_core.model.policies import PolicyFields
from fleet_core.model.queries import QueryFields
from fleet_core.model.runtime import AgentSettings, ServerRuntime
from fleet_core.rules.carves import carver_options
from fleet_core.services.agents import (
    ACCELERATE_SECONDS,
    DETAIL_PREFIX,
    NO_POLICIES,
    POLICY_PREFIX,
    QueryResult,
)
from fleet_core.services.teams import TeamChanges
from tests.unit.services.support import (
    ENROLL_SECRET,
    Announcements,
    create_team,
    enroll_host,
    first_admin,
)

pytestmark = pytest.mark.anyio

OS_VERSION = f"{DETAIL_PREFIX}os_version"

# Every agent configuration points the carver at the server (fleet_core.rules.carves).
CARVER_OPTIONS = carver_options(AgentSettings().carver_block_size)


async def enroll(kit: InMemoryKit, identifier: str, secret: str = ENROLL_SECRET) -> str:
    return await kit.services.agents.enroll(enroll_secret=secret, host_identifier=identifier, host_details={})


async def test_an_agent_enrolls_only_with_a_known_secret_and_an_identifier(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    for secret, identifier in (("wrong", "laptop"), ("", "laptop"), (ENROLL_SECRET, "")):
        with pytest.raises(NodeInvalid):
            await enroll(kit, identifier, secret)
    host = await kit.services.agents.authenticate(await enroll(kit, "laptop"))
    stored = (await kit.services.hosts.get(admin, host.id)).host
    assert (stored.osquery_host_id, host.team_id) == ("laptop", None)


async def test_a_teams_secret_enrolls_into_the_team(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    await kit.services.config.replace_enroll_secrets(admin, ["apple-secret"], team_id)
    host = await kit.services.agents.authenticate(await enroll(kit, "laptop", "apple-secret"))
    assert host.team_id == team_id


async def test_re_enrolling_keeps_the_host_and_retires_its_old_node_key(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    old_key = await enroll(kit, "laptop")
    host = await kit.services.agents.authenticate(old_key)
    heard = Announcements(kit)
    new_key = await enroll(kit, "laptop")
    assert heard.host_ids == {host.id}
    assert (await kit.services.agents.authenticate(new_key)).id == host.id
    with pytest.raises(NodeInvalid):
        await kit.services.agents.authenticate(old_key)


async def test_re_enrolling_within_the_cooldown_is_refused() -> None:
    clock = MovableClock()
    kit = in_memory_kit(clock=clock, runtime=ServerRuntime(agents=AgentSettings(
        enroll_cooldown=dt.timedelta(minutes=1))))
    admin = await first_admin(kit)
    await enroll_host(kit, admin, "laptop")
    with pytest.raises(NodeInvalid):
        await enroll(kit, "laptop")
    clock.advance(dt.timedelta(minutes=1))
    assert await enroll(kit, "laptop")


@pytest.mark.parametrize("node_key", ["", "unknown"])
async def test_an_unknown_node_key_is_invalid(kit: InMemoryKit, node_key: str) -> None:
    with pytest.raises(NodeInvalid):
        await kit.services.agents.authenticate(node_key)


async def test_check_ins_are_written_in_one_batch_per_flush(kit: InMemoryKit, admin: Viewer,
                                                            clock: MovableClock) -> None:
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    keys = [await enroll(kit, name) for name in ("first", "second")]
    assert await kit.services.agents.flush_seen() == 0
    clock.advance(dt.timedelta(minutes=5))
    hosts = [await kit.services.agents.authenticate(key) for key in keys * 2]
    assert await kit.services.agents.flush_seen() == 2
    assert (await kit.services.hosts.get(admin, hosts[0].id)).host.seen_time == clock.now()


async def test_a_hosts_config_comes_from_its_team_or_else_the_global_options(kit: InMemoryKit,
                                                                             admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Apples")
    loose = await enroll_host(kit, admin, "loose")
    apple = await enroll_host(kit, admin, "apple", team_id=team_id)
    await kit.services.config.modify(admin, {"agent_options": {"config": {"options": {"distributed_interval": 7}}}})
    await kit.services.teams.modify(admin, team_id, TeamChanges(agent_options={
        "config": {"options": {"distributed_interval": 3}}}))
    assert (await kit.services.agents.config(loose))["options"] == {**CARVER_OPTIONS, "distributed_interval": 7}
    assert (await kit.services.agents.config(apple))["options"] == {**CARVER_OPTIONS, "distributed_interval": 3}


async def test_a_platform_override_replaces_the_whole_config(kit: InMemoryKit, admin: Viewer) -> None:
    ubuntu = await enroll_host(kit, admin, "ubuntu", platform="ubuntu")
    darwin = await enroll_host(kit, admin, "darwin", platform="darwin")
    await kit.services.config.modify(admin, {"agent_options": {
        "config": {"options": {"distributed_interval": 7}, "decorators": {"load": ["SELECT 1;"]}},
        "overrides": {"platforms": {"darwin": {"options": {"distributed_interval": 2}}}}}})
    assert (await kit.services.agents.config(darwin)) == {"options": {**CARVER_OPTIONS, "distributed_interval": 2}}
    assert "decorators" in await kit.services.agents.config(ubuntu)


async def test_the_intervals_a_host_is_told_are_stored_for_its_status(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    await kit.services.config.modify(admin, {"agent_options": {"config": {"options": {
        "distributed_interval": 30, "config_refresh": 60, "logger_tls_period": 0}}}})
    heard = Announcements(kit)
    await kit.services.agents.config(host)
    stored = (await kit.services.hosts.get(admin, host.id)).host
    assert (stored.distributed_interval, stored.config_tls_refresh, stored.logger_tls_period) == (30, 60, 0)
    assert heard.host_ids == {host.id}


async def test_scheduled_queries_reach_the_config_as_packs(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    assert "packs" not in await kit.services.agents.config(host)
    saved = await kit.services.queries.create(admin, QueryFields(name="uptime", query="SELECT * FROM uptime;"))
    await kit.services.packs.add_to_schedule(admin, None, saved.id, ScheduleFields(interval=60))
    packs = (await kit.services.agents.config(host))["packs"]
    assert packs["Global"]["queries"]["uptime"]["query"] == "SELECT * FROM uptime;"


async def test_a_host_not_yet_identified_is_asked_for_details_and_to_hurry(kit: InMemoryKit,
                                                                           admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    host = await kit.services.agents.authenticate(await enroll(kit, "bare"))
    asked = await kit.services.agents.distributed_read(host)
    assert asked.accelerate == ACCELERATE_SECONDS
    assert OS_VERSION in asked.queries
    assert set(asked.discovery) == set(asked.queries)
    assert all(sql.strip() for sql in asked.queries.values())


async def test_answered_details_identify_the_host_and_are_not_asked_again_soon(kit: InMemoryKit,
                                                                               admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    node_key = await enroll(kit, "bare")
    host = await kit.services.agents.authenticate(node_key)
    await kit.services.agents.distributed_write(host, {
        OS_VERSION: QueryResult(rows=[{"platform": "darwin", "name": "macOS", "version": "14.1", "major": "14",
                                       "minor": "1"}]),
        f"{DETAIL_PREFIX}system_info": QueryResult(rows=[{"hostname": "mac.local", "uuid": "U-1"}]),
        "not_a_fleet_query": QueryResult(rows=[{"ignored": "1"}]),
    })
    host = await kit.services.agents.authenticate(node_key)
    assert (host.platform, host.hostname) == ("darwin", "mac.local")
    asked = await kit.services.agents.distributed_read(host)
    assert (asked.accelerate, OS_VERSION in asked.queries) == (0, False)


async def test_policies_are_asked_per_platform_and_the_wildcard_when_none_apply(kit: InMemoryKit,
                                                                                admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop", platform="ubuntu")
    assert NO_POLICIES in (await kit.services.agents.distributed_read(host)).queries
    linux = await kit.services.policies.create(admin, PolicyFields(name="Linux", query="SELECT 1;",
                                                                   platform="linux"))
    mac = await kit.services.policies.create(admin, PolicyFields(name="Mac", query="SELECT 2;", platform="darwin"))
    asked = (await kit.services.agents.distributed_read(host)).queries
    assert f"{POLICY_PREFIX}{linux.id}" in asked
    assert f"{POLICY_PREFIX}{mac.id}" not in asked and NO_POLICIES not in asked


async def test_answers_to_policies_the_host_does_not_run_are_not_kept(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop", platform="ubuntu")
    mac = await kit.services.policies.create(admin, PolicyFields(name="Mac", query="SELECT 2;", platform="darwin"))
    await kit.services.agents.distributed_write(host, {f"{POLICY_PREFIX}{mac.id}": QueryResult(rows=[])})
    stored = await kit.services.policies.get(admin, mac.id)
    assert (stored.passing_host_count, stored.failing_host_count) == (0, 0)


async def test_logs_go_to_the_destination_of_their_type(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    await kit.services.agents.submit_logs(host, "result", [b'{"name": "a"}'])
    await kit.services.agents.submit_logs(host, "status", [b'{"line": 1}', b'{"line": 2}'])
    await kit.services.agents.submit_logs(host, "status", [])
    assert kit.logs.records("result") == [b'{"name": "a"}']
    assert kit.logs.records("status") == [b'{"line": 1}', b'{"line": 2}']
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.agents.submit_logs(host, "snapshot", [b"{}"])
    assert [n for n, _ in caught.value.problems] == ["log_type"]


async def test_a_batch_the_destination_refuses_is_reported_for_osquery_to_resend(kit: InMemoryKit,
                                                                                admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    kit.logs.failing = True
    with pytest.raises(Unavailable):
        await kit.services.agents.submit_logs(host, "result", [b"{}"])
