"""Local servers the log destination tests send to, each speaking its real protocol over real HTTP:
a webhook receiver, the Kafka REST proxy (v2), Pub/Sub's REST publish API with Google's OAuth token
endpoint, and a recording reverse proxy in front of moto (which keeps no record of Lambda payloads).
Each can be taken down (its port refuses connections, open connections are closed) and brought
back on the same port, with what it received kept."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import gzip
import io
import json
import socket
import threading
import urllib.request
import uuid
import zipfile
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any, Self

import attrs
import httpx
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CALL_DEADLINE_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalServer:
    """An aiohttp app on a fixed local port, served by its own event loop in its own thread (the
    Litestar test client blocks the test's loop while the app handles a request, and the app's
    destinations call these servers meanwhile), that can go down and come back."""

    # A receiver inflates gzip bodies; a proxy must pass them on as they came.
    auto_decompress = True

    def __init__(self) -> None:
        self.port = free_port()
        self.app = web.Application(client_max_size=256 * 1024 * 1024)
        self._runner: web.AppRunner | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=CALL_DEADLINE_SECONDS)

    async def up(self) -> None:
        self._call(self._up())

    async def down(self) -> None:
        self._call(self._down())

    async def _up(self) -> None:
        self._runner = web.AppRunner(self.app, auto_decompress=self.auto_decompress)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _down(self) -> None:
        if self._runner is not None:
            # cleanup() also closes the keep-alive connections clients hold.
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_DEADLINE_SECONDS)


async def _body(request: web.Request) -> bytes:
    # aiohttp inflates a gzip (Content-Encoding) body itself, as a real receiver would.
    return await request.read()


class WebhookReceiver(LocalServer):
    """Takes POST /<anything>; ``fail_next`` answers that many requests with 503 first, and bodies
    larger than ``max_body`` get 413."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.fail_next = 0
        self.max_body: int | None = None
        self.app.router.add_post("/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503, text="busy")
        if self.max_body is not None and len(body) > self.max_body:
            return web.Response(status=413, text="too large")
        self.requests.append((request.path, dict(request.headers), body))
        return web.Response(status=202)

    def records(self, path: str) -> list[bytes]:
        out: list[bytes] = []
        for got_path, headers, body in self.requests:
            if got_path != path:
                continue
            if headers.get("Content-Type") == "application/json":
                out.extend(json.dumps(item, separators=(",", ":")).encode() for item in json.loads(body))
            else:
                assert body.endswith(b"\n")
                out.extend(body.split(b"\n")[:-1])
        return out


class KafkaRestProxy(LocalServer):
    """POST /topics/<topic> as the Confluent REST proxy v2 answers it (json.v2 embedded format);
    a record whose value has ``"poison": true`` gets an error code, as a broker refusal would."""

    CONTENT_TYPES = ("application/vnd.kafka.json.v2+json", "application/vnd.kafka.json.v1+json")

    def __init__(self) -> None:
        super().__init__()
        self.topics: dict[str, list[bytes]] = defaultdict(list)
        self.app.router.add_post("/topics/{topic}", self.produce)

    async def produce(self, request: web.Request) -> web.Response:
        if request.headers.get("Content-Type") not in self.CONTENT_TYPES:
            return web.json_response({"error_code": 415, "message": "HTTP 415 Unsupported Media Type"}, status=415)
        payload = json.loads(await _body(request))
        offsets = []
        for record in payload["records"]:
            value = record["value"]
            if isinstance(value, dict) and value.get("poison"):
                offsets.append({"partition": None, "offset": None, "error_code": 50002, "error": "broker refused"})
                continue
            log = self.topics[request.match_info["topic"]]
            log.append(json.dumps(value, separators=(",", ":")).encode())
            offsets.append({"partition": 0, "offset": len(log) - 1, "error_code": None, "error": None})
        return web.json_response({"key_schema_id": None, "value_schema_id": None, "offsets": offsets},
                                 content_type="application/vnd.kafka.v2+json")


class PubSubServer(LocalServer):
    """Pub/Sub's REST publish (POST /v1/projects/<p>/topics/<t>:publish) and, when ``key`` is set, an
    OAuth token endpoint (POST /token) that checks the service account's signed JWT assertion;
    publishing then needs the token it issued."""

    def __init__(self, key: rsa.RSAPrivateKey | None = None) -> None:
        super().__init__()
        self.key = key
        self.messages: dict[str, list[tuple[bytes, dict[str, str]]]] = defaultdict(list)
        self.tokens_issued = 0
        self.app.router.add_post("/v1/projects/{project}/topics/{topic_publish}", self.publish)
        self.app.router.add_post("/token", self.token)

    async def token(self, request: web.Request) -> web.Response:
        assert self.key is not None
        form = await request.post()
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        header, claims, signature = str(form["assertion"]).split(".")

        def unpad(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        self.key.public_key().verify(unpad(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(),
                                     hashes.SHA256())
        decoded = json.loads(unpad(claims))
        if decoded["aud"] != f"{self.url}/token" or "pubsub" not in decoded["scope"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.tokens_issued += 1
        return web.json_response({"access_token": f"token-{self.tokens_issued}", "expires_in": 3599,
                                  "token_type": "Bearer"})

    async def publish(self, request: web.Request) -> web.Response:
        topic, _, verb = request.match_info["topic_publish"].partition(":")
        if verb != "publish":
            return web.json_response({"error": {"code": 404}}, status=404)
        if self.key is not None and request.headers.get("Authorization") != f"Bearer token-{self.tokens_issued}":
            return web.json_response({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status=401)
        messages = json.loads(await _body(request))["messages"]
        stored = self.messages[f"projects/{request.match_info['project']}/topics/{topic}"]
        ids = []
        for message in messages:
            stored.append((base64.b64decode(message["data"]), message.get("attributes", {})))
            ids.append(str(len(stored)))
        return web.json_response({"messageIds": ids})


class RecordingAwsProxy(LocalServer):
    """Forwards every request to moto unchanged and keeps the bodies of Lambda invocations
    (moto's Lambda without Docker answers with the payload but stores none)."""

    auto_decompress = False

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream
        self.invocations: dict[str, list[bytes]] = defaultdict(list)
        # Every request's target header and body start, to count API calls by operation.
        self.requests: list[bytes] = []
        self.app.router.add_route("*", "/{path:.*}", self.forward)
        self.client: httpx.AsyncClient | None = None

    async def _up(self) -> None:
        self.client = httpx.AsyncClient(timeout=30)
        await super()._up()

    async def _down(self) -> None:
        await super()._down()
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self.client is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = await self.client.request(request.method, self.upstream + request.path_qs, content=body,
                                           headers=headers)
        self.requests.append(request.headers.get("X-Amz-Target", "").encode() + b" " + body[:64])
        parts = request.path.split("/")
        if request.method == "POST" and len(parts) == 5 and parts[2] == "functions" and parts[4] == "invocations":
            if answer.status_code < 300:
                self.invocations[parts[3]].append(body)
        skip = {"content-length", "transfer-encoding", "content-encoding", "connection"}
        return web.Response(status=answer.status_code, body=answer.content,
                            headers={k: v for k, v in answer.headers.items() if k.lower() not in skip})



def service_account(key: rsa.RSAPrivateKey, token_uri: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "client_email": "fleet@project.iam.gserviceaccount.com",
            "private_key_id": "k1", "private_key": pem, "token_uri": token_uri}


# ---- one running destination per plugin, with its settings and a way to read back what it got ----

REGION = "us-east-1"
AWS_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
PLUGINS = ("firehose", "kinesis", "lambda", "s3", "pubsub", "kafkarest", "webhook")


@attrs.define
class Backend:
    """A destination that is running: the settings that send to it, what it received by log type,
    and the server to take down to make it unreachable."""

    settings: dict[str, Any]
    gate: LocalServer
    read: Callable[[str], list[bytes]]


def _boto(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, **AWS_KEYS)


def _aws_settings(family: str, endpoint: str) -> dict[str, Any]:
    return {f"{family}_region": REGION, f"{family}_endpoint_url": endpoint,
            f"{family}_access_key_id": "testing", f"{family}_secret_access_key": "testing"}


def _lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n"), "every record ends in a newline"
    return data.split(b"\n")[:-1]


def _objects(moto: str, bucket: str, prefix: str) -> list[bytes]:
    s3 = _boto("s3", moto)
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])]
    return [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in sorted(keys)]


@contextlib.asynccontextmanager
async def running_backend(plugin: str, moto: str) -> AsyncIterator[Backend]:
    """``plugin``'s destination, running locally (moto behind a recording proxy for AWS)."""
    uid = uuid.uuid4().hex[:10]
    both = {"osquery_result_log_plugin": plugin, "osquery_status_log_plugin": plugin,
            "log_destination_timeout": dt.timedelta(seconds=15)}
    if plugin in ("firehose", "kinesis", "lambda", "s3"):
        async with RecordingAwsProxy(moto) as proxy:
            if plugin == "firehose":
                bucket = f"firehose-{uid}"
                _boto("s3", moto).create_bucket(Bucket=bucket)
                for log_type in ("result", "status"):
                    _boto("firehose", moto).create_delivery_stream(
                        DeliveryStreamName=f"{log_type}-{uid}", DeliveryStreamType="DirectPut",
                        ExtendedS3DestinationConfiguration={
                            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                            "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": f"{log_type}/"})
                yield Backend({**both, **_aws_settings("firehose", proxy.url),
                               "firehose_result_stream": f"result-{uid}", "firehose_status_stream": f"status-{uid}"},
                              proxy,
                              lambda t: [line for obj in _objects(moto, bucket, f"{t}/") for line in _lines(obj)])
            elif plugin == "kinesis":
                kinesis = _boto("kinesis", moto)
                for log_type in ("result", "status"):
                    kinesis.create_stream(StreamName=f"{log_type}-{uid}", ShardCount=2)

                def read_stream(log_type: str) -> list[bytes]:
                    out: list[bytes] = []
                    for shard in kinesis.list_shards(StreamName=f"{log_type}-{uid}")["Shards"]:
                        iterator = kinesis.get_shard_iterator(StreamName=f"{log_type}-{uid}", ShardId=shard["ShardId"],
                                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                        while iterator:
                            answer = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                            if not answer["Records"]:
                                break
                            for record in answer["Records"]:
                                out.extend(_lines(record["Data"]))
                            iterator = answer.get("NextShardIterator")
                    return out

                yield Backend({**both, **_aws_settings("kinesis", proxy.url), "kinesis_result_stream": f"result-{uid}",
                               "kinesis_status_stream": f"status-{uid}"}, proxy, read_stream)
            elif plugin == "lambda":
                # moto runs functions in Docker unless told otherwise; without it every invocation
                # succeeds and answers with its payload.
                with urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - local moto
                        f"{moto}/moto-api/config", data=json.dumps({"lambda": {"use_docker": False}}).encode(),
                        method="POST", headers={"Content-Type": "application/json"})):
                    pass
                archive = io.BytesIO()
                with zipfile.ZipFile(archive, "w") as zipped:
                    zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
                role = _boto("iam", moto).create_role(RoleName=f"lambda-{uid}", AssumeRolePolicyDocument=json.dumps({
                    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                            "Principal": {"Service": "lambda.amazonaws.com"}}]}))
                for log_type in ("result", "status"):
                    _boto("lambda", moto).create_function(
                        FunctionName=f"{log_type}-{uid}", Runtime="python3.12", Handler="handler.handler",
                        Role=role["Role"]["Arn"], Code={"ZipFile": archive.getvalue()})
                yield Backend({**both, **_aws_settings("lambda", proxy.url),
                               "lambda_result_function": f"result-{uid}", "lambda_status_function": f"status-{uid}"},
                              proxy, lambda t: list(proxy.invocations[f"{t}-{uid}"]))
            else:
                bucket = f"logs-{uid}"
                _boto("s3", moto).create_bucket(Bucket=bucket)
                yield Backend({**both, **_aws_settings("s3_log", proxy.url), "s3_log_bucket": bucket,
                               "s3_log_prefix": "osquery/", "s3_log_force_path_style": True}, proxy,
                              lambda t: [line for obj in _objects(moto, bucket, f"osquery/{t}/")
                                         for line in _lines(gzip.decompress(obj))])
    elif plugin == "pubsub":
        async with PubSubServer() as pubsub:
            yield Backend({**both, "pubsub_project": "fleet-test", "pubsub_result_topic": f"result-{uid}",
                           "pubsub_status_topic": f"status-{uid}", "pubsub_endpoint_url": pubsub.url}, pubsub,
                          lambda t: [data for data, _ in pubsub.messages[f"projects/fleet-test/topics/{t}-{uid}"]])
    elif plugin == "kafkarest":
        async with KafkaRestProxy() as kafka:
            yield Backend({**both, "kafkarest_proxyhost": kafka.url, "kafkarest_result_topic": f"result-{uid}",
                           "kafkarest_status_topic": f"status-{uid}", "kafkarest_timeout": dt.timedelta(seconds=15)},
                          kafka, lambda t: list(kafka.topics[f"{t}-{uid}"]))
    else:
        async with WebhookReceiver() as webhook:
            yield Backend({**both, "webhook_result_url": f"{webhook.url}/result?token=abc",
                           "webhook_status_url": f"{webhook.url}/status", "webhook_gzip": True,
                           "webhook_bearer_token": "s3cret-bearer", "webhook_headers": "X-Fleet: yes"}, webhook,
                          lambda t: webhook.records(f"/{t}"))
