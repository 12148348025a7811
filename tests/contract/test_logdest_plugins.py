"""The remote log destinations one by one, against moto's server and local protocol servers:
splitting to the services' limits, records too large for a destination dropped (as Fleet does),
retries of transient failures, 413 halving, refusals, Pub/Sub attributes and service-account
tokens, webhook formats and headers. The end-to-end path through simulated agents, every plugin
and an outage, is tests/osquery/test_logdest_agents.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fleet_adapters import log_plugins
from fleet_adapters.log_plugins import (
    FIREHOSE_MAX_RECORD,
    KafkaRestLogDestination,
    PubSubLogDestination,
    ServiceAccountToken,
    WebhookLogDestination,
    open_log_destinations,
)
from fleet_adapters.logs import DeliveryEvent, on_delivery
from fleet_adapters.settings import load_settings
from fleet_core.errors import Unavailable
from tests.logdest_servers import (
    KafkaRestProxy,
    PubSubServer,
    WebhookReceiver,
    _objects,
    running_backend,
    service_account,
)

pytestmark = pytest.mark.anyio


def rec(n: int, pad: int = 0) -> bytes:
    return json.dumps({"name": "q", "hostIdentifier": f"h{n % 4}", "n": n, "pad": "x" * pad},
                      separators=(",", ":")).encode()


@pytest.fixture
def events() -> Iterator[list[DeliveryEvent]]:
    got: list[DeliveryEvent] = []
    stop = on_delivery(got.append)
    yield got
    stop()


async def test_firehose_splits_batches_to_its_limits_and_drops_a_record_over_1000_kib(
        s3_endpoint: str, events: list[DeliveryEvent]) -> None:
    records = [rec(n) for n in range(1200)] + [rec(5000, pad=FIREHOSE_MAX_RECORD)] + [rec(n, 300_000)
                                                                                      for n in range(20)]
    async with running_backend("firehose", s3_endpoint) as backend:
        async with open_log_destinations(load_settings(backend.settings, environ={})) as logs:
            await logs["result"].write("result", records)
        got = backend.read("result")
        bucket = f"firehose-{backend.settings['firehose_result_stream'].removeprefix('result-')}"
        calls = len(_objects(s3_endpoint, bucket, "result/"))
    expected = [r for r in records if len(r) < FIREHOSE_MAX_RECORD]
    assert sorted(got) == sorted(expected)
    # moto writes one object per PutRecordBatch: 500 + 500 small records, then the last 200 with 13
    # of the ~300 KB ones (14 would pass 4 MiB), then the other 7.
    assert calls == 4
    assert [(e.outcome, e.records) for e in events if e.outcome == "dropped"] == [("dropped", 1)]


async def test_kinesis_and_lambda_drop_records_over_their_limits(s3_endpoint: str,
                                                                   events: list[DeliveryEvent]) -> None:
    for plugin, too_big in (("kinesis", 1024 * 1024), ("lambda", 6 * 1000 * 1000)):
        records = [rec(1), rec(2, pad=too_big), rec(3)]
        async with running_backend(plugin, s3_endpoint) as backend:
            async with open_log_destinations(load_settings(backend.settings, environ={})) as logs:
                await logs["status"].write("status", records)
            assert sorted(backend.read("status")) == [rec(1), rec(3)]
    assert [e.destination for e in events if e.outcome == "dropped"] == ["kinesis", "lambda"]


async def test_kinesis_splits_600_records_into_two_calls(s3_endpoint: str) -> None:
    records = [rec(n, pad=10) for n in range(600)]
    async with running_backend("kinesis", s3_endpoint) as backend:
        async with open_log_destinations(load_settings(backend.settings, environ={})) as logs:
            await logs["result"].write("result", records)
        assert sorted(backend.read("result")) == sorted(records)
        puts = [request for request in backend.gate.requests if b"PutRecords" in request]  # type: ignore[attr-defined]
    assert len(puts) == 2


class PartlyFailing:
    """A Firehose answer with some records refused, then all accepted (what throttling looks like)."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.calls: list[int] = []

    async def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        self.calls.append(len(Records))
        refused, self.refuse = min(self.refuse, len(Records)), 0
        return {"FailedPutCount": refused, "RequestResponses": [
            {"ErrorCode": "ServiceUnavailableException"} if i < refused else {"RecordId": str(i)}
            for i in range(len(Records))]}


async def test_firehose_sends_again_only_the_records_it_refused() -> None:
    client = PartlyFailing(refuse=3)
    await log_plugins.FirehoseLogDestination(client, "s").write("result", [rec(n) for n in range(10)])
    assert client.calls == [10, 3]


async def test_webhook_array_with_headers_token_and_gzip_retries_503_and_halves_on_413(
        events: list[DeliveryEvent]) -> None:
    async with WebhookReceiver() as receiver, httpx.AsyncClient(timeout=5) as http:
        destination = WebhookLogDestination(f"{receiver.url}/in", http, fmt="array", headers={"X-Team": "ops"},
                                            bearer_token="tok", compress=True, max_attempts=3)
        receiver.fail_next = 2
        receiver.max_body = 20_000
        records = [rec(n, pad=1000) for n in range(40)] + [rec(99, pad=30_000)]
        await destination.write("result", records)
        assert sorted(receiver.records("/in")) == sorted(records[:-1])
        headers = receiver.requests[0][1]
        assert (headers["Authorization"], headers["X-Team"], headers["Content-Encoding"]) == ("Bearer tok", "ops",
                                                                                               "gzip")
        assert all(len(body) <= 20_000 for _, _, body in receiver.requests)
        receiver.fail_next = 5
        with pytest.raises(Unavailable):
            await destination.write("result", [rec(1)])
    assert [e.outcome for e in events] == ["dropped", "accepted", "failed"]


async def test_kafka_rest_fails_the_batch_when_the_proxy_refuses_a_record() -> None:
    async with KafkaRestProxy() as proxy, httpx.AsyncClient(timeout=5) as http:
        destination = KafkaRestLogDestination(proxy.url, "logs", http)
        await destination.write("status", [rec(1), rec(2)])
        with pytest.raises(Unavailable):
            await destination.write("status", [rec(3), b'{"poison":true}'])
        assert proxy.topics["logs"][:2] == [rec(1), rec(2)]


async def test_pubsub_signs_in_as_the_service_account_and_adds_attributes() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with PubSubServer(key) as pubsub, httpx.AsyncClient(timeout=5) as http:
        token = ServiceAccountToken(service_account(key, f"{pubsub.url}/token"), http)
        destination = PubSubLogDestination("proj", "results", http, endpoint=pubsub.url, credentials=token,
                                           add_attributes=True)
        line = b'{"name":"pack/p/q","hostIdentifier":"h1","decorations":{"hostname":"web-1","n":3},"columns":{}}'
        await destination.write("result", [line])
        await destination.write("result", [rec(7)])
        [(data, attributes), _] = pubsub.messages["projects/proj/topics/results"]
    assert data == line
    assert attributes == {"hostname": "web-1", "name": "pack/p/q", "hostIdentifier": "h1"}
    assert pubsub.tokens_issued == 1  # the token is kept until it nears expiry


async def test_a_batch_is_bounded_by_the_destination_timeout(events: list[DeliveryEvent]) -> None:
    async with WebhookReceiver() as receiver, httpx.AsyncClient(timeout=5) as http:
        receiver.fail_next = 1000
        destination = WebhookLogDestination(receiver.url, http, max_attempts=10, timeout=0.5)
        with pytest.raises(Unavailable):
            await destination.write("result", [rec(1)])
    assert [e.outcome for e in events] == ["failed"]


def test_settings_name_what_each_plugin_needs() -> None:
    from fleet_adapters.settings import SettingsError

    with pytest.raises(SettingsError, match="--firehose-result-stream"):
        load_settings({"osquery_result_log_plugin": "firehose", "firehose_region": "us-east-1"}, environ={})
    with pytest.raises(SettingsError, match="--kafkarest-proxyhost"):
        load_settings({}, environ={"FLEET_OSQUERY_STATUS_LOG_PLUGIN": "kafkarest",
                                   "FLEET_KAFKAREST_STATUS_TOPIC": "t"})
    with pytest.raises(SettingsError, match="--webhook-headers"):
        load_settings({"webhook_headers": "no colon"}, environ={})
    settings = load_settings({}, environ={"FLEET_OSQUERY_RESULT_LOG_PLUGIN": "webhook",
                                          "FLEET_WEBHOOK_RESULT_URL": "https://siem.example.com/in",
                                          "FLEET_KAFKAREST_TIMEOUT": "7s"})
    assert settings.kafkarest_timeout == dt.timedelta(seconds=7)


async def test_a_failed_webhook_is_logged_without_the_token_in_its_url() -> None:
    from structlog.testing import capture_logs

    async with WebhookReceiver() as receiver, httpx.AsyncClient(timeout=5) as http:
        destination = WebhookLogDestination(f"http://user:pw-secret@127.0.0.1:{receiver.port}/in?token=q-secret",
                                            http, max_attempts=1)
        receiver.fail_next = 1
        with capture_logs() as logs, pytest.raises(Unavailable):
            await destination.write("result", [rec(1)])
    [failure] = [entry for entry in logs if entry["event"] == "log_delivery_failed"]
    assert failure["target"] == f"http://127.0.0.1:{receiver.port}/in"
    assert "secret" not in repr(logs)


async def test_a_proxy_answer_that_is_not_json_fails_the_batch() -> None:
    async with WebhookReceiver() as receiver, httpx.AsyncClient(timeout=5) as http:
        # The webhook receiver answers 202 with no body: not what a Kafka REST proxy says.
        destination = KafkaRestLogDestination(receiver.url, "t", http)
        with pytest.raises(Unavailable):
            await destination.write("result", [rec(1)])
