"""Agent bodies on the wire: JSON in (gzip inflated within a bound, size limits) and JSON out."""

from __future__ import annotations

import gzip
import zlib
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

T = TypeVar("T")

# osquery sends at most logger_tls_max_lines (1024) lines of up to 1 MiB each per log request,
# and distributed results of a similar order; small calls stay small.
SMALL_BODY = 1024 * 1024
LARGE_BODY = 1024 * 1024 * 1024 + 64 * 1024
ENCODER = msgspec.json.Encoder()
EMPTY = b"{}"


class BadAgentRequest(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def json_response(body: Any, status: int = 200) -> Response[bytes]:
    return Response(ENCODER.encode(body) if not isinstance(body, bytes) else body, status_code=status,
                    media_type="application/json")


async def decode(request: Request[Any, Any, Any], type_: type[T], limit: int) -> T:
    raw = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        raw = _gunzip(raw, limit)
    if len(raw) > limit:
        raise BadAgentRequest("request body too large")
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        raise BadAgentRequest(f"json decoder error: {exc}") from None
    except msgspec.DecodeError:
        raise BadAgentRequest("json decoder error") from None


def _gunzip(raw: bytes, limit: int) -> bytes:
    # Bounded, so a small gzip bomb cannot expand into gigabytes of memory.
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(raw, limit + 1)
    except (zlib.error, gzip.BadGzipFile):
        raise BadAgentRequest("gzip decoder error") from None
    if len(out) > limit or decompressor.unconsumed_tail:
        raise BadAgentRequest("request body too large")
    return out
