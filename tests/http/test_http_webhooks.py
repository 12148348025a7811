"""The webhooks as `fleet serve` runs them: configured through PATCH /config, sent by the app's
periodic job over real HTTP to a receiver started by the test."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import attrs
import pytest

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.model.policies import PolicyFields
from fleet_core.model.webhooks import WebhookSchedule
from tests.http.support import SERVER_URL, Fleet

pytestmark = pytest.mark.anyio

DEADLINE_SECONDS = 10.0
SCHEDULE = WebhookSchedule(check_interval=dt.timedelta(milliseconds=20), retry_base=dt.timedelta(minutes=1))


@attrs.define
class Received:
    delivery_id: str
    body: dict[str, Any]
    status: int


@attrs.define
class Receiver:
    """A tiny HTTP server in a thread: records every POST; answers 500 to the next ``failures``."""

    url: str = ""
    requests: list[Received] = attrs.field(factory=list)
    failures: int = 0
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.requests if r.status == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                status = 500 if state.failures else 200
                state.failures = max(state.failures - 1, 0)
                state.requests.append(Received(self.headers.get("X-Fleet-Delivery-Id", ""), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def kit() -> InMemoryKit:
    return in_memory_kit(webhook_schedule=SCHEDULE)


async def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the webhook never arrived"
        await anyio.sleep(0.01)


async def failure_recorded(fleet: Fleet) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        async with fleet.kit.store.unit_of_work() as uow:
            if any(d.last_error for d in await uow.webhooks.pending()):
                return
        assert time.monotonic() < deadline, "the failed delivery was never rescheduled"
        await anyio.sleep(0.01)


async def add_hosts(fleet: Fleet, count: int) -> list[int]:
    async with fleet.kit.store.unit_of_work() as uow:
        ids = []
        for n in range(1, count + 1):
            host = (await uow.hosts.enroll(osquery_host_id=f"osq-{n}", node_key_hash=f"key-{n}", team_id=None,
                                           at=fleet.clock.now(), fields={"hostname": f"h{n}"})).host
            ids.append(host.id)
        await uow.commit()
    return ids


async def add_policy(fleet: Fleet, name: str, results: dict[int, bool]) -> int:
    async with fleet.kit.store.unit_of_work() as uow:
        policy = await uow.policies.add(PolicyFields(name=name, query="SELECT 1;", resolution="Fix it"),
                                        team_id=None, author_id=None, at=fleet.clock.now())
        for host_id, passes in results.items():
            await uow.policies.record_results(host_id, {policy.id: passes}, fleet.clock.now())
        await uow.commit()
    return policy.id


async def record(fleet: Fleet, host_id: int, policy_id: int, passes: bool) -> None:
    async with fleet.kit.store.unit_of_work() as uow:
        await uow.policies.record_results(host_id, {policy_id: passes}, fleet.clock.now())
        await uow.commit()


async def enable_failing_policies(fleet: Fleet, url: str, policy_ids: list[int], batch: int) -> None:
    response = await fleet.client.patch("/api/latest/fleet/config", headers=fleet.as_admin, json={
        "webhook_settings": {"failing_policies_webhook": {
            "enable_failing_policies_webhook": True, "destination_url": url, "policy_ids": policy_ids,
            "host_batch_size": batch}}})
    assert response.status_code == 200, response.text


async def test_failing_policy_hosts_arrive_batched_and_once(fleet: Fleet, receiver: Receiver) -> None:
    h1, h2, h3, h4 = await add_hosts(fleet, 4)
    policy_id = await add_policy(fleet, "Disk encrypted", {h1: False, h2: False, h3: False, h4: True})
    await enable_failing_policies(fleet, receiver.url, [policy_id], batch=2)
    await eventually(lambda: len(receiver.accepted()) >= 2)
    first, second = receiver.accepted()
    assert set(first) == {"timestamp", "policy", "hosts"}
    assert first["policy"]["id"] == policy_id and first["policy"]["name"] == "Disk encrypted"
    assert first["policy"]["resolution"] == "Fix it" and first["policy"]["failing_host_count"] == 3
    assert first["hosts"] == [
        {"id": h, "hostname": f"h{n}", "display_name": f"h{n}", "url": f"{SERVER_URL}/hosts/{h}"}
        for n, h in ((1, h1), (2, h2))]
    assert [h["id"] for h in second["hosts"]] == [h3]
    # A host newly failing is announced on a later run; the earlier batches are not sent again.
    await record(fleet, h4, policy_id, False)
    await eventually(lambda: len(receiver.accepted()) >= 3)
    assert [h["id"] for h in receiver.accepted()[2]["hosts"]] == [h4]
    assert len({r.delivery_id for r in receiver.requests}) == 3


async def test_a_receiver_that_fails_gets_the_batch_after_backoff(fleet: Fleet, receiver: Receiver) -> None:
    (h1,) = await add_hosts(fleet, 1)
    policy_id = await add_policy(fleet, "Firewall on", {h1: False})
    receiver.failures = 1
    await enable_failing_policies(fleet, receiver.url, [policy_id], batch=0)
    await eventually(lambda: len(receiver.requests) >= 1)
    assert receiver.accepted() == []
    # The receiver sees the request before the job has recorded its failure; moving the clock
    # earlier would put the retry a full backoff after the moved clock.
    await failure_recorded(fleet)
    fleet.clock.advance(SCHEDULE.retry_base)
    await eventually(lambda: len(receiver.accepted()) == 1)
    failed, delivered = receiver.requests
    assert failed.delivery_id == delivered.delivery_id and failed.body == delivered.body
    assert [h["id"] for h in delivered.body["hosts"]] == [h1]


async def test_host_status_webhook_reports_unseen_hosts(fleet: Fleet, receiver: Receiver) -> None:
    hosts = await add_hosts(fleet, 3)
    response = await fleet.client.patch("/api/latest/fleet/config", headers=fleet.as_admin, json={
        "webhook_settings": {"host_status_webhook": {
            "enable_host_status_webhook": True, "destination_url": receiver.url, "host_percentage": 50,
            "days_count": 7}}})
    assert response.status_code == 200, response.text
    # Every host is recently seen: nothing to report yet.
    assert receiver.requests == []
    fleet.clock.advance(dt.timedelta(days=8))
    await eventually(lambda: len(receiver.accepted()) >= 1)
    [body] = receiver.accepted()
    assert body["data"] == {"unseen_hosts": 3, "total_hosts": 3, "days_unseen": 7, "host_ids": hosts}
    assert body["text"].startswith("More than 100.00% of your hosts have not checked into Fleet for more than 7")
