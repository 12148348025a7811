"""Connection lanes the wire sends through: a lean HTTP/1.1 keep-alive client on asyncio streams (the
default, ~10x less CPU per request than httpx here) and an httpx lane (for MockTransport tests)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import time
from typing import Protocol
from urllib.parse import urlsplit

import httpx


class TransportError(Exception):
    """No usable HTTP response: connect, TLS, timeout, reset or malformed response."""


class Lane(Protocol):
    async def post(self, path: str, body: bytes, *, gzipped: bool) -> tuple[int, bytes, float]:
        """POST `body` (JSON, gzipped if said so) to `path`.

        Returns (status, decoded body, seconds from holding a connection slot to the full response);
        raises TransportError when there is no usable response.
        """
        ...

    async def aclose(self) -> None: ...


class HttpxLane:
    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")

    async def post(self, path: str, body: bytes, *, gzipped: bool) -> tuple[int, bytes, float]:
        headers = {"Content-Type": "application/json"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        started = time.perf_counter()
        try:
            response = await self._client.post(self._base + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from exc
        return response.status_code, response.content, time.perf_counter() - started

    async def aclose(self) -> None:
        await self._client.aclose()


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter, float]
_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024


class RawHttpLane:
    """A small pool of HTTP/1.1 keep-alive connections to one server (TLS optional).

    Like osqueryd's client: POST only, 16 s timeout, connections reused. A request on a reused
    connection that the server closed while idle is retried once on a fresh one (as httpcore does).
    With ``keep_alive=False`` every request opens a connection of its own and asks the server to
    close it, as osqueryd does with ``--tls_session_reuse=false`` (a full TLS handshake each time).
    """

    def __init__(
        self,
        base_url: str,
        *,
        ssl_context: ssl.SSLContext | None,
        max_connections: int,
        timeout_s: float,
        user_agent: str,
        idle_expiry_s: float = 4.0,
        keep_alive: bool = True,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        default_port = self._port == (443 if parts.scheme == "https" else 80)
        host_header = parts.hostname if default_port else f"{parts.hostname}:{self._port}"
        self._prefix = parts.path.rstrip("/")
        self._head = (
            f"Host: {host_header}\r\nUser-Agent: {user_agent}\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\n"
            + ("" if keep_alive else "Connection: close\r\n")
        ).encode()
        self._keep_alive = keep_alive
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Conn] = []
        self._timeout = timeout_s
        self._idle_expiry = idle_expiry_s

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(
            self._host, self._port, ssl=self._ssl, limit=_MAX_HEAD, server_hostname=self._host if self._ssl else None
        )

    def _take_idle(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        now = time.monotonic()
        while self._idle:
            reader, writer, last = self._idle.pop()
            if now - last < self._idle_expiry and not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        return None

    async def post(self, path: str, body: bytes, *, gzipped: bool) -> tuple[int, bytes, float]:
        request = b"".join(
            (
                f"POST {self._prefix}{path} HTTP/1.1\r\n".encode(),
                self._head,
                b"Content-Encoding: gzip\r\n" if gzipped else b"",
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        async with self._slots:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self._timeout):
                    reused = self._take_idle()
                    if reused is not None:
                        try:
                            status, content = await self._exchange(*reused, request)
                            return status, content, time.perf_counter() - started
                        except _StaleConnection:
                            pass
                    status, content = await self._exchange(*await self._connect(), request)
                    return status, content, time.perf_counter() - started
            except _StaleConnection as exc:
                raise TransportError("server closed the connection") from exc
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int, bytes]:
        keep = False
        try:
            writer.write(request)
            await writer.drain()
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise _StaleConnection from exc
                raise
            lines = head[:-4].decode("latin-1").split("\r\n")
            version, _, rest = lines[0].partition(" ")
            status = int(rest[:3])
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                content = await self._read_chunked(reader)
            elif "content-length" in headers:
                length = int(headers["content-length"])
                if length > _MAX_BODY:
                    raise ValueError("response body too large")
                content = await reader.readexactly(length)
            else:
                content = await reader.read(_MAX_BODY)
                headers["connection"] = "close"
            if headers.get("content-encoding", "").lower() == "gzip":
                content = gzip.decompress(content)
            keep = (self._keep_alive and version == "HTTP/1.1"
                    and headers.get("connection", "").lower() != "close")
            return status, content
        finally:
            if keep:
                self._idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise ValueError("response body too large")
            parts.append((await reader.readexactly(size + 2))[:-2])

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer, _ in idle:
            writer.close()


class _StaleConnection(Exception):
    """The server had closed a kept-alive connection before we sent on it."""
