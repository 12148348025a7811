"""After a distributed/write the writing process keeps the host as the write left it, so its next
check-in costs no lookup; every other process drops its copy on the announcement and reads the
host again. A host anything else touched while the write ran is not kept: it is read again.

The clock never moves, so no TTL hides a stale entry. A second agent service over the same store
and bus plays another server process."""

from __future__ import annotations

from typing import Any

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.model.hosts import AgentHost
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.rules.agent_input import QueryResult
from fleet_core.services.agents import DETAIL_PREFIX, NO_POLICIES, AgentService
from tests.unit.services.support import ENROLL_SECRET

pytestmark = pytest.mark.anyio

OS_VERSION = f"{DETAIL_PREFIX}os_version"
DETAILS = {"system_info": {"hostname": "laptop", "uuid": "uuid-laptop"},
           "os_version": {"platform": "ubuntu", "name": "Ubuntu", "version": "22.04"}}


def another_process(kit: InMemoryKit, uow: UnitOfWorkFactory | None = None) -> AgentService:
    mine = kit.services.agents
    return AgentService(uow=uow or kit.store.unit_of_work, tokens=mine.tokens, clock=mine.clock,
                        bus=kit.services.bus, logs=mine.logs, packs=mine.packs, settings=mine.settings)


def answers(queries: dict[str, str]) -> dict[str, QueryResult]:
    """Every asked query answered; the host reports a new name and OS."""
    out = {name: QueryResult(rows=[]) for name in queries}
    out[OS_VERSION] = QueryResult(rows=[{"platform": "darwin", "name": "macOS", "version": "14.1", "major": "14",
                                         "minor": "1"}])
    out[f"{DETAIL_PREFIX}system_info"] = QueryResult(rows=[{"hostname": "renamed.local", "uuid": "uuid-laptop"}])
    return out


async def stored(kit: InMemoryKit, host_id: int) -> AgentHost:
    async with kit.store.unit_of_work() as uow:
        host = await uow.hosts.get(host_id)
    assert host is not None
    return AgentHost.of(host)


class Opened:
    """A unit of work factory over the real store counting the units of work it opened."""

    def __init__(self, kit: InMemoryKit) -> None:
        self.kit, self.count = kit, 0

    def __call__(self) -> Any:
        self.count += 1
        return self.kit.store.unit_of_work()


async def test_the_writer_keeps_the_host_it_wrote_and_the_others_read_it_again(
    kit: InMemoryKit, admin: Viewer
) -> None:
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    opened = Opened(kit)
    writer, elsewhere = another_process(kit, opened), another_process(kit)
    node_key = await writer.enroll(enroll_secret=ENROLL_SECRET, host_identifier="laptop", host_details=DETAILS)
    host = await writer.authenticate(node_key)
    await elsewhere.authenticate(node_key)

    await writer.distributed_write(host, answers((await writer.distributed_read(host)).queries))

    key = writer.tokens.digest(node_key)
    now = writer.clock.now()
    # Exactly what the store now holds, without reading it again.
    kept = writer.cache.get(key, now)
    assert kept is not None and kept == await stored(kit, host.id)
    assert (kept.platform, kept.hostname, kept.detail_updated_at) == ("darwin", "renamed.local", now)
    before = opened.count
    again = await writer.authenticate(node_key)
    assert opened.count == before  # no lookup
    asked = (await writer.distributed_read(again)).queries
    assert OS_VERSION not in asked and NO_POLICIES not in asked
    # The other process dropped its copy and reads the new one.
    assert elsewhere.cache.get(key, now) is None
    assert await elsewhere.authenticate(node_key) == kept


class TouchedOnCommit:
    """A unit of work factory whose commits are followed, before the writer goes on, by another
    process's announcement about the same host (a transfer or deletion racing the write)."""

    def __init__(self, kit: InMemoryKit) -> None:
        self.kit = kit
        self.host_ids: list[int] = []

    def __call__(self) -> Any:
        return _Touching(self.kit.store.unit_of_work(), self)


class _Touching:
    def __init__(self, real: Any, owner: TouchedOnCommit) -> None:
        self._real, self._owner = real, owner

    async def __aenter__(self) -> Any:
        self._uow = await self._real.__aenter__()
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)

    async def commit(self) -> None:
        await self._uow.commit()
        if self._owner.host_ids:
            await self._owner.kit.services.bus.publish(self._owner.host_ids)

    async def __aexit__(self, *exc: object) -> None:
        await self._real.__aexit__(*exc)


async def test_a_host_touched_while_the_write_ran_is_read_again(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    touching = TouchedOnCommit(kit)
    writer = another_process(kit, touching)
    node_key = await writer.enroll(enroll_secret=ENROLL_SECRET, host_identifier="laptop", host_details=DETAILS)
    host = await writer.authenticate(node_key)
    touching.host_ids = [host.id]

    await writer.distributed_write(host, answers((await writer.distributed_read(host)).queries))

    assert writer.cache.get(writer.tokens.digest(node_key), writer.clock.now()) is None


async def test_a_host_no_longer_cached_when_the_write_began_is_not_kept(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    writer = another_process(kit)
    node_key = await writer.enroll(enroll_secret=ENROLL_SECRET, host_identifier="laptop", host_details=DETAILS)
    host = await writer.authenticate(node_key)
    queries = (await writer.distributed_read(host)).queries
    # Dropped between the check-in and the write (an announcement about it arrived).
    writer.cache.invalidate([host.id])

    await writer.distributed_write(host, answers(queries))

    assert writer.cache.get(writer.tokens.digest(node_key), writer.clock.now()) is None


class BusyBus:
    """The bus of a busy fleet: while this process's announcement travels, announcements about
    other hosts arrive from other processes (the Redis bus yields while it publishes)."""

    def __init__(self, inner: Any, others: list[int]) -> None:
        self._inner, self.others = inner, others

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def publish(self, host_ids: Any) -> None:
        await self._inner.publish(host_ids)
        for other in self.others:
            await self._inner.publish([other])


async def writer_on(kit: InMemoryKit, admin: Viewer, bus: BusyBus) -> tuple[AgentService, str, AgentHost]:
    """A server process announcing on ``bus``, and a host it has enrolled and cached."""
    await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    mine = kit.services.agents
    node_key = await mine.enroll(enroll_secret=ENROLL_SECRET, host_identifier="laptop", host_details=DETAILS)
    writer = AgentService(uow=kit.store.unit_of_work, tokens=mine.tokens, clock=mine.clock, bus=bus,
                          logs=mine.logs, packs=mine.packs, settings=mine.settings)
    return writer, node_key, await writer.authenticate(node_key)


async def test_other_hosts_announced_while_the_write_ran_do_not_stop_it_being_kept(
    kit: InMemoryKit, admin: Viewer
) -> None:
    # Under load every process hears other hosts announced many times a second; only this host's
    # own invalidations may make the writer read it again.
    bus = BusyBus(kit.services.bus, [])
    writer, node_key, host = await writer_on(kit, admin, bus)
    bus.others.extend([host.id + 1, host.id + 2])

    await writer.distributed_write(host, answers((await writer.distributed_read(host)).queries))

    kept = writer.cache.get(writer.tokens.digest(node_key), writer.clock.now())
    assert kept is not None and kept == await stored(kit, host.id)


async def test_the_same_host_announced_while_the_write_was_announced_is_read_again(
    kit: InMemoryKit, admin: Viewer
) -> None:
    bus = BusyBus(kit.services.bus, [])
    writer, node_key, host = await writer_on(kit, admin, bus)
    bus.others.append(host.id)

    await writer.distributed_write(host, answers((await writer.distributed_read(host)).queries))

    assert writer.cache.get(writer.tokens.digest(node_key), writer.clock.now()) is None
