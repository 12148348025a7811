"""The built-in HTTP/1.1 client against a hand-written server: chunked bodies, keep-alive, stale connections."""

from __future__ import annotations

import asyncio

import pytest

from fleet_osquery.sim.lanes import RawHttpLane, TransportError

pytestmark = pytest.mark.anyio


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


async def test_chunked_responses_are_read_and_a_connection_closed_while_idle_is_replaced() -> None:
    connections: list[int] = []
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        requests.append(await _read_request(reader))
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'7\r\n{"node_\r\n9\r\nkey":"k"}\r\n0\r\n\r\n'
        )
        await writer.drain()
        # Keep-alive was promised, but the server drops the connection once idle (as servers do).
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lane = RawHttpLane(
        f"http://127.0.0.1:{port}", ssl_context=None, max_connections=1, timeout_s=5, user_agent="osquery/5.12.1"
    )
    try:
        for _ in range(2):
            status, content, elapsed = await lane.post("/api/osquery/enroll", b'{"a":"b"}', gzipped=False)
            assert (status, content) == (200, b'{"node_key":"k"}') and elapsed > 0
        assert len(connections) == 2
        assert requests[0].startswith(b"POST /api/osquery/enroll HTTP/1.1\r\n")
        assert b"\r\nUser-Agent: osquery/5.12.1\r\n" in requests[0] and requests[0].endswith(b'{"a":"b"}')
    finally:
        await lane.aclose()
        server.close()
        await server.wait_closed()


async def test_refused_connections_are_transport_errors() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    lane = RawHttpLane(
        f"http://127.0.0.1:{port}", ssl_context=None, max_connections=1, timeout_s=5, user_agent="osquery/5.12.1"
    )
    with pytest.raises(TransportError):
        await lane.post("/api/osquery/config", b"{}", gzipped=False)
