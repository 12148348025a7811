"""Simulated agents against the real `fleet serve`: enrollment, vitals, status, re-enrollment, logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from test_serve import log_in, set_up

from fleet_osquery.sim import Simulator

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = pytest.mark.e2e

SECRET = "e2e-enroll-secret"
TEMPLATES = "macos_14,ubuntu_22.04,windows_11,rhel_9"


def hosts(client: httpx.Client, auth: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/fleet/hosts", headers=auth, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["hosts"])


async def _drive(base_url: str, rounds: int) -> Simulator:
    sim = Simulator(base_url, SECRET, hosts=8, os_templates=TEMPLATES, start_period=0)
    for host in sim.hosts:
        assert await host.enroll()
        await host.fetch_config()
        for _ in range(rounds):
            await host.check_in()
    return sim


def test_simulated_hosts_enroll_report_vitals_and_re_enroll_without_duplicates(fleet: FleetCLI,
                                                                               data_dir: Path) -> None:
    server = fleet.serve(data_dir, tls=False)
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        auth = {"Authorization": f"Bearer {log_in(client)}"}
        assert client.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                           json={"spec": {"secrets": [{"secret": SECRET}]}}).status_code == 200

        async def scenario() -> None:
            sim = await _drive(server.base_url, rounds=2)
            async with sim:
                listed = hosts(client, auth, order_key="hostname")
                assert len(listed) == 8
                assert {h["platform"] for h in listed} == {"darwin", "ubuntu", "windows", "rhel"}
                for host in listed:
                    assert host["status"] == "online"
                    assert host["hostname"] and host["uuid"] and host["os_version"] and host["osquery_version"]
                    assert host["memory"] > 0 and host["cpu_logical_cores"] > 0
                    assert host["primary_ip"] and host["primary_mac"]
                    assert host["distributed_interval"] > 0
                    assert not host["refetch_requested"]
                detail = client.get(f"/api/v1/fleet/hosts/{listed[0]['id']}", headers=auth).json()["host"]
                assert any(label["name"] == "All Hosts" for label in detail["labels"])
                assert detail["software"], "software inventory arrived"

                # Re-enrolling keeps the same row; the old node key is refused.
                first = sim.hosts[0]
                old_key = first.node_key
                assert await first.enroll()
                assert first.node_key != old_key
                assert len(hosts(client, auth)) == 8
                stale = client.post("/api/osquery/config", json={"node_key": old_key})
                assert stale.status_code == 401 and stale.json()["node_invalid"] is True

                # A deleted host is told to re-enroll on its next check-in, and comes back once.
                victim = next(h for h in hosts(client, auth) if h["hostname"] == sim.hosts[1].identity.hostname)
                assert client.delete(f"/api/v1/fleet/hosts/{victim['id']}", headers=auth).status_code == 200
                # The delete reaches the server's host cache through the Redis invalidation bus,
                # milliseconds after the response: the agent checks in until it is told
                # node_invalid (it then drops its key), then enrolls again on its next check-in.
                victim_agent = sim.hosts[1]
                with anyio.fail_after(10):
                    while victim_agent.node_key:
                        await victim_agent.check_in()
                        await anyio.sleep(0.05)  # pacing the agent's check-ins, not synchronising
                await victim_agent.check_in()  # enrolls again, then checks in
                again = hosts(client, auth)
                assert len(again) == 8
                assert victim["id"] not in {h["id"] for h in again}

                # Logs land in the filesystem destination, one JSON line per record.
                records = [{"name": "pack/Global/e2e", "hostIdentifier": "x", "unixTime": 1,
                            "snapshot": [{"a": "1"}], "action": "snapshot"}]
                sent = client.post("/api/osquery/log", json={"node_key": sim.hosts[2].node_key,
                                                             "log_type": "result", "data": records})
                assert sent.status_code == 200 and sent.json() == {}
                lines = (data_dir / "osquery_result").read_text().splitlines()
                assert [json.loads(line) for line in lines] == records

        anyio.run(scenario)
    assert server.terminate() == 0
