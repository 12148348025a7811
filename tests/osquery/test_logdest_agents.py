"""Issue 19 §1 end to end: simulated hosts send result and status logs through the osquery API to
each remote log destination in turn (moto for Firehose, Kinesis, Lambda and S3; local servers
speaking the Pub/Sub, Kafka REST and webhook protocols), built from the settings as `fleet serve`
builds them. Every line arrives once; while the destination is down the hosts get an error and
keep their lines, and once it is back they send them and nothing acknowledged is missing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.log_plugins import open_log_destinations
from fleet_adapters.logs import DeliveryEvent, on_delivery
from fleet_adapters.memory import in_memory_kit
from fleet_adapters.settings import load_settings
from fleet_core.services import Services
from fleet_osquery.app import create_app
from fleet_osquery.sim.agent import SimOptions, SimulatedHost
from fleet_osquery.sim.stats import Endpoint, Outcome, Stats
from fleet_osquery.sim.templates import get_template
from fleet_osquery.sim.wire import Wire
from tests.logdest_servers import PLUGINS, running_backend
from tests.osquery.conftest import SECRET

pytestmark = pytest.mark.anyio

HOSTS = 3
LINES_PER_BATCH = 40
# Lambda is one invocation per line (as in Fleet), so it gets fewer lines.
LINES = {"result": 90, "status": 25}
LAMBDA_LINES = {"result": 15, "status": 5}
MAX_ROUNDS = 50


def line(host: SimulatedHost, log_type: str, round_: int, n: int) -> bytes:
    record: dict[str, Any] = {"name": f"pack/ops/q{n % 3}", "hostIdentifier": host.host_identifier,
                              "round": round_, "n": n, "log_type": log_type,
                              "decorations": {"host_uuid": host.host_identifier, "hostname": f"h{host.index}"},
                              "columns": {"path": "/usr/bin/caf\u00e9", "note": "line\nbreak \"quoted\""}}
    return json.dumps(record, separators=(",", ":")).encode()


def queue(hosts: list[SimulatedHost], round_: int, counts: dict[str, int], sent: dict[str, list[bytes]]) -> None:
    for host in hosts:
        for log_type, buffer in (("result", host.result_buffer), ("status", host.status_buffer)):
            for n in range(counts[log_type]):
                data = line(host, log_type, round_, n)
                host._buffer(buffer, data)
                sent[log_type].append(data)


async def drain(hosts: list[SimulatedHost]) -> None:
    for _ in range(MAX_ROUNDS):
        if not any(host.result_buffer or host.status_buffer for host in hosts):
            return
        for host in hosts:
            await host.send_logs()
    raise AssertionError("the hosts could not send their logs")


@pytest.mark.parametrize("plugin", PLUGINS)
async def test_every_line_arrives_once_and_an_outage_loses_nothing(plugin: str, s3_endpoint: str) -> None:
    counts = LAMBDA_LINES if plugin == "lambda" else LINES
    events: list[DeliveryEvent] = []
    stop_listening = on_delivery(events.append)
    stats = Stats()
    sent: dict[str, list[bytes]] = {"result": [], "status": []}
    try:
        async with running_backend(plugin, s3_endpoint) as backend:
            settings = load_settings(backend.settings, environ={})
            kit = in_memory_kit()

            @asynccontextmanager
            async def serve() -> AsyncIterator[Services]:
                # Opened by the app's lifespan, in the loop that serves its requests, as in `fleet serve`.
                async with open_log_destinations(settings) as logs:
                    kit.services.agents.logs = dict(logs)
                    yield kit.services

            async with kit.store.unit_of_work() as uow:
                await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
                await uow.commit()
            async with AsyncTestClient(create_app(serve)) as client:
                async def no_sleep(seconds: float) -> None:
                    return None

                hosts = [SimulatedHost(i, get_template("ubuntu_22.04"),
                                       Wire(client, str(client.base_url), "/api/osquery", stats), SECRET,
                                       SimOptions(logger_tls_max_lines=LINES_PER_BATCH), sleep=no_sleep)
                         for i in range(HOSTS)]
                for host in hosts:
                    assert await host.enroll()
                queue(hosts, 0, counts, sent)
                await drain(hosts)

                await backend.gate.down()
                queue(hosts, 1, counts, sent)
                for host in hosts:
                    assert await host.send_logs() == 0
                    assert len(host.result_buffer) == counts["result"]
                assert stats.endpoints[Endpoint.LOG].outcomes[Outcome.ERROR_BODY] >= HOSTS

                await backend.gate.up()
                await drain(hosts)
            for log_type in ("result", "status"):
                got = backend.read(log_type)
                assert len(got) == len(sent[log_type])
                assert sorted(got) == sorted(sent[log_type]), f"{plugin} {log_type} lines differ"
    finally:
        stop_listening()
    mine = [event for event in events if event.destination == plugin]
    assert {event.outcome for event in mine} == {"accepted", "failed"}
    assert sum(event.records for event in mine if event.outcome == "accepted") == sum(map(len, sent.values()))
