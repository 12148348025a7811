"""Log destinations that stream osquery logs to other systems (fleet_core.ports.LogDestination):
Firehose, Kinesis, Lambda and S3 through aiobotocore, Pub/Sub's REST API, the Kafka REST proxy and
a webhook, over httpx.

Every one keeps the same promise as the file: ``write`` returns only once the destination accepted
the whole batch, and raises Unavailable otherwise, so the agent keeps the batch and sends it again
(nothing is queued in the server). A batch is split to the destination's limits; a single record
larger than the destination takes is dropped, logged (size, never content) and reported, as Fleet
does, instead of failing its batch for ever. Each batch has a deadline (``timeout``) covering all
its requests and retries. A failed batch may have been partly delivered, so a resend can repeat
records: delivery is at least once.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import datetime as dt
import gzip
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Final, Literal

import httpx
import structlog
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fleet_adapters.logs import (
    LOG_TYPES,
    DeliveryEvent,
    clean_records,
    log_destination,
    report_delivery,
)
from fleet_adapters.s3 import AwsAccess, aws_client
from fleet_adapters.settings import Settings, log_files, url_without_credentials
from fleet_core.errors import Unavailable
from fleet_core.ports import LogDestination

log = structlog.get_logger(__name__)

# Documented service limits. Firehose: PutRecordBatch takes up to 500 records and 4 MiB, each
# record up to 1,000 KiB. Kinesis: PutRecords takes 500 records and 5 MiB, each record (data and
# partition key) up to 1 MiB. Lambda: 6 MB per synchronous invocation. Pub/Sub: 1,000 messages
# and 10 MB per publish request (data travels base64-encoded, 4/3 of its size).
FIREHOSE_MAX_RECORD: Final = 1000 * 1024
FIREHOSE_MAX_RECORDS: Final = 500
FIREHOSE_MAX_BATCH: Final = 4 * 1024 * 1024
KINESIS_MAX_RECORD: Final = 1024 * 1024
KINESIS_MAX_RECORDS: Final = 500
KINESIS_MAX_BATCH: Final = 5 * 1024 * 1024
LAMBDA_MAX_PAYLOAD: Final = 6 * 1000 * 1000
PUBSUB_MAX_MESSAGES: Final = 1000
PUBSUB_MAX_RAW_BATCH: Final = 7 * 1000 * 1000
# Kafka REST and webhooks have no fixed limits; requests are kept to this size and a 413 halves them.
HTTP_MAX_RECORDS: Final = 500
HTTP_MAX_BATCH: Final = 5 * 1024 * 1024

# A whole batch, every request and retry included, must be done within this (the agent's request waits).
DEFAULT_TIMEOUT_SECONDS: Final = 30.0
# Records a destination refused inside an accepted request (Firehose, Kinesis) are sent again this often.
PARTIAL_RETRIES: Final = 4
RETRY_BASE_SECONDS: Final = 0.1
# Lambda invocations of one batch in flight at once.
LAMBDA_CONCURRENCY: Final = 8
PUBSUB_SCOPE: Final = "https://www.googleapis.com/auth/pubsub"
PUBSUB_DEFAULT_ENDPOINT: Final = "https://pubsub.googleapis.com"
REMOTE_PLUGINS: Final = ("firehose", "kinesis", "lambda", "pubsub", "kafkarest", "webhook", "s3")


class DeliveryFailed(Exception):
    """The destination answered but did not take (all of) the batch."""


class RecordTooLarge(Exception):
    """One record is larger than the destination accepts, whatever the batching."""


FAILURES: Final = (BotoCoreError, ClientError, httpx.HTTPError, DeliveryFailed, TimeoutError, OSError)


def _backoff(attempt: int) -> float:
    return float(RETRY_BASE_SECONDS * 2 ** (attempt - 1))


def chunks(records: Sequence[bytes], *, max_records: int, max_bytes: int,
           overhead: int = 0) -> Iterator[list[bytes]]:
    """Consecutive groups of at most ``max_records`` records and ``max_bytes`` bytes (each record
    counting ``overhead`` more); every record must fit alone."""
    group: list[bytes] = []
    size = 0
    for record in records:
        cost = len(record) + overhead
        if group and (len(group) >= max_records or size + cost > max_bytes):
            yield group
            group, size = [], 0
        group.append(record)
        size += cost
    if group:
        yield group


class RemoteLogDestination(abc.ABC):
    """What every remote destination shares: cleaning, the deadline, failure logging and reporting."""

    plugin: str = "remote"

    def __init__(self, target: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.target = target
        self.timeout = timeout

    async def write(self, log_type: str, records: Sequence[bytes]) -> None:
        if log_type not in LOG_TYPES:
            raise ValueError(f"unknown log type {log_type!r}; expected 'result' or 'status'")
        lines = clean_records(records)
        if not lines:
            return
        started = time.monotonic()
        size = sum(len(line) for line in lines)
        try:
            async with asyncio.timeout(self.timeout):
                await self._deliver(log_type, lines)
        except FAILURES as exc:
            seconds = time.monotonic() - started
            # The error's type and message only: never the records.
            log.error("log_delivery_failed", destination=self.plugin, target=self.target, log_type=log_type,
                      records=len(lines), error=type(exc).__name__, reason=str(exc)[:300])
            report_delivery(DeliveryEvent(self.plugin, log_type, "failed", len(lines), size, seconds))
            raise Unavailable(f"the {log_type} log destination ({self.plugin}) did not accept the batch") from exc
        report_delivery(DeliveryEvent(self.plugin, log_type, "accepted", len(lines), size,
                                      time.monotonic() - started))

    def _fitting(self, log_type: str, records: Sequence[bytes], limit: int, overhead: int = 0) -> list[bytes]:
        """The records that fit the destination's record limit; each other one is dropped and reported."""
        kept = []
        for record in records:
            if len(record) + overhead > limit:
                self._drop(log_type, record, limit)
            else:
                kept.append(record)
        return kept

    def _drop(self, log_type: str, record: bytes, limit: int) -> None:
        log.warning("log_record_dropped", destination=self.plugin, target=self.target, log_type=log_type,
                    size=len(record), limit=limit)
        report_delivery(DeliveryEvent(self.plugin, log_type, "dropped", 1, len(record)))

    @abc.abstractmethod
    async def _deliver(self, log_type: str, lines: list[bytes]) -> None:
        """Deliver the batch's lines (each within the record limit), or raise DeliveryFailed."""


# ---- AWS ---------------------------------------------------------------------------------------


def aws_log_config(timeout: float) -> AioConfig:
    # botocore retries throttling and 5xx itself (standard mode); the batch deadline bounds the total.
    return AioConfig(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                     read_timeout=max(1.0, min(timeout, 60.0)), max_pool_connections=32)


class FirehoseLogDestination(RemoteLogDestination):
    """Amazon Data Firehose: each record is one line (newline-terminated, as Fleet sends them)."""

    plugin = "firehose"

    def __init__(self, client: Any, stream: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        super().__init__(stream, timeout=timeout)
        self.client = client

    async def _deliver(self, log_type: str, lines: list[bytes]) -> None:
        records = self._fitting(log_type, [line + b"\n" for line in lines], FIREHOSE_MAX_RECORD)
        for group in chunks(records, max_records=FIREHOSE_MAX_RECORDS, max_bytes=FIREHOSE_MAX_BATCH):
            await _put_with_partial_retries(
                group, lambda pending: self.client.put_record_batch(
                    DeliveryStreamName=self.target, Records=[{"Data": data} for data in pending]),
                failed_count="FailedPutCount", responses="RequestResponses")


class KinesisLogDestination(RemoteLogDestination):
    """Amazon Kinesis Data Streams: one newline-terminated record per line, random partition keys
    (as Fleet) so the load spreads over every shard."""

    plugin = "kinesis"
    PARTITION_KEY_BYTES: Final = 32

    def __init__(self, client: Any, stream: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        super().__init__(stream, timeout=timeout)
        self.client = client

    async def _deliver(self, log_type: str, lines: list[bytes]) -> None:
        overhead = self.PARTITION_KEY_BYTES
        records = self._fitting(log_type, [line + b"\n" for line in lines], KINESIS_MAX_RECORD, overhead)
        for group in chunks(records, max_records=KINESIS_MAX_RECORDS, max_bytes=KINESIS_MAX_BATCH,
                            overhead=overhead):
            await _put_with_partial_retries(
                group, lambda pending: self.client.put_records(StreamName=self.target, Records=[
                    {"Data": data, "PartitionKey": secrets.token_hex(overhead // 2)} for data in pending]),
                failed_count="FailedRecordCount", responses="Records")


async def _put_with_partial_retries(records: list[bytes], put: Callable[[list[bytes]], Any], *,
                                    failed_count: str, responses: str) -> None:
    """Send a batch; the records the service refused within an accepted call (throttled shards,
    internal errors) are sent again, alone, a few times before the batch counts as failed."""
    pending = records
    for attempt in range(PARTIAL_RETRIES + 1):
        if attempt:
            await asyncio.sleep(_backoff(attempt))
        answer = await put(pending)
        if not answer.get(failed_count):
            return
        results = answer[responses]
        codes = {result.get("ErrorCode") for result in results if result.get("ErrorCode")}
        pending = [record for record, result in zip(pending, results, strict=True) if result.get("ErrorCode")]
    raise DeliveryFailed(f"{len(pending)} records refused after {PARTIAL_RETRIES + 1} attempts: {sorted(codes)}")


class LambdaLogDestination(RemoteLogDestination):
    """AWS Lambda: one synchronous invocation per record, its payload the record's JSON (as Fleet
    does, so functions written for Fleet work unchanged); a function error fails the batch."""

    plugin = "lambda"

    def __init__(self, client: Any, function: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        super().__init__(function, timeout=timeout)
        self.client = client

    async def _deliver(self, log_type: str, lines: list[bytes]) -> None:
        records = self._fitting(log_type, lines, LAMBDA_MAX_PAYLOAD)
        slots = asyncio.Semaphore(LAMBDA_CONCURRENCY)

        async def invoke(record: bytes) -> None:
            async with slots:
                answer = await self.client.invoke(FunctionName=self.target, InvocationType="RequestResponse",
                                                  Payload=record)
                await answer["Payload"].read()
            if answer.get("FunctionError"):
                raise DeliveryFailed(f"the function failed: {answer['FunctionError']}")

        try:
            async with asyncio.TaskGroup() as group:
                for record in records:
                    group.create_task(invoke(record))
        except ExceptionGroup as failures:
            # The first failure cancelled the other invocations; it is the batch's failure.
            raise failures.exceptions[0] from None


class S3LogDestination(RemoteLogDestination):
    """An S3 bucket (or any S3-compatible store): one gzip JSON lines object per batch, under
    ``<prefix><log_type>/year=YYYY/month=MM/day=DD/hour=HH/`` (UTC), so query engines can prune by time."""

    plugin = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "", *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        super().__init__(bucket, timeout=timeout)
        self.client = client
        self.prefix = prefix
        self.now = now

    def key(self, log_type: str, at: dt.datetime) -> str:
        return (f"{self.prefix}{log_type}/year={at:%Y}/month={at:%m}/day={at:%d}/hour={at:%H}/"
                f"{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}.jsonl.gz")

    async def _deliver(self, log_type: str, lines: list[bytes]) -> None:
        body = await asyncio.to_thread(gzip.compress, b"\n".join(lines) + b"\n", 6)
        await self.client.put_object(Bucket=self.target, Key=self.key(log_type, self.now()), Body=body,
                                     ContentType="application/x-ndjson", ContentEncoding="gzip")


# ---- HTTP --------------------------------------------------------------------------------------


class _HttpRefused(DeliveryFailed):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, _HttpRefused):
        return exc.status in (408, 425, 429) or exc.status >= 500
    return isinstance(exc, httpx.TransportError)


def _json(response: httpx.Response) -> dict[str, Any]:
    """A JSON object answer; anything else is the destination failing, not a server error."""
    try:
        answer = response.json()
    except ValueError:
        raise DeliveryFailed(f"HTTP {response.status_code} with a body that is not JSON") from None
    if not isinstance(answer, dict):
        raise DeliveryFailed(f"HTTP {response.status_code} with a JSON body that is not an object")
    return answer


class HttpLogDestination(RemoteLogDestination, abc.ABC):
    """A destination reached by HTTP POSTs of record groups: transient failures (connection errors,
    timeouts, 408, 429, 5xx) are retried with backoff up to ``max_attempts`` per request within the
    batch deadline; a 413 halves the group, down to one record, which is then dropped."""

    def __init__(self, target: str, client: httpx.AsyncClient, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 max_attempts: int = 3) -> None:
        super().__init__(target, timeout=timeout)
        self.client = client
        self.max_attempts = max_attempts

    async def _deliver(self, log_type: str, lines: list[bytes]) -> None:
        for group in chunks(lines, max_records=self._max_records(), max_bytes=HTTP_MAX_BATCH):
            await self._send_halving(log_type, group)

    def _max_records(self) -> int:
        return HTTP_MAX_RECORDS

    async def _send_halving(self, log_type: str, group: list[bytes]) -> None:
        try:
            await self._send_retrying(group)
        except _HttpRefused as refused:
            if refused.status != 413:
                raise
            if len(group) == 1:
                self._drop(log_type, group[0], len(group[0]) - 1)
                return
            middle = len(group) // 2
            await self._send_halving(log_type, group[:middle])
            await self._send_halving(log_type, group[middle:])

    async def _send_retrying(self, group: list[bytes]) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self._send(group)
                return
            except (httpx.HTTPError, DeliveryFailed) as exc:
                if attempt == self.max_attempts or not _retryable(exc):
                    raise
                log.info("log_delivery_retry", destination=self.plugin, target=self.target, attempt=attempt,
                         error=type(exc).__name__)
                await asyncio.sleep(_backoff(attempt))

    async def _post(self, url: str, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
        response = await self.client.post(url, content=content, headers=dict(headers))
        if response.status_code >= 300:
            raise _HttpRefused(response.status_code, response.text)
        return response

    @abc.abstractmethod
    async def _send(self, group: list[bytes]) -> None:
        """POST one group of lines (within the request limits), or raise."""


class WebhookLogDestination(HttpLogDestination):
    """POSTs batches to a URL: JSON lines (``application/x-ndjson``) or a JSON array, with extra
    headers, an optional bearer token and optional gzip; any 2xx accepts the request's records."""

    plugin = "webhook"

    def __init__(self, url: str, client: httpx.AsyncClient, *, fmt: Literal["lines", "array"] = "lines",
                 headers: Mapping[str, str] | None = None, bearer_token: str | None = None,
                 compress: bool = False, timeout: float = DEFAULT_TIMEOUT_SECONDS, max_attempts: int = 3) -> None:
        # The target shows in logs; a token in the URL's userinfo or query must not.
        super().__init__(url_without_credentials(url), client, timeout=timeout, max_attempts=max_attempts)
        self.url = url
        self.fmt = fmt
        self.compress = compress
        self.headers = {**(headers or {}),
                        "Content-Type": "application/x-ndjson" if fmt == "lines" else "application/json"}
        if bearer_token:
            self.headers["Authorization"] = f"Bearer {bearer_token}"
        if compress:
            self.headers["Content-Encoding"] = "gzip"

    async def _send(self, group: list[bytes]) -> None:
        body = (b"\n".join(group) + b"\n") if self.fmt == "lines" else b"[" + b",".join(group) + b"]"
        if self.compress:
            body = gzip.compress(body, 6)
        await self._post(self.url, body, self.headers)


class KafkaRestLogDestination(HttpLogDestination):
    """The Confluent Kafka REST proxy (v2): ``POST <proxy>/topics/<topic>`` with each record as a
    JSON value; a record the proxy reports with an error code fails the batch."""

    plugin = "kafkarest"

    def __init__(self, proxy: str, topic: str, client: httpx.AsyncClient, *,
                 content_type: str = "application/vnd.kafka.json.v2+json",
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, max_attempts: int = 3) -> None:
        super().__init__(topic, client, timeout=timeout, max_attempts=max_attempts)
        self.url = f"{proxy.rstrip('/')}/topics/{topic}"
        self.headers = {"Content-Type": content_type, "Accept": "application/vnd.kafka.v2+json, application/json"}

    async def _send(self, group: list[bytes]) -> None:
        # The records are JSON already (the agent endpoint decoded them): embedded as they are.
        body = b'{"records":[' + b",".join(b'{"value":' + record + b"}" for record in group) + b"]}"
        response = await self._post(self.url, body, self.headers)
        offsets = _json(response).get("offsets") or []
        errors = [offset for offset in offsets if offset.get("error_code") or offset.get("error")]
        if errors or len(offsets) != len(group):
            raise DeliveryFailed(f"the proxy stored {len(offsets) - len(errors)} of {len(group)} records: "
                                 f"{errors[0].get('error') if errors else 'offsets missing'}")


class ServiceAccountToken:
    """OAuth 2 access tokens for a Google service account (the JWT bearer grant, RFC 7523), renewed
    five minutes before they expire."""

    def __init__(self, key: Mapping[str, Any], client: httpx.AsyncClient, *, scope: str = PUBSUB_SCOPE) -> None:
        self.email = str(key["client_email"])
        self.token_uri = str(key.get("token_uri") or "https://oauth2.googleapis.com/token")
        private = serialization.load_pem_private_key(str(key["private_key"]).encode(), password=None)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError("the service account key is not an RSA key")
        self._private = private
        self._key_id = str(key.get("private_key_id") or "")
        self.client = client
        self.scope = scope
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def assertion(self, now: int) -> str:
        def part(value: Mapping[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()

        header = {"alg": "RS256", "typ": "JWT", **({"kid": self._key_id} if self._key_id else {})}
        claims = {"iss": self.email, "scope": self.scope, "aud": self.token_uri, "iat": now, "exp": now + 3600}
        signing_input = f"{part(header)}.{part(claims)}"
        signature = self._private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.time() > self._expires - 300:
                now = int(time.time())
                response = await self.client.post(self.token_uri, data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self.assertion(now)})
                if response.status_code != 200:
                    raise DeliveryFailed(f"token endpoint answered HTTP {response.status_code}")
                answer = _json(response)
                if not answer.get("access_token"):
                    raise DeliveryFailed("the token endpoint returned no access token")
                self._token = str(answer["access_token"])
                self._expires = now + float(answer.get("expires_in", 3600))
            return self._token


class PubSubLogDestination(HttpLogDestination):
    """Google Cloud Pub/Sub through its REST publish API: one message per record; with
    ``add_attributes`` (Fleet's ``pubsub_add_attributes``) the record's ``name``, ``hostIdentifier``
    and string decorations become message attributes. No credentials: the emulator."""

    plugin = "pubsub"

    def __init__(self, project: str, topic: str, client: httpx.AsyncClient, *,
                 endpoint: str = PUBSUB_DEFAULT_ENDPOINT, credentials: ServiceAccountToken | None = None,
                 add_attributes: bool = False, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 max_attempts: int = 3) -> None:
        super().__init__(topic, client, timeout=timeout, max_attempts=max_attempts)
        self.url = f"{endpoint.rstrip('/')}/v1/projects/{project}/topics/{topic}:publish"
        self.credentials = credentials
        self.add_attributes = add_attributes

    def _max_records(self) -> int:
        return PUBSUB_MAX_MESSAGES

    async def _deliver(self, log_type: str, lines: list[bytes]) -> None:
        records = self._fitting(log_type, lines, PUBSUB_MAX_RAW_BATCH)
        for group in chunks(records, max_records=PUBSUB_MAX_MESSAGES, max_bytes=PUBSUB_MAX_RAW_BATCH):
            await self._send_halving(log_type, group)

    def _message(self, record: bytes) -> dict[str, Any]:
        message: dict[str, Any] = {"data": base64.b64encode(record).decode()}
        if self.add_attributes:
            attributes = _attributes(record)
            if attributes:
                message["attributes"] = attributes
        return message

    async def _send(self, group: list[bytes]) -> None:
        headers = {"Content-Type": "application/json"}
        if self.credentials is not None:
            headers["Authorization"] = f"Bearer {await self.credentials.token()}"
        body = json.dumps({"messages": [self._message(record) for record in group]}).encode()
        response = await self._post(self.url, body, headers)
        if len(_json(response).get("messageIds") or []) != len(group):
            raise DeliveryFailed("Pub/Sub did not return an id for every message")


def _attributes(record: bytes) -> dict[str, str]:
    try:
        fields = json.loads(record)
    except ValueError:
        return {}
    if not isinstance(fields, dict):
        return {}
    attributes = {key: value for key, value in (fields.get("decorations") or {}).items() if isinstance(value, str)}
    for key in ("name", "hostIdentifier"):
        if isinstance(fields.get(key), str):
            attributes[key] = fields[key]
    return attributes


# ---- wiring ------------------------------------------------------------------------------------


def _aws_access(settings: Settings, family: str) -> AwsAccess:
    def get(name: str) -> Any:
        return getattr(settings, f"{family}_{name}")

    return AwsAccess(region=get("region"), endpoint_url=get("endpoint_url"), access_key_id=get("access_key_id"),
                     secret_access_key=get("secret_access_key"), sts_assume_role_arn=get("sts_assume_role_arn"),
                     sts_external_id=get("sts_external_id"))


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` pairs separated by ``;`` as a header mapping.

    Raises:
        ValueError: a pair without a colon or with an empty name.
    """
    headers = {}
    for value in filter(None, (part.strip() for part in text.split(";"))):
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"expected 'Name: value', got {value!r}")
        headers[name.strip()] = rest.strip()
    return headers


async def _plugin_destinations(plugin: str, targets: Mapping[str, str], settings: Settings,
                               stack: AsyncExitStack) -> dict[str, LogDestination]:
    """One destination per log type in ``targets`` (log type -> stream, function, topic or URL),
    sharing one client of the plugin."""
    if plugin in ("firehose", "kinesis", "lambda"):
        timeout = settings.log_destination_timeout.total_seconds()
        client = await stack.enter_async_context(
            aws_client(plugin, _aws_access(settings, plugin), aws_log_config(timeout)))
        kinds: dict[str, Callable[..., RemoteLogDestination]] = {
            "firehose": FirehoseLogDestination, "kinesis": KinesisLogDestination, "lambda": LambdaLogDestination}
        kind = kinds[plugin]
        return {log_type: kind(client, target, timeout=timeout) for log_type, target in targets.items()}
    if plugin == "s3":
        timeout = settings.log_destination_timeout.total_seconds()
        client = await stack.enter_async_context(aws_client("s3", _aws_access(settings, "s3_log"), AioConfig(
            s3={"addressing_style": "path" if settings.s3_log_force_path_style else "auto"},
            retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)))
        return {log_type: S3LogDestination(client, str(settings.s3_log_bucket), settings.s3_log_prefix,
                                           timeout=timeout) for log_type in targets}
    if plugin == "kafkarest":
        timeout = settings.kafkarest_timeout.total_seconds()
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
        return {log_type: KafkaRestLogDestination(str(settings.kafkarest_proxyhost), topic, http,
                                                  content_type=settings.kafkarest_content_type_value,
                                                  timeout=timeout)
                for log_type, topic in targets.items()}
    timeout = settings.log_destination_timeout.total_seconds()
    http = await stack.enter_async_context(httpx.AsyncClient(timeout=min(timeout, 30.0)))
    if plugin == "webhook":
        headers = parse_headers(settings.webhook_headers)
        return {log_type: WebhookLogDestination(url, http, fmt=settings.webhook_format, headers=headers,
                                                bearer_token=settings.webhook_bearer_token,
                                                compress=settings.webhook_gzip, timeout=timeout,
                                                max_attempts=settings.webhook_max_attempts)
                for log_type, url in targets.items()}
    if plugin == "pubsub":
        credentials = None
        if settings.pubsub_credentials_file:
            key = await asyncio.to_thread(Path(settings.pubsub_credentials_file).read_text, encoding="utf-8")
            credentials = ServiceAccountToken(json.loads(key), http)
        return {log_type: PubSubLogDestination(str(settings.pubsub_project), topic, http,
                                               endpoint=settings.pubsub_endpoint_url, credentials=credentials,
                                               add_attributes=settings.pubsub_add_attributes, timeout=timeout)
                for log_type, topic in targets.items()}
    raise ValueError(f"unknown log plugin {plugin!r}")


def plugin_target(settings: Settings, plugin: str, log_type: str) -> str:
    """What a remote plugin sends ``log_type`` logs to: its stream, function, topic, URL or bucket."""
    name = {"firehose": "firehose_{}_stream", "kinesis": "kinesis_{}_stream", "lambda": "lambda_{}_function",
            "pubsub": "pubsub_{}_topic", "kafkarest": "kafkarest_{}_topic", "webhook": "webhook_{}_url",
            "s3": "s3_log_bucket"}[plugin].format(log_type)
    return str(getattr(settings, name) or "")


@asynccontextmanager
async def open_log_destinations(settings: Settings) -> AsyncIterator[dict[str, LogDestination]]:
    """The result and status destinations the settings choose, open for the block's duration
    (clients shared per plugin; files opened once when both logs go to the filesystem)."""
    chosen = {"result": settings.osquery_result_log_plugin, "status": settings.osquery_status_log_plugin}
    destinations: dict[str, LogDestination] = {}
    local: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        for plugin in dict.fromkeys(chosen.values()):
            log_types = [log_type for log_type, name in chosen.items() if name == plugin]
            if plugin in REMOTE_PLUGINS:
                targets = {log_type: plugin_target(settings, plugin, log_type) for log_type in log_types}
                destinations.update(await _plugin_destinations(plugin, targets, settings, stack))
                continue
            result_file, status_file = log_files(settings)
            local[plugin] = log_destination(
                plugin, result_path=result_file, status_path=status_file,
                rotate=settings.filesystem_enable_log_rotation, compress=settings.filesystem_enable_log_compression,
                max_size_mb=settings.filesystem_max_size, max_backups=settings.filesystem_max_backups)
            destinations.update(dict.fromkeys(log_types, local[plugin]))
        try:
            yield destinations
        finally:
            for destination in local.values():
                close = getattr(destination, "aclose", None)
                if close is not None:
                    await close()
