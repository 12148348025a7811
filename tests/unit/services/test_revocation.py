"""Revocation is immediate: once the API has answered, a removed enroll secret, a deleted or moved
host's node key, a logged-out or superseded session, a demoted or deleted user and a rotated device
token stop working on the very next request, on every process.

The clock never moves in these tests, so no cache TTL can hide a stale answer. A second agent
service over the same store and bus plays "another server process" with its own host cache."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio

from fleet_adapters.memory import InMemoryKit
from fleet_adapters.memory.uow import InMemoryUnitOfWork
from fleet_adapters.redis.invalidation import RedisInvalidationBus
from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed, NodeInvalid, Unavailable
from fleet_core.model.hosts import Host
from fleet_core.model.users import Role
from fleet_core.ports import InvalidationBus, UnitOfWorkFactory
from fleet_core.services.agents import AgentService, HostCache
from fleet_core.services.device import DeviceCredential
from fleet_core.services.users import UserChanges
from tests.unit.services.support import PASSWORD, MakeUser, create_team

pytestmark = pytest.mark.anyio

DETAILS = {"system_info": {"hostname": "laptop", "uuid": "uuid-laptop"},
           "os_version": {"platform": "ubuntu", "name": "Ubuntu", "version": "22.04"}}


async def enroll(agents: AgentService, secret: str, identifier: str = "laptop") -> str:
    return await agents.enroll(enroll_secret=secret, host_identifier=identifier, host_details=DETAILS)


def other_process(kit: InMemoryKit, *, uow: UnitOfWorkFactory | None = None,
                  bus: InvalidationBus | None = None) -> AgentService:
    """An agent service with a cache of its own, as another `fleet serve` process has."""
    mine = kit.services.agents
    return AgentService(uow=uow or kit.store.unit_of_work, tokens=mine.tokens, clock=mine.clock,
                        bus=bus or kit.services.bus, logs=mine.logs, packs=mine.packs, settings=mine.settings)


class PausedRead:
    """A unit of work factory over the real store whose first unit of work, once it has read and
    let go of the store, waits to be released: the read is then older than whatever the test
    commits meanwhile, like a lookup that loses the race against a revocation."""

    def __init__(self, kit: InMemoryKit) -> None:
        self._kit = kit
        self.has_read = asyncio.Event()
        self.release = asyncio.Event()
        self._armed = True

    def __call__(self) -> Any:
        return _Paused(self._kit.store.unit_of_work(), self) if self._armed else self._kit.store.unit_of_work()

    def disarm(self) -> bool:
        armed, self._armed = self._armed, False
        return armed


class _Paused:
    def __init__(self, real: InMemoryUnitOfWork, gate: PausedRead) -> None:
        self._real, self._gate = real, gate

    async def __aenter__(self) -> InMemoryUnitOfWork:
        return await self._real.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        await self._real.__aexit__(*exc)
        if self._gate.disarm():
            self._gate.has_read.set()
            await self._gate.release.wait()


# ---- enroll secrets ---------------------------------------------------------------------------


async def test_a_removed_secret_stops_enrolling_and_a_new_one_enrolls_at_once(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, ["old-secret"])
    elsewhere = other_process(kit)
    # Both processes have just accepted the old secret (any cache of it would be warm now).
    await enroll(kit.services.agents, "old-secret", "first")
    await enroll(elsewhere, "old-secret", "second")

    await kit.services.config.replace_enroll_secrets(admin, ["new-secret"])

    for agents in (kit.services.agents, elsewhere):
        with pytest.raises(NodeInvalid, match="invalid enroll secret"):
            await enroll(agents, "old-secret", "third")
        await enroll(agents, "new-secret", "third")


async def test_team_secrets_count_at_once_and_enroll_into_their_team(kit: InMemoryKit, admin: Viewer) -> None:
    team_id = await create_team(kit, admin, "Servers")
    await kit.services.config.replace_enroll_secrets(admin, ["team-old"], team_id=team_id)
    elsewhere = other_process(kit)
    await enroll(elsewhere, "team-old", "first")

    await kit.services.config.replace_enroll_secrets(admin, ["team-new"], team_id=team_id)

    with pytest.raises(NodeInvalid):
        await enroll(elsewhere, "team-old", "second")
    host = await elsewhere.authenticate(await enroll(elsewhere, "team-new", "second"))
    assert host.team_id == team_id

    await kit.services.config.replace_enroll_secrets(admin, [], team_id=team_id)
    with pytest.raises(NodeInvalid):
        await enroll(elsewhere, "team-new", "third")


# ---- node keys --------------------------------------------------------------------------------


async def test_a_deleted_hosts_node_key_is_refused_by_every_process_at_once(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, ["secret"])
    node_key = await enroll(kit.services.agents, "secret")
    elsewhere = other_process(kit)
    host = await elsewhere.authenticate(node_key)  # now cached there

    await kit.services.hosts.delete(admin, host.id)

    for agents in (kit.services.agents, elsewhere):
        with pytest.raises(NodeInvalid):
            await agents.authenticate(node_key)


async def test_a_moved_host_is_seen_in_its_new_team_by_every_process_at_once(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, ["secret"])
    team_id = await create_team(kit, admin, "Laptops")
    node_key = await enroll(kit.services.agents, "secret")
    elsewhere = other_process(kit)
    host = await elsewhere.authenticate(node_key)
    assert host.team_id is None

    await kit.services.hosts.transfer(admin, team_id, ids=[host.id])

    assert (await elsewhere.authenticate(node_key)).team_id == team_id


async def test_a_re_enrolled_hosts_old_node_key_is_refused_at_once(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, ["secret"])
    old_key = await enroll(kit.services.agents, "secret")
    elsewhere = other_process(kit)
    await elsewhere.authenticate(old_key)

    new_key = await enroll(kit.services.agents, "secret")

    with pytest.raises(NodeInvalid):
        await elsewhere.authenticate(old_key)
    await elsewhere.authenticate(new_key)


async def test_a_lookup_that_read_before_a_deletion_does_not_cache_the_deleted_host(
    kit: InMemoryKit, admin: Viewer,
) -> None:
    await kit.services.config.replace_enroll_secrets(admin, ["secret"])
    node_key = await enroll(kit.services.agents, "secret")
    host_id = (await kit.services.agents.authenticate(node_key)).id
    paused = PausedRead(kit)
    elsewhere = other_process(kit, uow=paused)

    early = asyncio.create_task(elsewhere.authenticate(node_key))
    await paused.has_read.wait()
    # The deletion commits and is announced while that lookup still holds its (older) answer.
    await kit.services.hosts.delete(admin, host_id)
    paused.release.set()
    # The request that arrived before the deletion may still get the host ...
    assert (await early).id == host_id
    # ... but the answer must not outlive the announcement in the cache.
    with pytest.raises(NodeInvalid):
        await elsewhere.authenticate(node_key)


async def test_a_request_after_a_deletion_does_not_join_a_lookup_that_began_before_it(
    kit: InMemoryKit, admin: Viewer,
) -> None:
    await kit.services.config.replace_enroll_secrets(admin, ["secret"])
    node_key = await enroll(kit.services.agents, "secret")
    host_id = (await kit.services.agents.authenticate(node_key)).id
    paused = PausedRead(kit)
    elsewhere = other_process(kit, uow=paused)

    early = asyncio.create_task(elsewhere.authenticate(node_key))
    await paused.has_read.wait()
    await kit.services.hosts.delete(admin, host_id)
    # Arrives after the API answered the deletion, while the older lookup is still in flight.
    late = asyncio.create_task(elsewhere.authenticate(node_key))
    try:
        # Joining the older lookup would wait for its release, which comes only after: a
        # generous bound turns that deadlock into a failure.
        with pytest.raises(NodeInvalid):
            await asyncio.wait_for(late, 10)
    finally:
        paused.release.set()
    assert (await early).id == host_id


async def test_a_lookup_keeps_its_answer_when_only_other_hosts_were_invalidated(
    kit: InMemoryKit, admin: Viewer,
) -> None:
    # Agents' writes announce their host all the time; that must not stop the cache from filling.
    await kit.services.config.replace_enroll_secrets(admin, ["secret"])
    node_key = await enroll(kit.services.agents, "secret", "mine")
    other_key = await enroll(kit.services.agents, "secret", "other")
    other_id = (await kit.services.agents.authenticate(other_key)).id
    paused = PausedRead(kit)
    elsewhere = other_process(kit, uow=paused)

    early = asyncio.create_task(elsewhere.authenticate(node_key))
    await paused.has_read.wait()
    await kit.services.bus.publish([other_id])
    paused.release.set()
    host = await early
    assert elsewhere.cache.get(elsewhere.tokens.digest(node_key), kit.clock.now()) == host


def test_the_host_cache_keeps_a_fill_only_if_nothing_concerning_its_host_was_announced_since() -> None:
    cache = HostCache(ttl=dt.timedelta(minutes=5))
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    host = Host(id=7, osquery_host_id="seven", team_id=None, created_at=now, updated_at=now,
                last_enrolled_at=now, seen_time=now)

    started = cache.begin_fill()
    cache.invalidate([8])
    assert cache.finish_fill("k7", host, now, started)

    started = cache.begin_fill()
    cache.invalidate([7])
    assert not cache.finish_fill("k7", host, now, started)
    assert cache.get("k7", now) is None

    started = cache.begin_fill()
    cache.invalidate(())  # the bus lost messages: any host may have changed
    assert not cache.finish_fill("k7", host, now, started)

    # With no fill in flight, nothing about past invalidations is kept.
    assert cache.finish_fill("k7", host, now, cache.begin_fill())
    assert cache.get("k7", now) == host


# ---- the bus disconnected --------------------------------------------------------------------


@pytest.fixture
async def redis_buses(redis_url: str) -> AsyncIterator[tuple[RedisInvalidationBus, RedisInvalidationBus]]:
    client = redis.asyncio.Redis.from_url(redis_url)
    announcer, listener = RedisInvalidationBus(client), RedisInvalidationBus(client)
    await announcer.start()
    await listener.start()
    try:
        yield announcer, listener
    finally:
        await listener.stop()
        await announcer.stop()
        await client.aclose()


class DatabaseDown:
    """The real store behind a switch that makes every unit of work fail as a dead database does."""

    def __init__(self, kit: InMemoryKit) -> None:
        self._kit = kit
        self.down = False

    def __call__(self) -> InMemoryUnitOfWork:
        if self.down:
            raise Unavailable("database unavailable")
        return self._kit.store.unit_of_work()


@pytest.mark.redis
async def test_while_the_bus_is_disconnected_node_keys_are_checked_against_the_database(
    kit: InMemoryKit, admin: Viewer, redis_buses: tuple[RedisInvalidationBus, RedisInvalidationBus],
) -> None:
    announcer, listener = redis_buses
    await kit.services.config.replace_enroll_secrets(admin, ["secret"])
    node_key = await enroll(kit.services.agents, "secret")
    kept_key = await enroll(kit.services.agents, "secret", "kept")
    database = DatabaseDown(kit)
    elsewhere = other_process(kit, uow=database, bus=listener)
    host = await elsewhere.authenticate(node_key)
    kept = await elsewhere.authenticate(kept_key)
    assert listener.connected

    await listener.stop()  # the subscription is gone: announcements now pass this process by
    assert not listener.connected
    async with kit.store.unit_of_work() as uow:
        await uow.hosts.delete([host.id])
        await uow.commit()
    await announcer.publish([host.id])

    with pytest.raises(NodeInvalid):
        await elsewhere.authenticate(node_key)
    assert (await elsewhere.authenticate(kept_key)).id == kept.id

    # Database down as well: what is cached still serves, so agents ride out a double outage.
    database.down = True
    assert (await elsewhere.authenticate(kept_key)).id == kept.id
    with pytest.raises(Unavailable):
        await elsewhere.authenticate(node_key)


# ---- sessions, users, device tokens ----------------------------------------------------------


async def test_a_logged_out_session_is_refused_at_once(kit: InMemoryKit, make_user: MakeUser) -> None:
    viewer = await make_user(global_role="observer")
    _, token = await kit.services.auth.login(viewer.user.email, PASSWORD)
    current = await kit.services.auth.authenticate(token)

    await kit.services.auth.logout(current)

    with pytest.raises(AuthFailed):
        await kit.services.auth.authenticate(token)


async def test_a_password_change_ends_every_other_session_at_once(kit: InMemoryKit, make_user: MakeUser) -> None:
    viewer = await make_user(global_role="observer")
    _, other_token = await kit.services.auth.login(viewer.user.email, PASSWORD)
    _, own_token = await kit.services.auth.login(viewer.user.email, PASSWORD)
    own = await kit.services.auth.authenticate(own_token)

    await kit.services.auth.change_password(own, PASSWORD, "another-horse-10")

    with pytest.raises(AuthFailed):
        await kit.services.auth.authenticate(other_token)
    assert (await kit.services.auth.authenticate(own_token)).user.id == viewer.user.id


async def test_a_deleted_users_sessions_are_refused_at_once(
    kit: InMemoryKit, admin: Viewer, make_user: MakeUser,
) -> None:
    viewer = await make_user(global_role="maintainer")
    _, token = await kit.services.auth.login(viewer.user.email, PASSWORD)

    await kit.services.users.delete(admin, viewer.user.id)

    with pytest.raises(AuthFailed):
        await kit.services.auth.authenticate(token)


async def test_a_demotion_or_a_removed_team_role_counts_on_the_next_request(
    kit: InMemoryKit, admin: Viewer, make_user: MakeUser,
) -> None:
    team_id = await create_team(kit, admin, "Desktops")
    admin_to_be_demoted = await make_user(global_role="admin")
    _, token = await kit.services.auth.login(admin_to_be_demoted.user.email, PASSWORD)

    await kit.services.users.modify(admin, admin_to_be_demoted.user.id, UserChanges(global_role="observer"))
    assert (await kit.services.auth.authenticate(token)).user.global_role is Role.OBSERVER

    await kit.services.users.modify(admin, admin_to_be_demoted.user.id,
                                    UserChanges(global_role=None, teams=[(team_id, "maintainer")]))
    assert [t.team_id for t in (await kit.services.auth.authenticate(token)).user.teams] == [team_id]
    await kit.services.users.modify(admin, admin_to_be_demoted.user.id,
                                    UserChanges(teams=[(team_id, "observer")]))
    assert [t.role for t in (await kit.services.auth.authenticate(token)).user.teams] == [Role.OBSERVER]


async def test_a_rotated_or_orphaned_device_token_is_refused_at_once(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, ["secret"])
    host: Host = await kit.services.agents.authenticate(await enroll(kit.services.agents, "secret"))
    first = DeviceCredential((await kit.services.device.issue_token(admin, host.id)).token)
    assert (await kit.services.device.authenticate(first)).id == host.id

    second = DeviceCredential((await kit.services.device.issue_token(admin, host.id)).token)
    with pytest.raises(AuthFailed):
        await kit.services.device.authenticate(first)
    assert (await kit.services.device.authenticate(second)).id == host.id

    await kit.services.hosts.delete(admin, host.id)
    with pytest.raises(AuthFailed):
        await kit.services.device.authenticate(second)
