"""WebhookService over the in-memory store and over Postgres (several services sharing one database)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import anyio
import attrs
import pytest

from fleet_adapters.memory import InMemoryStore, MovableClock
from fleet_core.errors import Unavailable
from fleet_core.model.config import FailingPoliciesWebhook, HostStatusWebhook, ServerSettings
from fleet_core.model.policies import PolicyFields
from fleet_core.model.webhooks import WebhookKind, WebhookSchedule
from fleet_core.ports import UnitOfWorkFactory
from fleet_core.services.webhooks import WebhookService

pytestmark = pytest.mark.anyio

URL = "https://hooks.example.com/fleet"
MINUTE = dt.timedelta(minutes=1)
SCHEDULE = WebhookSchedule(retry_base=MINUTE, retry_max=10 * MINUTE, lease=5 * MINUTE)


@attrs.define
class RecordingSender:
    """Records what was posted; fails the next ``failures`` requests."""

    sent: list[tuple[str, dict[str, Any], str]] = attrs.field(factory=list)
    failures: int = 0
    attempts: int = 0

    async def post(self, url: str, payload: Mapping[str, Any], *, delivery_id: str) -> None:
        self.attempts += 1
        # Yield, as a real request would, so concurrent runs interleave.
        await anyio.sleep(0)
        if self.failures:
            self.failures -= 1
            raise Unavailable("webhook receiver answered 500")
        self.sent.append((url, dict(payload), delivery_id))


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow_factory(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        return InMemoryStore().unit_of_work
    factory: UnitOfWorkFactory = request.getfixturevalue("pg_uow_factory")
    return factory


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC))


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


def service(uow_factory: UnitOfWorkFactory, clock: MovableClock, sender: RecordingSender) -> WebhookService:
    return WebhookService(uow=uow_factory, clock=clock, sender=sender, schedule=SCHEDULE)


async def configure(uow_factory: UnitOfWorkFactory, *, failing: FailingPoliciesWebhook | None = None,
                    status: HostStatusWebhook | None = None) -> None:
    async with uow_factory() as uow:
        config = await uow.app_config.get()
        hooks = config.webhook_settings
        if failing is not None:
            hooks = attrs.evolve(hooks, failing_policies_webhook=failing)
        if status is not None:
            hooks = attrs.evolve(hooks, host_status_webhook=status)
        await uow.app_config.save(attrs.evolve(
            config, webhook_settings=hooks, server_settings=ServerSettings(server_url="https://fleet.example.com")))
        await uow.commit()


async def seed(uow_factory: UnitOfWorkFactory, at: dt.datetime, *, hosts: int,
               failing: Mapping[str, list[int]]) -> dict[str, Any]:
    """Hosts h1..hN and one policy per name, failed by the listed host numbers (passed by the rest)."""
    async with uow_factory() as uow:
        ids = []
        for n in range(1, hosts + 1):
            host = (await uow.hosts.enroll(osquery_host_id=f"osq-{n}", node_key_hash=f"key-{n}", team_id=None,
                                           at=at, fields={"hostname": f"h{n}"})).host
            ids.append(host.id)
        policies = {}
        for name, failed in failing.items():
            policy = await uow.policies.add(PolicyFields(name=name, query="SELECT 1;"), team_id=None,
                                            author_id=None, at=at)
            policies[name] = policy.id
            for n, host_id in enumerate(ids, start=1):
                await uow.policies.record_results(host_id, {policy.id: n not in failed}, at)
        await uow.commit()
    return {"hosts": ids, "policies": policies}


def host_lists(sender: RecordingSender) -> list[tuple[str, list[str]]]:
    return [(body["policy"]["name"], [h["hostname"] for h in body["hosts"]])
            for _, body, _ in sender.sent if "policy" in body]


async def test_newly_failing_hosts_are_sent_once_in_batches(uow_factory: UnitOfWorkFactory, clock: MovableClock,
                                                            sender: RecordingSender) -> None:
    seeded = await seed(uow_factory, clock.now(), hosts=5, failing={"p1": [1, 2, 3], "p2": [4], "p3": [5]})
    p = seeded["policies"]
    await configure(uow_factory, failing=FailingPoliciesWebhook(
        enable_failing_policies_webhook=True, destination_url=URL, policy_ids=[p["p1"], p["p2"]],
        host_batch_size=2))
    hooks = service(uow_factory, clock, sender)
    assert await hooks.run_failing_policies() == 3
    assert host_lists(sender) == [("p1", ["h1", "h2"]), ("p1", ["h3"]), ("p2", ["h4"])]
    url, body, delivery_id = sender.sent[0]
    assert url == URL and delivery_id
    assert body["policy"]["id"] == p["p1"] and body["policy"]["failing_host_count"] == 3
    assert body["hosts"][0]["url"] == f"https://fleet.example.com/hosts/{seeded['hosts'][0]}"
    assert await hooks.run_failing_policies() == 0
    assert len(sender.sent) == 3


async def test_a_host_that_passes_and_fails_again_is_sent_again(uow_factory: UnitOfWorkFactory,
                                                               clock: MovableClock, sender: RecordingSender) -> None:
    seeded = await seed(uow_factory, clock.now(), hosts=2, failing={"p1": [1]})
    pid, (h1, _) = seeded["policies"]["p1"], seeded["hosts"]
    await configure(uow_factory, failing=FailingPoliciesWebhook(
        enable_failing_policies_webhook=True, destination_url=URL, policy_ids=[pid]))
    hooks = service(uow_factory, clock, sender)
    await hooks.run_failing_policies()
    for passes in (True, False):
        async with uow_factory() as uow:
            await uow.policies.record_results(h1, {pid: passes}, clock.now())
            await uow.commit()
        await hooks.run_failing_policies()
    assert host_lists(sender) == [("p1", ["h1"]), ("p1", ["h1"])]


async def test_nothing_is_sent_or_queued_when_disabled(uow_factory: UnitOfWorkFactory, clock: MovableClock,
                                                       sender: RecordingSender) -> None:
    seeded = await seed(uow_factory, clock.now(), hosts=2, failing={"p1": [1, 2]})
    await configure(uow_factory, failing=FailingPoliciesWebhook(
        enable_failing_policies_webhook=False, destination_url=URL, policy_ids=list(seeded["policies"].values())),
        status=HostStatusWebhook(enable_host_status_webhook=False, destination_url=URL, host_percentage=1,
                                 days_count=1))
    clock.advance(dt.timedelta(days=30))
    hooks = service(uow_factory, clock, sender)
    await hooks.run()
    assert sender.attempts == 0
    async with uow_factory() as uow:
        assert await uow.webhooks.pending() == []


async def test_a_failed_delivery_is_retried_after_backoff_to_the_current_url(
        uow_factory: UnitOfWorkFactory, clock: MovableClock, sender: RecordingSender) -> None:
    seeded = await seed(uow_factory, clock.now(), hosts=1, failing={"p1": [1]})
    hook = FailingPoliciesWebhook(enable_failing_policies_webhook=True, destination_url=URL,
                                  policy_ids=list(seeded["policies"].values()))
    await configure(uow_factory, failing=hook)
    sender.failures = 2
    hooks = service(uow_factory, clock, sender)
    assert await hooks.run_failing_policies() == 0
    # Not due yet: the first retry waits retry_base.
    assert await hooks.run_failing_policies() == 0
    assert sender.attempts == 1
    clock.advance(MINUTE)
    assert await hooks.run_failing_policies() == 0
    assert sender.attempts == 2
    clock.advance(MINUTE)
    assert await hooks.run_failing_policies() == 0  # the second retry waits twice as long
    await configure(uow_factory, failing=attrs.evolve(hook, destination_url=URL + "/v2"))
    clock.advance(MINUTE)
    assert await hooks.run_failing_policies() == 1
    assert [(url, body["hosts"][0]["hostname"]) for url, body, _ in sender.sent] == [(URL + "/v2", "h1")]
    async with uow_factory() as uow:
        assert await uow.webhooks.pending() == []


async def test_a_delivery_whose_sender_died_is_sent_again_after_the_lease(
        uow_factory: UnitOfWorkFactory, clock: MovableClock, sender: RecordingSender) -> None:
    await seed(uow_factory, clock.now(), hosts=1, failing={"p1": [1]})
    async with uow_factory() as uow:
        await uow.webhooks.enqueue(WebhookKind.FAILING_POLICIES, {"marker": "lost-in-flight"}, clock.now())
        # A process claimed it and died before recording the outcome.
        assert await uow.webhooks.claim(WebhookKind.FAILING_POLICIES, now=clock.now(),
                                        lease_until=clock.now() + 5 * MINUTE)
        await uow.commit()
    await configure(uow_factory, failing=FailingPoliciesWebhook(
        enable_failing_policies_webhook=True, destination_url=URL, policy_ids=[]))
    hooks = service(uow_factory, clock, sender)
    assert await hooks.run_failing_policies() == 0
    clock.advance(5 * MINUTE)
    assert await hooks.run_failing_policies() == 1
    assert sender.sent[0][1] == {"marker": "lost-in-flight"}


async def test_host_status_fires_once_a_day_while_enough_hosts_are_unseen(
        uow_factory: UnitOfWorkFactory, clock: MovableClock, sender: RecordingSender) -> None:
    start = clock.now()
    seeded = await seed(uow_factory, start, hosts=4, failing={})
    await configure(uow_factory, status=HostStatusWebhook(enable_host_status_webhook=True, destination_url=URL,
                                                          host_percentage=50, days_count=3))
    hooks = service(uow_factory, clock, sender)
    clock.advance(dt.timedelta(days=4))
    async with uow_factory() as uow:
        await uow.hosts.mark_seen({seeded["hosts"][0]: clock.now(), seeded["hosts"][1]: clock.now()})
        await uow.commit()
    assert await hooks.run_host_status() == 1
    _, body, _ = sender.sent[0]
    assert body["data"] == {"unseen_hosts": 2, "total_hosts": 4, "days_unseen": 3,
                            "host_ids": seeded["hosts"][2:]}
    assert body["text"].startswith("More than 50.00% of your hosts have not checked into Fleet for more than 3 days")
    clock.advance(dt.timedelta(hours=23))
    assert await hooks.run_host_status() == 0
    clock.advance(dt.timedelta(hours=1))
    assert await hooks.run_host_status() == 1
    assert len(sender.sent) == 2


async def test_host_status_stays_quiet_below_the_percentage(uow_factory: UnitOfWorkFactory, clock: MovableClock,
                                                            sender: RecordingSender) -> None:
    seeded = await seed(uow_factory, clock.now(), hosts=4, failing={})
    await configure(uow_factory, status=HostStatusWebhook(enable_host_status_webhook=True, destination_url=URL,
                                                          host_percentage=50, days_count=3))
    clock.advance(dt.timedelta(days=4))
    async with uow_factory() as uow:
        await uow.hosts.mark_seen({h: clock.now() for h in seeded["hosts"][:3]})
        await uow.commit()
    assert await service(uow_factory, clock, sender).run_host_status() == 0
    assert sender.attempts == 0


@pytest.mark.postgres
async def test_services_sharing_postgres_send_each_batch_once(pg_uow_factory: UnitOfWorkFactory,
                                                              clock: MovableClock, sender: RecordingSender) -> None:
    seeded = await seed(pg_uow_factory, clock.now(), hosts=12, failing={"p1": list(range(1, 13)), "p2": [2, 5]})
    await configure(pg_uow_factory, failing=FailingPoliciesWebhook(
        enable_failing_policies_webhook=True, destination_url=URL, policy_ids=list(seeded["policies"].values()),
        host_batch_size=3), status=HostStatusWebhook(enable_host_status_webhook=True, destination_url=URL,
                                                     host_percentage=10, days_count=1))
    clock.advance(dt.timedelta(days=2))
    # Several processes' services: each its own object, sharing only the database.
    services = [service(pg_uow_factory, clock, sender) for _ in range(4)]
    async with anyio.create_task_group() as tg:
        for hooks in services:
            tg.start_soon(hooks.run)
            tg.start_soon(hooks.run)
    failing = [body for _, body, _ in sender.sent if "policy" in body]
    status = [body for _, body, _ in sender.sent if "text" in body]
    assert sorted(host_lists(sender)) == sorted(
        [("p1", ["h1", "h2", "h3"]), ("p1", ["h4", "h5", "h6"]), ("p1", ["h7", "h8", "h9"]),
         ("p1", ["h10", "h11", "h12"]), ("p2", ["h2", "h5"])])
    assert len(failing) == 5 and len(status) == 1
    assert len({delivery_id for _, _, delivery_id in sender.sent}) == 6
