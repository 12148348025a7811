"""Agent bodies on the wire: JSON in (gzip inflated within a bound, size limits) and JSON out.

Nothing an agent sends may stall the event loop or grow the process without bound: a gzip
body is inflated step by step and refused as soon as it passes its cap, and large bodies are
inflated and JSON-decoded in a small dedicated thread pool, so other requests keep being served
and at most ``DECODE_WORKERS`` bodies are held expanded at any moment.
"""

from __future__ import annotations

import asyncio
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

T = TypeVar("T")

# osquery sends at most logger_tls_max_lines (1024) lines per log request and distributed
# results of a similar order; real batches are a few MiB, so 64 MiB leaves ample room while
# bounding what one request may make the server hold. Small calls stay small.
SMALL_BODY = 1024 * 1024
BATCH_BODY = 64 * 1024 * 1024
# Carve blocks are base64 of up to rules.carves.MAX_BLOCK_SIZE bytes, sent uncompressed.
LARGE_BODY = 1024 * 1024 * 1024 + 64 * 1024
# osquery compresses only log batches (--logger_tls_compress); whatever the route, no inflated
# body may exceed this, so a small gzip bomb can never expand into gigabytes.
MAX_INFLATED = BATCH_BODY
# zlib produces at most this much per call, so the cap is checked while inflating, not after.
INFLATE_STEP = 1024 * 1024
# Bodies up to this size (and small gzip bodies) are decoded on the event loop: a thread hop
# costs more than decoding them. Larger ones go to the worker pool.
ON_LOOP_BODY = 64 * 1024
ON_LOOP_GZIP = 4 * 1024
DECODE_WORKERS = 2
_decoders = ThreadPoolExecutor(max_workers=DECODE_WORKERS, thread_name_prefix="agent-body")
ENCODER = msgspec.json.Encoder()
EMPTY = b"{}"


class BadAgentRequest(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def json_response(body: Any, status: int = 200) -> Response[bytes]:
    """An error answer (exception handlers must return a Litestar Response)."""
    return Response(ENCODER.encode(body) if not isinstance(body, bytes) else body, status_code=status,
                    media_type="application/json")


_JSON_TYPE: Final = (b"content-type", b"application/json")


class AgentAnswer:
    """A handler's JSON answer, sent as is: a Litestar handler may return any ASGI app, and this one
    skips building a Response, its header multidict and its ASGIResponse on every check-in (the
    agents read only the body; the headers are the two that HTTP needs)."""

    __slots__ = ("body", "status")

    def __init__(self, body: Any, status: int = 200) -> None:
        self.body = body if isinstance(body, bytes) else ENCODER.encode(body)
        self.status = status

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [_JSON_TYPE, (b"content-length", b"%d" % len(self.body))]})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def header(request: Request[Any, Any, Any], name: bytes) -> bytes:
    """One request header's raw value (b"" when absent), read from the ASGI scope: building
    Litestar's Headers multidict costs more than the lookup. ``name`` is lower case, as ASGI
    servers pass names."""
    for key, value in request.scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


async def read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` bytes as Litestar's request_max_body_size
    refuses it: by the announced length first, then by the bytes received."""
    announced = header(request, b"content-length")
    if announced:
        try:
            if int(announced) > limit:
                raise RequestEntityTooLarge
        except ValueError:
            raise BadAgentRequest("invalid content-length") from None
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Any = await request.receive()
        if message["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise RequestEntityTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def decode(request: Request[Any, Any, Any], type_: type[T], limit: int) -> T:
    """The body as ``type_``; BadAgentRequest for anything that is not a well-formed body
    within ``limit`` bytes (after inflating)."""
    raw = await read_body(request, limit)
    gzipped = header(request, b"content-encoding").lower() == b"gzip"
    if len(raw) <= (ON_LOOP_GZIP if gzipped else ON_LOOP_BODY):
        return decode_bytes(raw, type_, limit, gzipped=gzipped)
    return await asyncio.get_running_loop().run_in_executor(
        _decoders, lambda: decode_bytes(raw, type_, limit, gzipped=gzipped))


def decode_bytes(raw: bytes, type_: type[T], limit: int, *, gzipped: bool = False) -> T:
    if gzipped:
        raw = gunzip(raw, min(limit, MAX_INFLATED))
    if len(raw) > limit:
        raise BadAgentRequest("request body too large")
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        raise BadAgentRequest(f"json decoder error: {exc}") from None
    except msgspec.DecodeError:
        raise BadAgentRequest("json decoder error") from None
    except UnicodeDecodeError:
        # msgspec validates UTF-8 of keys and strings and raises this instead of a DecodeError.
        raise BadAgentRequest("json decoder error: invalid UTF-8") from None
    except RecursionError:
        # Nesting deeper than the interpreter's recursion limit (no osquery output comes close).
        raise BadAgentRequest("json decoder error: nesting too deep") from None


def gunzip(raw: bytes, limit: int) -> bytes:
    """Inflate ``raw`` in steps of INFLATE_STEP, refusing as soon as the output passes ``limit``:
    memory never holds more than ``limit`` + one step of inflated bytes. Concatenated gzip
    members are one body, as gzip defines it, and count against the same limit."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    size = 0
    pending = raw
    try:
        while True:
            part = decompressor.decompress(pending, INFLATE_STEP)
            size += len(part)
            if size > limit:
                raise BadAgentRequest("request body too large")
            parts.append(part)
            pending = decompressor.unconsumed_tail
            if decompressor.eof:
                pending = decompressor.unused_data
                if not pending:
                    break
                decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            elif not pending and not part:
                raise BadAgentRequest("gzip decoder error: truncated stream")
    except zlib.error:
        raise BadAgentRequest("gzip decoder error") from None
    return b"".join(parts)
