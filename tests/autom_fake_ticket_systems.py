"""A local HTTP server that answers as Jira's REST API v2 and Zendesk's API v2 do (basic auth
checked, their JSON shapes and status codes), and records the tickets it accepts; plus a plain
webhook receiver path. Used by the vulnerability automation tests."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

JIRA_USER = "jira-bot@example.com"
JIRA_TOKEN = "jira-token-123"
JIRA_PROJECT = "VULN"
ZENDESK_EMAIL = "zendesk-bot@example.com"
ZENDESK_TOKEN = "zendesk-token-456"
ZENDESK_GROUP = 360001


@attrs.define
class TicketSystems:
    """What the fake services accepted. ``failures`` makes the next creations answer 503."""

    url: str = ""
    jira_issues: list[dict[str, Any]] = attrs.field(factory=list)
    zendesk_tickets: list[dict[str, Any]] = attrs.field(factory=list)
    webhooks: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    checks: list[str] = attrs.field(factory=list)
    failures: int = 0
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    def snapshot(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
        with self.lock:
            return list(self.jira_issues), list(self.zendesk_tickets), list(self.webhooks)


def _credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    return user, secret


def serve() -> Iterator[TicketSystems]:
    state = TicketSystems()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _jira_authorized(self) -> bool:
            if _credentials(self.headers.get("Authorization")) == (JIRA_USER, JIRA_TOKEN):
                return True
            self._answer(401, {"errorMessages": ["You are not authenticated."], "errors": {}})
            return False

        def _zendesk_authorized(self) -> bool:
            if _credentials(self.headers.get("Authorization")) == (f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN):
                return True
            self._answer(401, {"error": "Couldn't authenticate you"})
            return False

        def do_GET(self) -> None:
            with state.lock:
                state.checks.append(self.path)
            if self.path == "/rest/api/2/myself":
                if self._jira_authorized():
                    self._answer(200, {"accountId": "5b10a2844c20165700ede21g", "emailAddress": JIRA_USER,
                                       "displayName": "Jira Bot", "active": True})
            elif match := re.fullmatch(r"/rest/api/2/project/([^/]+)", self.path):
                if self._jira_authorized():
                    if match.group(1) == JIRA_PROJECT:
                        self._answer(200, {"id": "10000", "key": JIRA_PROJECT, "name": "Vulnerabilities"})
                    else:
                        self._answer(404, {"errorMessages": [f"No project could be found with key "
                                                             f"'{match.group(1)}'."], "errors": {}})
            elif self.path == "/api/v2/users/me.json":
                if self.headers.get("Authorization") is None:
                    # Zendesk answers an unauthenticated caller with the anonymous user.
                    self._answer(200, {"user": {"id": None, "name": "Anonymous user", "role": "end-user"}})
                elif self._zendesk_authorized():
                    self._answer(200, {"user": {"id": 35436, "email": ZENDESK_EMAIL, "role": "admin"}})
            elif match := re.fullmatch(r"/api/v2/groups/(\d+)\.json", self.path):
                if self._zendesk_authorized():
                    if int(match.group(1)) == ZENDESK_GROUP:
                        self._answer(200, {"group": {"id": ZENDESK_GROUP, "name": "Security"}})
                    else:
                        self._answer(404, {"error": "RecordNotFound", "description": "Not found"})
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                failing = state.failures > 0
                state.failures = max(state.failures - 1, 0)
            if self.path == "/hook":
                if failing:
                    self._answer(503, {})
                    return
                with state.lock:
                    state.webhooks.append((self.headers.get("X-Fleet-Delivery-Id", ""), body))
                self._answer(200, {})
            elif self.path == "/rest/api/2/issue":
                if not self._jira_authorized():
                    return
                fields = body.get("fields", {})
                if fields.get("project", {}).get("key") != JIRA_PROJECT or not fields.get("summary") \
                        or fields.get("issuetype", {}).get("name") != "Task":
                    self._answer(400, {"errorMessages": [], "errors": {"project": "project is required"}})
                elif failing:
                    self._answer(503, {"errorMessages": ["Service unavailable"]})
                else:
                    with state.lock:
                        state.jira_issues.append(fields)
                        number = len(state.jira_issues)
                    self._answer(201, {"id": str(10000 + number), "key": f"{JIRA_PROJECT}-{number}",
                                       "self": f"{state.url}/rest/api/2/issue/{10000 + number}"})
            elif self.path == "/api/v2/tickets.json":
                if not self._zendesk_authorized():
                    return
                ticket = body.get("ticket", {})
                if not ticket.get("subject") or not ticket.get("comment", {}).get("body"):
                    self._answer(422, {"error": "RecordInvalid", "description": "Record validation errors"})
                elif failing:
                    self._answer(503, {"error": "ServiceUnavailable"})
                else:
                    with state.lock:
                        state.zendesk_tickets.append(ticket)
                        number = len(state.zendesk_tickets)
                    self._answer(201, {"ticket": {"id": number, "subject": ticket["subject"],
                                                  "group_id": ticket.get("group_id"), "status": "new"}})
            else:
                self._answer(404, {"error": "not found"})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
