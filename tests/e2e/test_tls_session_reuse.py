"""`fleet serve` over HTTPS keeps agent connections alive and resumes TLS sessions.

osqueryd with --tls_session_reuse (its default) sends every request on one kept-alive connection;
a client that reconnects presents the session ticket it got and skips the full handshake. Both
save the server a handshake per request (`make bench` measures what each costs).
"""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

from tests.e2e.fleet_process import FleetCLI

REQUEST = (b"POST /api/osquery/config HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: 19\r\n\r\n{\"node_key\":\"nope\"}")


def exchange(conn: ssl.SSLSocket) -> bytes:
    """One request on ``conn`` and its whole answer (the head names the body's length)."""
    conn.sendall(REQUEST)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"the server closed the connection: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    assert b"connection: close" not in head.lower()
    return head + b"\r\n\r\n" + body


def connect(port: int, context: ssl.SSLContext, session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10.0)
    return context.wrap_socket(raw, server_hostname="localhost", session=session)


def test_connections_are_kept_alive_and_tls_sessions_resumed(fleet: FleetCLI, data_dir: Path) -> None:
    server = fleet.serve(data_dir)
    context = ssl.create_default_context(cafile=data_dir / "tls" / "server.crt")

    with connect(server.port, context) as first:
        assert not first.session_reused
        # Three agent requests on one connection: each answered, the connection left open.
        answers = [exchange(first) for _ in range(3)]
        assert all(a.startswith(b"HTTP/1.1 401") and b"node_invalid" in a for a in answers)
        # TLS 1.3 hands out session tickets after the handshake; they have arrived by now.
        session = first.session
        assert session is not None and session.has_ticket

    with connect(server.port, context, session) as again:
        assert again.session_reused, "the server did not resume the TLS session"
        assert exchange(again).startswith(b"HTTP/1.1 401")

    assert server.terminate() == 0


def test_an_idle_agent_connection_outlives_a_check_in_interval(fleet: FleetCLI, data_dir: Path) -> None:
    # osqueryd checks in every 10-60 s on the connection it keeps; uvicorn's default idle timeout
    # (5 s) closed it in between, and every request paid a new handshake. The wait below is the
    # idleness under test, not a synchronisation.
    server = fleet.serve(data_dir)
    context = ssl.create_default_context(cafile=data_dir / "tls" / "server.crt")
    with connect(server.port, context) as conn:
        assert exchange(conn).startswith(b"HTTP/1.1 401")
        time.sleep(7)
        assert exchange(conn).startswith(b"HTTP/1.1 401")
    assert server.terminate() == 0
