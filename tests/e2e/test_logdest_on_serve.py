"""`fleet serve` with the webhook log plugin (docs/logging.md): simulated hosts' result and status
logs reach a local receiver once each, the server's GET /config reports the plugin without the
token, and with the receiver down the hosts keep their lines until it is back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from test_serve import log_in, set_up

from fleet_osquery.sim import Simulator
from tests.logdest_servers import WebhookReceiver

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = pytest.mark.e2e

SECRET = "e2e-logdest-secret"
MAX_ROUNDS = 20


def test_simulated_hosts_logs_reach_the_webhook_once_each_across_an_outage(fleet: FleetCLI, data_dir: Path) -> None:
    async def scenario() -> None:
        async with WebhookReceiver() as receiver:
            server = fleet.serve(data_dir, tls=False, extra=(
                "--osquery-result-log-plugin", "webhook", "--osquery-status-log-plugin", "webhook",
                "--webhook-result-url", f"{receiver.url}/result", "--webhook-status-url", f"{receiver.url}/status",
                "--webhook-bearer-token", "e2e-bearer-token", "--webhook-gzip"))
            with server.client() as client:
                assert set_up(client, server.base_url).status_code == 200
                auth = {"Authorization": f"Bearer {log_in(client)}"}
                assert client.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                                   json={"spec": {"secrets": [{"secret": SECRET}]}}).status_code == 200
                config = client.get("/api/v1/fleet/config", headers=auth)
                assert config.json()["logging"]["result"]["plugin"] == "webhook"
                assert "e2e-bearer-token" not in config.text

                sent: dict[str, list[bytes]] = {"result": [], "status": []}
                sim = Simulator(server.base_url, SECRET, hosts=4, os_templates="ubuntu_22.04", start_period=0)
                async with sim:
                    for host in sim.hosts:
                        assert await host.enroll()

                    def queue(round_: int) -> None:
                        for host in sim.hosts:
                            for log_type, buffer in (("result", host.result_buffer), ("status", host.status_buffer)):
                                for n in range(30):
                                    line = json.dumps({"name": "pack/e2e/q", "hostIdentifier": host.host_identifier,
                                                       "round": round_, "n": n, "type": log_type},
                                                      separators=(",", ":")).encode()
                                    host._buffer(buffer, line)
                                    sent[log_type].append(line)

                    async def drain() -> None:
                        for _ in range(MAX_ROUNDS):
                            if not any(h.result_buffer or h.status_buffer for h in sim.hosts):
                                return
                            for host in sim.hosts:
                                await host.send_logs()
                        raise AssertionError("the hosts could not send their logs")

                    queue(0)
                    await drain()
                    await receiver.down()
                    queue(1)
                    for host in sim.hosts:
                        assert await host.send_logs() == 0
                    assert all(len(host.result_buffer) == 30 for host in sim.hosts)
                    await receiver.up()
                    await drain()
            assert server.terminate() == 0
            for log_type in ("result", "status"):
                assert sorted(receiver.records(f"/{log_type}")) == sorted(sent[log_type])
            assert all(headers["Authorization"] == "Bearer e2e-bearer-token" for _, headers, _ in receiver.requests)

    anyio.run(scenario)
