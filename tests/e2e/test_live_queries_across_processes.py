"""Two `fleet serve` processes sharing one Postgres and one Redis behave as one server: simulated
agents talk to the first, a live query is started on the second and its results stream from the
second (over SockJS' XHR transport), each host's answer crossing processes through Redis."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from test_serve import log_in, set_up

from fleet_osquery.sim import Simulator

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

SECRET = "two-process-secret"
HOSTS = 6
DEADLINE = 60.0


def shared(pg_dsn: str, redis_url: str) -> list[str]:
    return ["--database-url", pg_dsn, "--redis-url", redis_url]


def sockjs_messages(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    text = response.text.strip()
    return [json.loads(m) for m in json.loads(text[1:])] if text.startswith("a[") else []


def test_agents_on_one_process_answer_a_live_query_streamed_by_another(
    fleet: FleetCLI, tmp_path: Path, pg_dsn: str, redis_url: str,
) -> None:
    agents_side = fleet.serve(tmp_path / "a", tls=False, extra=shared(pg_dsn, redis_url))
    users_side = fleet.serve(tmp_path / "b", tls=False, extra=shared(pg_dsn, redis_url))
    with agents_side.client() as a, users_side.client() as b:
        assert set_up(a, agents_side.base_url).status_code == 200
        token = log_in(b)  # a session made on one process is good on the other
        auth = {"Authorization": f"Bearer {token}"}
        assert a.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                      json={"spec": {"secrets": [{"secret": SECRET}]}}).status_code == 200

        async def scenario() -> None:
            sim = Simulator(agents_side.base_url, SECRET, hosts=HOSTS, os_templates="ubuntu_22.04,macos_14",
                            start_period=0)
            async with sim:
                for host in sim.hosts:
                    assert await host.enroll()
                    await host.check_in()
                hostnames = {h.identity.hostname for h in sim.hosts}

                started = b.post("/api/v1/fleet/queries/run", headers=auth, json={
                    "query": "SELECT 1 AS one;", "selected": {"hosts": [], "labels": [1], "teams": []}})
                assert started.status_code == 200, started.text
                campaign = started.json()["campaign"]
                assert campaign["Metrics"]["TotalHosts"] == HOSTS

                session = "/api/v1/fleet/results/1/two-process"
                assert b.post(f"{session}/xhr").text == "o\n"
                sent = b.post(f"{session}/xhr_send", content=json.dumps([
                    json.dumps({"type": "auth", "data": {"token": token}}),
                    json.dumps({"type": "select_campaign", "data": {"campaign_id": campaign["id"]}})]))
                assert sent.status_code == 204

                results: dict[str, dict[str, Any]] = {}
                statuses: list[dict[str, Any]] = []

                async def agents() -> None:
                    # Like osqueryd's distributed loop; the agents' process learns of the campaign
                    # from Redis within a second, and answered hosts stop being asked.
                    while not (statuses and statuses[-1]["status"] == "finished"):
                        for host in sim.hosts:
                            await host.check_in()
                        await anyio.sleep(0.2)

                async def stream() -> None:
                    deadline = time.monotonic() + DEADLINE
                    while not (statuses and statuses[-1]["status"] == "finished"):
                        assert time.monotonic() < deadline, (sorted(results), statuses)
                        poll = await anyio.to_thread.run_sync(lambda: b.post(f"{session}/xhr", timeout=40.0))
                        for message in sockjs_messages(poll):
                            if message["type"] == "result":
                                results[message["data"]["host"]["hostname"]] = message["data"]
                            elif message["type"] == "status":
                                statuses.append(message["data"])
                            else:
                                assert message["type"] == "totals", message

                with anyio.fail_after(DEADLINE):
                    async with anyio.create_task_group() as tasks:
                        tasks.start_soon(agents)
                        tasks.start_soon(stream)

                assert set(results) == hostnames
                assert statuses[-1] == {"expected_results": HOSTS, "actual_results": HOSTS, "status": "finished"}
                for hostname, result in results.items():
                    assert result["error"] is None
                    for row in result["rows"]:
                        assert row["host_hostname"] == hostname

        anyio.run(scenario)
    assert agents_side.terminate() == 0
    assert users_side.terminate() == 0


def test_the_real_server_speaks_websocket_on_the_results_stream(fleet: FleetCLI, tmp_path: Path) -> None:
    # uvicorn upgrades only with a WebSocket library installed: a plain install must have one.
    from websockets.sync.client import connect

    server = fleet.serve(tmp_path / "ws", tls=False)
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        token = log_in(client)
    url = server.base_url.replace("http://", "ws://")
    with connect(f"{url}/api/v1/fleet/results/websocket", open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "data": {"token": token}}))
        socket.send(json.dumps({"type": "select_campaign", "data": {"campaign_id": 999}}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "error", "data": "campaign 999 not found"}
    with connect(f"{url}/api/v1/fleet/results/0/sockjs-session/websocket", open_timeout=10) as socket:
        assert socket.recv(timeout=10) == "o"
        socket.send(json.dumps([json.dumps({"type": "auth", "data": {"token": "wrong"}})]))
        assert socket.recv(timeout=10) == 'a["{\\"type\\":\\"error\\",\\"data\\":\\"unauthorized\\"}"]'
    assert server.terminate() == 0
