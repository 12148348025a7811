"""POST /trigger?name=<schedule>: runs a schedule's jobs now (a due webhook goes out at once, stale
hosts and campaigns are cleaned up), refuses a run while one is in progress (409), refuses names
this server does not run (400 naming `name`), and only global admins may trigger."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import attrs
import httpx
import pytest

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.model.campaigns import CampaignStatus
from fleet_core.model.webhooks import WebhookSchedule
from fleet_core.rules.targets import TargetSelection
from tests.http import test_http_webhooks as hooks
from tests.http.support import Cast, Fleet, assert_error

pytestmark = pytest.mark.anyio

TRIGGER = "/api/v1/fleet/trigger"
DEADLINE_SECONDS = 10.0
# The periodic webhook job would deliver on its own within this interval; the tests finish long
# before, so what arrives was sent by the trigger.
SCHEDULE = WebhookSchedule(check_interval=dt.timedelta(hours=1))
UNSUPPORTED = ("apple_mdm_dep_profile_assigner", "integrations", "mdm_apple_profile_manager", "usage_statistics")

receiver = hooks.receiver


@pytest.fixture
def kit() -> InMemoryKit:
    return in_memory_kit(webhook_schedule=SCHEDULE)


@attrs.define
class HeldReceiver:
    """Accepts webhook POSTs but answers only once released, so a run stays in progress."""

    url: str = ""
    arrived: threading.Event = attrs.field(factory=threading.Event)
    release: threading.Event = attrs.field(factory=threading.Event)


@pytest.fixture
def held() -> Iterator[HeldReceiver]:
    state = HeldReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.arrived.set()
            state.release.wait(DEADLINE_SECONDS)
            self.send_response(200)
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
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


async def failing_policy_due(fleet: Fleet, url: str) -> int:
    """One host failing a watched policy, with the webhook pointed at ``url``; returns the host."""
    (host_id,) = await hooks.add_hosts(fleet, 1)
    policy_id = await hooks.add_policy(fleet, "Disk encrypted", {host_id: False})
    await hooks.enable_failing_policies(fleet, url, [policy_id], batch=0)
    return host_id


async def trigger(fleet: Fleet, name: str, headers: dict[str, str] | None = None,
                  prefix: str = "/api/v1") -> httpx.Response:
    return await fleet.client.post(f"{prefix}/fleet/trigger", params={"name": name},
                                   headers=fleet.as_admin if headers is None else headers)


async def test_triggering_automations_delivers_a_due_webhook_at_once(fleet: Fleet,
                                                                    receiver: hooks.Receiver) -> None:
    host_id = await failing_policy_due(fleet, receiver.url)
    assert receiver.requests == []
    response = await trigger(fleet, "automations", prefix="/api/latest")
    assert response.status_code == 200, response.text
    assert response.json() == {}
    # The run happened within the request: the receiver already has the batch.
    [body] = receiver.accepted()
    assert [h["id"] for h in body["hosts"]] == [host_id]
    async with fleet.kit.store.unit_of_work() as uow:
        assert await uow.webhooks.pending() == []
    # Nothing new is failing: a second run sends nothing.
    assert (await trigger(fleet, "automations")).status_code == 200
    assert len(receiver.requests) == 1


async def test_a_trigger_while_a_run_is_in_progress_is_a_conflict(fleet: Fleet, held: HeldReceiver) -> None:
    await failing_policy_due(fleet, held.url)
    first: list[httpx.Response] = []

    def first_trigger() -> None:
        # The test client blocks its caller until the response is complete (the app runs on its
        # own loop in another thread), so the run to overlap is started from a thread.
        first.append(asyncio.run(trigger(fleet, "automations")))

    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, first_trigger)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not held.arrived.is_set():
            assert time.monotonic() < deadline, "the triggered run never sent the webhook"
            await anyio.sleep(0.01)
        body = assert_error(await trigger(fleet, "automations"), 409, "base")
        assert body["message"] == "Conflict"
        assert "in progress" in body["errors"][0]["reason"]
        # Another schedule is not blocked by this one.
        assert (await trigger(fleet, "cleanups_then_aggregation")).status_code == 200
        held.release.set()
    assert first[0].status_code == 200, first[0].text
    # Once the run is over the schedule can be triggered again.
    assert (await trigger(fleet, "automations")).status_code == 200


async def test_triggering_cleanups_expires_hosts_and_completes_stale_campaigns(fleet: Fleet) -> None:
    now = fleet.clock.now()
    async with fleet.kit.store.unit_of_work() as uow:
        stale = (await uow.hosts.enroll(osquery_host_id="stale", node_key_hash="k-stale", team_id=None,
                                        at=now - dt.timedelta(days=3), fields={"hostname": "stale"})).host
        fresh = (await uow.hosts.enroll(osquery_host_id="fresh", node_key_hash="k-fresh", team_id=None,
                                        at=now, fields={"hostname": "fresh"})).host
        assert fleet.admin is not None
        campaign = await uow.campaigns.add(query_id=None, query="SELECT 1;", user_id=fleet.admin.id,
                                           selection=TargetSelection(host_ids=[fresh.id]), host_ids=[fresh.id],
                                           at=now - dt.timedelta(minutes=5))
        await uow.commit()
    response = await fleet.client.patch("/api/v1/fleet/config", headers=fleet.as_admin, json={
        "host_expiry_settings": {"host_expiry_enabled": True, "host_expiry_window": 1}})
    assert response.status_code == 200, response.text

    assert (await trigger(fleet, "cleanups_then_aggregation")).status_code == 200

    assert_error(await fleet.client.get(f"/api/v1/fleet/hosts/{stale.id}", headers=fleet.as_admin), 404)
    assert (await fleet.client.get(f"/api/v1/fleet/hosts/{fresh.id}", headers=fleet.as_admin)).status_code == 200
    async with fleet.kit.store.unit_of_work() as uow:
        got = await uow.campaigns.get(campaign.id)
    assert got is not None and got.status is CampaignStatus.COMPLETED


@pytest.mark.parametrize("name", ["nonsense", "AUTOMATIONS", "automations "])
async def test_an_unknown_name_is_a_bad_request(fleet: Fleet, name: str) -> None:
    body = assert_error(await trigger(fleet, name), 400, "name")
    assert "invalid name" in body["errors"][0]["reason"]


async def test_a_missing_name_is_a_bad_request(fleet: Fleet) -> None:
    assert_error(await fleet.client.post(TRIGGER, headers=fleet.as_admin), 400, "name")
    assert_error(await trigger(fleet, ""), 400, "name")


@pytest.mark.parametrize("name", UNSUPPORTED)
async def test_schedules_this_server_does_not_run_are_refused(fleet: Fleet, name: str) -> None:
    body = assert_error(await trigger(fleet, name), 400, "name")
    assert "not run by this server" in body["errors"][0]["reason"]


async def test_only_global_admins_may_trigger(cast: Cast, receiver: hooks.Receiver) -> None:
    await failing_policy_due(cast.fleet, receiver.url)
    for role in ("maintainer", "observer", "team_admin", "team_maintainer", "team_observer"):
        for name in ("automations", "nonsense", "vulnerabilities"):
            assert_error(await trigger(cast.fleet, name, cast[role].headers), 403)
    assert receiver.requests == []
    assert (await trigger(cast.fleet, "automations", cast["admin"].headers)).status_code == 200
    assert len(receiver.accepted()) == 1


async def test_without_a_session_it_is_unauthorized(fleet: Fleet) -> None:
    assert_error(await fleet.client.post(TRIGGER, params={"name": "automations"}), 401)
    assert_error(await trigger(fleet, "automations", {"Authorization": "Bearer nope"}), 401)


async def test_get_is_not_allowed(fleet: Fleet) -> None:
    response = await fleet.client.get(TRIGGER, params={"name": "automations"}, headers=fleet.as_admin)
    assert response.status_code == 405
    assert json.loads(response.text)["message"]


async def test_a_periodic_tick_skips_while_a_run_holds_the_schedule(kit: InMemoryKit) -> None:
    schedules = kit.services.schedules
    started, release = anyio.Event(), anyio.Event()
    runs: list[str] = []

    async def slow() -> None:
        runs.append("slow")
        started.set()
        await release.wait()

    async def quick() -> None:
        runs.append("quick")

    async with anyio.create_task_group() as tg:
        tg.start_soon(schedules.guarded("automations", slow))
        await started.wait()
        await schedules.guarded("automations", quick)()
        await schedules.guarded("cleanups_then_aggregation", quick)()
        release.set()
    await schedules.guarded("automations", quick)()
    assert runs == ["slow", "quick", "quick"]
