"""The osqueryd side of the TLS API: POST a JSON body, classify the answer the way osqueryd does (§1.1)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from fleet_osquery.sim.lanes import HttpxLane, Lane, TransportError
from fleet_osquery.sim.stats import Endpoint, Outcome, Stats

PATHS: dict[Endpoint, str] = {
    Endpoint.ENROLL: "/enroll",
    Endpoint.CONFIG: "/config",
    Endpoint.DISTRIBUTED_READ: "/distributed/read",
    Endpoint.DISTRIBUTED_WRITE: "/distributed/write",
    Endpoint.LOG: "/log",
    Endpoint.CARVE_BEGIN: "/carve/begin",
    Endpoint.CARVE_BLOCK: "/carve/block",
}
API_PREFIXES = ("/api/osquery", "/api/v1/osquery")

_decoder = msgspec.json.Decoder()
_JSON_HEADERS = {"Content-Type": "application/json"}
_GZIP_HEADERS = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


@dataclass(slots=True)
class Reply:
    outcome: Outcome
    status: int | None
    body: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def classify(status: int, content: bytes) -> tuple[Outcome, dict[str, Any] | None]:
    """osqueryd's order: parse JSON whatever the status; node_invalid; then error; else success.

    We are stricter than osqueryd in one way: a non-2xx without an `error` key counts as an
    HTTP error, because the report must show it and a log batch is only acknowledged by a 2xx.
    """
    try:
        body = _decoder.decode(content)
    except msgspec.DecodeError:
        return Outcome.BAD_BODY, None
    if not isinstance(body, dict):
        return Outcome.BAD_BODY, None
    if body.get("node_invalid") is True:
        return Outcome.NODE_INVALID, body
    if "error" in body:
        return Outcome.ERROR_BODY, body
    if not 200 <= status < 300:
        return Outcome.HTTP_ERROR, body
    return Outcome.OK, body


class Wire:
    """Classifies and counts every request; the lanes (connection pools) do the HTTP.

    Several small pools, each behind its own semaphore, keep per-request CPU flat as hosts grow
    (httpcore, for one, scans every pooled connection on each request).
    """

    def __init__(
        self,
        lanes: httpx.AsyncClient | Lane | Sequence[Lane],
        server_url: str,
        api_prefix: str,
        stats: Stats,
    ) -> None:
        if api_prefix not in API_PREFIXES:
            raise ValueError(f"api prefix must be one of {', '.join(API_PREFIXES)}")
        self._paths = {e: api_prefix + p for e, p in PATHS.items()}
        if isinstance(lanes, httpx.AsyncClient):
            self._lanes: list[Lane] = [HttpxLane(lanes, server_url)]
        elif isinstance(lanes, Sequence):
            self._lanes = list(lanes)
        else:
            self._lanes = [lanes]
        self.stats = stats

    @property
    def lane_count(self) -> int:
        return len(self._lanes)

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.aclose()

    async def post(self, endpoint: Endpoint, body: bytes, *, gzipped: bool = False, lane: int = 0) -> Reply:
        """Send one request. Latency runs from when a connection slot is ours: it is the server's
        (plus the network), not time spent queued behind other simulated hosts in the same process."""
        called = time.perf_counter()
        try:
            status, content, elapsed_s = await self._lanes[lane % len(self._lanes)].post(
                self._paths[endpoint], body, gzipped=gzipped
            )
        except TransportError:
            self.stats.record(endpoint, Outcome.TRANSPORT, None, None)
            return Reply(Outcome.TRANSPORT, None, None)
        latency_ms = elapsed_s * 1000.0
        slot_wait_ms = max(0.0, (time.perf_counter() - called) * 1000.0 - latency_ms)
        outcome, parsed = classify(status, content)
        if outcome is Outcome.OK and endpoint is Endpoint.ENROLL:
            # osquery accepts `id` as the key's name too; an empty key is a failed enroll.
            key = (parsed.get("node_key") or parsed.get("id")) if parsed else None
            if not isinstance(key, str) or not key:
                outcome = Outcome.BAD_BODY
        self.stats.record(endpoint, outcome, status, latency_ms, slot_wait_ms)
        return Reply(outcome, status, parsed)


def ssl_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """True, False (--insecure) or a CA bundle path (--ca-file) as httpx's `verify`; load a CA file once."""
    return ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify


def make_client(
    *,
    verify: bool | str | ssl.SSLContext = True,
    max_connections: int = 200,
    timeout_s: float = 16.0,
    user_agent: str = "osquery/5.12.1",
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """One lane's client. `verify` is True, False (--insecure), a CA bundle path (--ca-file) or a context."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=60.0
    )
    # osqueryd's own timeout is 16 s; waiting for a pooled connection is the simulator's queueing,
    # so it gets more room instead of failing the request.
    timeout = httpx.Timeout(timeout_s, pool=timeout_s * 4)
    headers = {"Accept": "application/json", "User-Agent": user_agent}
    return httpx.AsyncClient(
        verify=ssl_verify(verify),
        limits=limits,
        timeout=timeout,
        headers=headers,
        transport=transport,
        follow_redirects=True,
    )
