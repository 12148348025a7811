"""A small fake of the osquery TLS API (the real server is built elsewhere), reachable two ways:
as an `httpx.MockTransport` for step-by-step unit checks, and as a raw ASGI app served by uvicorn
on a loopback port for checks that need the real wire (gzip, keep-alive, the CLI)."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import socket
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import uvicorn

PREFIXES = ("/api/osquery", "/api/v1/osquery")
NODE_INVALID = (401, {"error": "authentication error: invalid node key", "node_invalid": True, "uuid": "u"})

DEFAULT_CONFIG: dict[str, Any] = {
    "options": {"pack_delimiter": "/", "logger_tls_period": 10, "distributed_interval": 10},
    "decorators": {
        "load": ["SELECT uuid AS host_uuid FROM system_info;", "SELECT hostname AS hostname FROM system_info;"]
    },
    "packs": {
        "Global": {
            "queries": {
                "USB devices": {
                    "query": "SELECT * FROM usb_devices;",
                    "interval": 3600,
                    "platform": "",
                    "version": "",
                    "snapshot": True,
                }
            }
        },
        "team-3": {
            "queries": {
                "Listening ports_3": {
                    "query": "SELECT * FROM listening_ports;",
                    "interval": 600,
                    "platform": "darwin,linux",
                    "version": "",
                    "removed": True,
                }
            }
        },
    },
}


@dataclass
class Received:
    prefix: str
    endpoint: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOsqueryServer:
    secret: str = "s3cret"
    config: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CONFIG))
    received: list[Received] = field(default_factory=list)
    node_keys: dict[str, str] = field(default_factory=dict)  # node_key -> host_identifier
    # The next distributed/read answer per host identifier (popped when read).
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Canned responses returned (in order) before normal handling, per endpoint.
    canned: dict[str, deque[tuple[int, Any]]] = field(default_factory=dict)
    _counter: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, endpoint: str) -> list[Received]:
        return [r for r in self.received if r.endpoint == endpoint]

    def queue_response(self, endpoint: str, status: int, body: Any) -> None:
        self.canned.setdefault(endpoint, deque()).append((status, body))

    def queue_queries(
        self,
        identifier: str,
        queries: dict[str, str],
        discovery: dict[str, str] | None = None,
        accelerate: int | None = None,
    ) -> None:
        answer: dict[str, Any] = {"queries": queries, "discovery": discovery or {}}
        if accelerate:
            answer["accelerate"] = accelerate
        self.pending[identifier] = answer

    def invalidate_all(self) -> None:
        self.node_keys.clear()

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        prefix = next((p for p in PREFIXES if path.startswith(p + "/")), None)
        if prefix is None:
            return 404, {"message": "not found"}
        endpoint = path[len(prefix) + 1 :]
        if headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = msgspec.json.decode(raw)
        with self._lock:
            self.received.append(Received(prefix, endpoint, headers, body))
            queue = self.canned.get(endpoint)
            if queue:
                return queue.popleft()
            if endpoint == "enroll":
                if body.get("enroll_secret") != self.secret:
                    return NODE_INVALID
                key = f"key-{next(self._counter)}"
                self.node_keys[key] = body["host_identifier"]
                return 200, {"node_key": key}
            identifier = self.node_keys.get(body.get("node_key", ""))
            if identifier is None:
                return NODE_INVALID
            if endpoint == "config":
                return 200, self.config
            if endpoint == "distributed/read":
                return 200, self.pending.pop(identifier, {"queries": {}, "discovery": {}})
            if endpoint in ("distributed/write", "log"):
                return 200, {}
        return 404, {"message": "not found"}

    # adapters ------------------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        def respond(request: httpx.Request) -> httpx.Response:
            status, body = self.handle(request.url.path, dict(request.headers), request.content)
            content = body if isinstance(body, bytes) else msgspec.json.encode(body)
            return httpx.Response(status, content=content, headers={"content-type": "application/json"})

        return httpx.MockTransport(respond)

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, body = self.handle(scope["path"], headers, b"".join(chunks))
        content = body if isinstance(body, bytes) else msgspec.json.encode(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})


@contextmanager
def serve(fake: FakeOsqueryServer, *, tls_pem: str | None = None) -> Iterator[str]:
    """Serve the fake with uvicorn in a thread of its own (own event loop); yield its base URL.

    `tls_pem` is a file holding the server's key and certificate chain; with it the server speaks HTTPS.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.asgi,
        interface="asgi3",
        lifespan="off",
        log_level="warning",
        access_log=False,
        ssl_certfile=tls_pem,
        ssl_keyfile=tls_pem,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = threading.Event()
    for _ in range(500):  # poll with a deadline (5 s) for the server to accept connections
        if server.started:
            break
        deadline.wait(0.01)
    else:
        raise RuntimeError("fake osquery server did not start")
    try:
        yield f"{'https' if tls_pem else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
