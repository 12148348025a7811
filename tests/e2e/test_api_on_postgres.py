"""The management API on the real server: Postgres, Redis and a real SMTP server behind it.

The HTTP tests run on the in-memory adapters; this walks the same API where driver errors,
transactions and mail delivery are real, and checks that hostile input never becomes a 500.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from test_serve import ADMIN_EMAIL, log_in, set_up

from tests.e2e.fleet_process import free_port

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = pytest.mark.e2e


class Inbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"

    def token(self, label: str, deadline: float = 10.0) -> str:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            for message in reversed(self.messages):
                found = re.search(rf"{label}: (\S+)", message)
                if found:
                    return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no mail with {label!r} arrived")


@pytest.fixture
def inbox() -> Any:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


def test_the_api_over_postgres_redis_and_smtp(fleet: FleetCLI, data_dir: Path, inbox: Any) -> None:
    box, smtp_port = inbox
    server = fleet.serve(data_dir, tls=False)
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        auth = {"Authorization": f"Bearer {log_in(client)}"}

        configured = client.patch("/api/v1/fleet/config", headers=auth, json={"smtp_settings": {
            "enable_smtp": True, "server": "127.0.0.1", "port": smtp_port, "sender_address": "fleet@example.com",
            "authentication_type": "authtype_none", "enable_ssl_tls": False, "enable_start_tls": False}})
        assert configured.status_code == 200, configured.text
        assert configured.json()["smtp_settings"]["configured"] is True

        invite = client.post("/api/v1/fleet/invites", headers=auth, json={
            "email": "john@example.com", "name": "John", "sso_enabled": False, "global_role": "maintainer"})
        assert invite.status_code == 200, invite.text
        token = box.token("Invite token")
        assert client.get(f"/api/v1/fleet/invites/{token}").json()["invite"]["email"] == "john@example.com"
        created = client.post("/api/v1/fleet/users", json={
            "email": "john@example.com", "invite_token": token, "name": "John",
            "password": "maintain-it-42!", "password_confirmation": "maintain-it-42!"})
        assert created.status_code == 200, created.text
        assert created.json()["user"]["global_role"] == "maintainer"
        assert client.get(f"/api/v1/fleet/invites/{token}").status_code == 404

        duplicate = client.post("/api/v1/fleet/users/admin", headers=auth, json={
            "name": "Again", "email": "JOHN@example.com", "password": "another-one-42!", "global_role": "observer"})
        assert duplicate.status_code == 409, duplicate.text

        listed = client.get("/api/v1/fleet/users", headers=auth,
                            params={"order_key": "email", "order_direction": "desc", "query": "EXAMPLE"})
        assert [u["email"] for u in listed.json()["users"]] == ["john@example.com", ADMIN_EMAIL]

        secrets = client.post("/api/v1/fleet/spec/enroll_secret", headers=auth,
                              json={"spec": {"secrets": [{"secret": "alpha"}, {"secret": "beta"}]}})
        assert secrets.status_code == 200, secrets.text
        stored = client.get("/api/v1/fleet/spec/enroll_secret", headers=auth).json()["spec"]["secrets"]
        assert sorted(s["secret"] for s in stored) == ["alpha", "beta"]

        # Hostile input: every one of these is the client's mistake, so none may be a 500.
        for method, path, kwargs, status in [
            ("GET", "/api/v1/fleet/users/99999999999999999999", {}, 404),
            ("GET", "/api/v1/fleet/sessions/9223372036854775808", {}, 404),
            ("POST", "/api/v1/fleet/users/admin", {"json": {"name": "N\u0000UL", "email": "nul@example.com",
                                                           "password": "observe-all-7!", "global_role": "observer"}},
             400),
            ("PATCH", "/api/v1/fleet/config", {"json": {"org_info": {"org_name": "A\u0000"}}}, 400),
            ("POST", "/api/v1/fleet/users/admin", {"json": {"name": "Big", "email": "big@example.com",
                                                           "password": "observe-all-7!",
                                                           "teams": [{"id": 2**70, "role": "observer"}]}}, 400),
            ("GET", "/api/v1/fleet/users?page=9223372036854775807&per_page=1000", {}, 422),
            ("GET", "/api/v1/fleet/users?query=%00", {}, 400),
            ("POST", "/api/v1/fleet/spec/enroll_secret", {"json": {"spec": {"secrets": [{"secret": "x\u0000"}]}}},
             400),
        ]:
            response = client.request(method, path, headers=auth, **kwargs)
            assert response.status_code == status, (method, path, response.text)
            assert response.json()["errors"], response.text

        sessions = client.get("/api/v1/fleet/users/1/sessions", headers=auth).json()["sessions"]
        assert client.delete(f"/api/v1/fleet/sessions/{sessions[0]['session_id']}", headers=auth).status_code == 200
        activities = client.get("/api/v1/fleet/activities", headers=auth,
                                params={"order_key": "id", "order_direction": "desc"}).json()["activities"]
        assert {"created_user", "edited_enroll_secrets", "changed_user_global_role"} <= {a["type"] for a in activities}
    assert "Traceback" not in server.output()
    assert server.terminate() == 0


def test_failed_logins_are_limited_across_worker_processes(fleet: FleetCLI, data_dir: Path) -> None:
    server = fleet.serve(data_dir, tls=False, extra=["--workers", "2"])
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        statuses = []
        for _ in range(12):
            # A new connection each time, so both worker processes take turns answering.
            with httpx.Client(base_url=server.base_url) as fresh:
                statuses.append(fresh.post("/api/v1/fleet/login",
                                           json={"email": ADMIN_EMAIL, "password": "wrong-password-1!"}).status_code)
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429, 429]
    assert server.terminate() == 0
