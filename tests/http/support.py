"""Helpers for the management API tests: a harness that drives one server through its API,
the role cast, and assertions on Fleet's error body and timestamps."""

from __future__ import annotations

import re
from typing import Any

import attrs
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit, MovableClock

PASSWORD = "correct-horse-9!battery"
OTHER_PASSWORD = "another-horse-7?staple"
ADMIN_EMAIL = "admin@example.com"
SERVER_URL = "https://fleet.example.com"
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

# The user object's keys in Fleet's examples (GET /users/{id}, Me, Login).
USER_KEYS = {
    "created_at", "updated_at", "id", "name", "email", "enabled", "force_password_reset",
    "gravatar_url", "sso_enabled", "global_role", "api_only", "teams",
}

# SMTP settings the recording mailer accepts; PATCHing them turns on invite and reset mail.
SMTP_ON = {
    "smtp_settings": {
        "enable_smtp": True, "server": "smtp.example.com", "port": 1025,
        "sender_address": "fleet@example.com", "authentication_type": "authtype_none",
    }
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, *names: str) -> dict[str, Any]:
    """Fleet's error body with the given status; every name given must be among the errors."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"name", "reason"}
        assert isinstance(error["reason"], str) and error["reason"]
    found = {e["name"] for e in body["errors"]}
    for name in names:
        assert name in found, body
    return dict(body)


def assert_timestamp(value: Any) -> None:
    assert isinstance(value, str) and RFC3339_UTC.match(value), value


def mail_token(text: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}:\s*(\S+)", text)
    assert match, text
    return match.group(1)


@attrs.frozen
class Actor:
    """A logged-in user: what tests need to act as them."""

    id: int
    email: str
    token: str
    password: str = PASSWORD

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@attrs.define
class Fleet:
    """One server: the kit behind it, a client, and helpers that go through the API."""

    kit: InMemoryKit
    client: AsyncTestClient[Litestar]
    admin: Actor | None = None
    _emails: int = 0

    @property
    def clock(self) -> MovableClock:
        assert isinstance(self.kit.clock, MovableClock)
        return self.kit.clock

    @property
    def as_admin(self) -> dict[str, str]:
        assert self.admin is not None
        return self.admin.headers

    async def setup(self, *, email: str = ADMIN_EMAIL, password: str = PASSWORD) -> Actor:
        response = await self.client.post("/api/v1/setup", json={
            "admin": {"admin": True, "email": email, "name": "Ada Admin", "password": password,
                      "password_confirmation": password},
            "org_info": {"org_name": "Acme"},
            "server_url": SERVER_URL,
        })
        assert response.status_code == 200, response.text
        body = response.json()
        self.admin = Actor(id=body["admin"]["id"], email=email, token=body["token"], password=password)
        return self.admin

    async def add_team(self, name: str) -> int:
        async with self.kit.store.unit_of_work() as uow:
            team = await uow.teams.add(name=name, description="", at=self.clock.now())
            await uow.commit()
        return team.id

    def next_email(self, stem: str = "user") -> str:
        self._emails += 1
        return f"{stem}{self._emails}@example.com"

    async def create_user(self, *, global_role: str | None = None, teams: list[dict[str, Any]] | None = None,
                          email: str | None = None, name: str = "Some User", password: str = PASSWORD,
                          login: bool = True) -> Actor:
        """Create a user through POST /users/admin (no forced reset) and log them in."""
        email = email or self.next_email()
        body: dict[str, Any] = {"name": name, "email": email, "password": password,
                                "admin_forced_password_reset": False}
        if global_role is not None:
            body["global_role"] = global_role
        if teams is not None:
            body["teams"] = teams
        response = await self.client.post("/api/v1/fleet/users/admin", json=body, headers=self.as_admin)
        assert response.status_code == 200, response.text
        user_id = response.json()["user"]["id"]
        token = await self.login(email, password) if login else ""
        return Actor(id=user_id, email=email, token=token, password=password)

    async def login(self, email: str, password: str = PASSWORD) -> str:
        response = await self.client.post("/api/v1/fleet/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        assert isinstance(token, str) and token
        return token

    async def enable_smtp(self) -> None:
        response = await self.client.patch("/api/v1/fleet/config", json=SMTP_ON, headers=self.as_admin)
        assert response.status_code == 200, response.text
        assert response.json()["smtp_settings"]["configured"] is True


@attrs.frozen
class Cast:
    """Every role the authorization table tells apart, each logged in."""

    fleet: Fleet
    team_one: int
    team_two: int
    actors: dict[str, Actor]

    def __getitem__(self, role: str) -> Actor:
        return self.actors[role]


ROLES = ("admin", "maintainer", "observer", "team_admin", "team_maintainer", "team_observer")


