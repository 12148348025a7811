"""WebhookRepository contract: announced failures, the delivery queue and its claims, last-planned times."""

from __future__ import annotations

import datetime as dt

import anyio
import pytest

from fleet_core.model.policies import PolicyFields
from fleet_core.model.webhooks import WebhookKind
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory

pytestmark = pytest.mark.anyio

FP = WebhookKind.FAILING_POLICIES
MINUTE = dt.timedelta(minutes=1)


async def _host(uow: UnitOfWork, name: str, at: dt.datetime, **fields: str) -> int:
    host = (await uow.hosts.enroll(osquery_host_id=f"osq-{name}", node_key_hash=f"key-{name}", team_id=None,
                                   at=at, fields={"hostname": name, **fields})).host
    return host.id


async def _policy(uow: UnitOfWork, name: str, at: dt.datetime) -> int:
    return (await uow.policies.add(PolicyFields(name=name, query="SELECT 1;"), team_id=None, author_id=None,
                                   at=at)).id


async def test_newly_failing_lists_failing_hosts_not_yet_announced(uow_factory: UnitOfWorkFactory,
                                                                   at: dt.datetime) -> None:
    async with uow_factory() as uow:
        a = await _host(uow, "alpha", at, computer_name="Alpha Mac")
        b = await _host(uow, "bravo", at)
        c = await _host(uow, "charlie", at)
        p = await _policy(uow, "p1", at)
        await uow.policies.record_results(a, {p: False}, at)
        await uow.policies.record_results(b, {p: False}, at)
        await uow.policies.record_results(c, {p: True}, at)
        await uow.commit()
    async with uow_factory() as uow:
        failing = await uow.webhooks.newly_failing(p)
        assert [(h.id, h.hostname, h.display_name) for h in failing] == [
            (a, "alpha", "Alpha Mac"), (b, "bravo", "bravo")]
        await uow.webhooks.mark_announced(p, [a], at)
        await uow.commit()
    async with uow_factory() as uow:
        assert [h.id for h in await uow.webhooks.newly_failing(p)] == [b]
        [policy] = await uow.webhooks.policies([p, 999])
        assert (policy.id, policy.name, policy.passing_host_count, policy.failing_host_count) == (p, "p1", 1, 2)


async def test_a_pair_that_recovers_is_forgotten_and_announced_again_when_it_fails(
        uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        a = await _host(uow, "alpha", at)
        b = await _host(uow, "bravo", at)
        p = await _policy(uow, "p1", at)
        await uow.policies.record_results(a, {p: False}, at)
        await uow.policies.record_results(b, {p: False}, at)
        await uow.webhooks.mark_announced(p, [a, b], at)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhooks.forget_recovered() == 0
        await uow.policies.record_results(a, {p: True}, at)
        assert await uow.webhooks.forget_recovered() == 1
        assert await uow.webhooks.newly_failing(p) == []
        await uow.policies.record_results(a, {p: False}, at)
        assert [h.id for h in await uow.webhooks.newly_failing(p)] == [a]


async def test_a_claim_hides_the_delivery_until_its_lease_ends(uow_factory: UnitOfWorkFactory,
                                                               at: dt.datetime) -> None:
    async with uow_factory() as uow:
        queued = await uow.webhooks.enqueue(FP, {"hosts": [{"id": 1}], "n": 1}, at)
        await uow.webhooks.enqueue(WebhookKind.HOST_STATUS, {"text": "x"}, at)
        await uow.commit()
    assert queued.attempts == 0
    async with uow_factory() as uow:
        assert await uow.webhooks.claim(FP, now=at - MINUTE, lease_until=at) is None
        claim = await uow.webhooks.claim(FP, now=at, lease_until=at + 5 * MINUTE)
        await uow.commit()
    assert claim is not None
    assert (claim.id, claim.kind, claim.payload, claim.attempts) == (queued.id, FP, {"hosts": [{"id": 1}], "n": 1}, 1)
    async with uow_factory() as uow:
        assert await uow.webhooks.claim(FP, now=at + MINUTE, lease_until=at + 6 * MINUTE) is None
        # The lease ran out (the claimer died): due again, and the old claim is void.
        again = await uow.webhooks.claim(FP, now=at + 5 * MINUTE, lease_until=at + 10 * MINUTE)
        assert again is not None and again.attempts == 2
        assert not await uow.webhooks.complete(claim)
        assert not await uow.webhooks.retry_later(claim, at=at, error="late")
        assert await uow.webhooks.complete(again)
        await uow.commit()
    async with uow_factory() as uow:
        assert [d.kind for d in await uow.webhooks.pending()] == [WebhookKind.HOST_STATUS]


async def test_retry_later_makes_the_delivery_due_at_the_given_time(uow_factory: UnitOfWorkFactory,
                                                                    at: dt.datetime) -> None:
    async with uow_factory() as uow:
        await uow.webhooks.enqueue(FP, {"n": 1}, at)
        claim = await uow.webhooks.claim(FP, now=at, lease_until=at + MINUTE)
        assert claim is not None
        assert await uow.webhooks.retry_later(claim, at=at + 3 * MINUTE, error="receiver answered 500")
        await uow.commit()
    async with uow_factory() as uow:
        [pending] = await uow.webhooks.pending()
        assert (pending.attempts, pending.next_attempt_at, pending.last_error) == (
            1, at + 3 * MINUTE, "receiver answered 500")
        assert await uow.webhooks.claim(FP, now=at + 2 * MINUTE, lease_until=at + 9 * MINUTE) is None
        assert await uow.webhooks.claim(FP, now=at + 3 * MINUTE, lease_until=at + 9 * MINUTE) is not None


async def test_concurrent_claimers_never_get_the_same_delivery(uow_factory: UnitOfWorkFactory,
                                                               at: dt.datetime) -> None:
    async with uow_factory() as uow:
        for n in range(6):
            await uow.webhooks.enqueue(FP, {"n": n}, at)
        await uow.commit()
    claimed: list[int] = []

    async def claimer() -> None:
        while True:
            async with uow_factory() as uow:
                got = await uow.webhooks.claim(FP, now=at, lease_until=at + MINUTE)
                await uow.commit()
            if got is None:
                return
            claimed.append(got.payload["n"])

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(claimer)
    assert sorted(claimed) == list(range(6))


async def test_last_planned_is_remembered_per_kind(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        assert await uow.webhooks.last_planned(WebhookKind.HOST_STATUS) is None
        await uow.webhooks.set_last_planned(WebhookKind.HOST_STATUS, at)
        await uow.webhooks.set_last_planned(WebhookKind.HOST_STATUS, at + MINUTE)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.webhooks.last_planned(WebhookKind.HOST_STATUS) == at + MINUTE
        assert await uow.webhooks.last_planned(FP) is None


async def test_uncommitted_queue_writes_are_discarded(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        await uow.webhooks.enqueue(FP, {"n": 1}, at)
    async with uow_factory() as uow:
        assert await uow.webhooks.pending() == []
