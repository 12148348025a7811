"""The bench's floor: osquery's five agent endpoints answered with constants, on the same stack.

Same ASGI server and options as `fleet serve` (uvicorn, uvloop, httptools, no access log, the same
TLS files when asked), the same Litestar and msgspec, the same routes under both prefixes. Each
handler reads the body, inflates it when gzipped, decodes it once into a struct of the shape the
real handler reads, and answers a constant: no services, no cache, no database, no metrics, no
per-request logging. What the real server costs above this is what the hot path adds.

Bench tooling, not product: tests/bench/run.py starts it before each real server.

    .venv/bin/python tests/bench/floor_app.py --port 8412 --workers 1 --schedule-interval 10
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from typing import Any

import msgspec
import uvicorn
from litestar import Litestar, Request, Response, Router, get, post

SCHEDULE_ENV = "FLEET_FLOOR_SCHEDULE_INTERVAL"
NODE_KEY = "floor-node-key-0123456789abcdef0123456789"


class NodeKeyRequest(msgspec.Struct):
    node_key: str = ""


class EnrollRequest(msgspec.Struct):
    enroll_secret: str = ""
    host_identifier: str = ""
    platform_type: str = ""
    host_details: dict[str, Any] = msgspec.field(default_factory=dict)


class DistributedWriteRequest(msgspec.Struct):
    node_key: str = ""
    queries: dict[str, Any] = msgspec.field(default_factory=dict)
    statuses: dict[str, Any] = msgspec.field(default_factory=dict)
    messages: dict[str, Any] = msgspec.field(default_factory=dict)
    stats: dict[str, Any] = msgspec.field(default_factory=dict)


class LogRequest(msgspec.Struct):
    node_key: str = ""
    log_type: str = ""
    data: list[msgspec.Raw] | None = None


def _config_body() -> bytes:
    """What the real server answers /config with in the bench: its default agent options plus the
    bench's scheduled query (so the simulated hosts send the same logs)."""
    from fleet_core.model.config import DEFAULT_AGENT_OPTIONS

    config: dict[str, Any] = dict(DEFAULT_AGENT_OPTIONS.get("config") or {})
    interval = int(float(os.environ.get(SCHEDULE_ENV, "10")))
    if interval > 0:
        config["schedule"] = {"bench_uptime": {"query": "SELECT * FROM uptime;", "interval": interval,
                                               "snapshot": True}}
    return msgspec.json.encode(config)


ENROLLED = msgspec.json.encode({"node_key": NODE_KEY})
CONFIG = _config_body()
NOTHING_TO_RUN = b'{"queries":{},"discovery":{}}'
EMPTY = b"{}"


async def _decode(request: Request[Any, Any, Any], type_: type[Any]) -> Any:
    raw = await request.body()
    if request.headers.get("content-encoding", "") == "gzip":
        raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
    return msgspec.json.decode(raw, type=type_)


def _json(body: bytes) -> Response[bytes]:
    return Response(body, status_code=200, media_type="application/json")


@post("/enroll", status_code=200)
async def enroll(request: Request[Any, Any, Any]) -> Response[bytes]:
    await _decode(request, EnrollRequest)
    return _json(ENROLLED)


@post("/config", status_code=200)
async def config(request: Request[Any, Any, Any]) -> Response[bytes]:
    await _decode(request, NodeKeyRequest)
    return _json(CONFIG)


@post("/distributed/read", status_code=200)
async def distributed_read(request: Request[Any, Any, Any]) -> Response[bytes]:
    await _decode(request, NodeKeyRequest)
    return _json(NOTHING_TO_RUN)


@post("/distributed/write", status_code=200)
async def distributed_write(request: Request[Any, Any, Any]) -> Response[bytes]:
    await _decode(request, DistributedWriteRequest)
    return _json(EMPTY)


@post("/log", status_code=200)
async def submit_log(request: Request[Any, Any, Any]) -> Response[bytes]:
    await _decode(request, LogRequest)
    return _json(EMPTY)


@get("/healthz", status_code=200, sync_to_thread=False)
def healthz() -> dict[str, bool]:
    """As the harness polls it on the real server."""
    return {"ok": True}


def create_app() -> Litestar:
    routes = [enroll, config, distributed_read, distributed_write, submit_log]
    return Litestar(
        route_handlers=[*(Router(path=prefix, route_handlers=routes) for prefix in ("/api/osquery", "/api/v1/osquery")),
                        healthz],
        openapi_config=None, logging_config=None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--schedule-interval", type=float, default=10.0)
    p.add_argument("--certfile")
    p.add_argument("--keyfile")
    p.add_argument("--asgi-server", choices=("uvicorn", "granian"), default="uvicorn",
                   help="granian: the same app under granian (HTTP/1, uvloop), to compare the two servers")
    args = p.parse_args(argv)
    os.environ[SCHEDULE_ENV] = str(args.schedule_interval)
    if args.asgi_server == "granian":
        from pathlib import Path

        from granian import Granian
        from granian.constants import HTTPModes, Interfaces, Loops

        Granian("floor_app:create_app", factory=True, address="127.0.0.1", port=args.port,
                interface=Interfaces.ASGI, workers=args.workers, loop=Loops.uvloop, http=HTTPModes.http1,
                log_enabled=False, websockets=False,
                ssl_cert=Path(args.certfile) if args.certfile else None,
                ssl_key=Path(args.keyfile) if args.keyfile else None,
                working_dir=Path(__file__).resolve().parent).serve()
        return 0
    from uvicorn.supervisors import Multiprocess

    # The options fleet_adapters/serve/cli.py gives uvicorn, so only the application differs.
    config = uvicorn.Config(
        "floor_app:create_app", factory=True, host="127.0.0.1", port=args.port, workers=args.workers,
        loop="uvloop", http="httptools", lifespan="on", ssl_certfile=args.certfile, ssl_keyfile=args.keyfile,
        log_config=None, access_log=False, server_header=False, timeout_graceful_shutdown=5)
    sock = config.bind_socket()
    if args.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
        return 0
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
