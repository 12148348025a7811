"""A simulated Fleet Desktop: what fleetd's tray app and orbit do against the server.

It gets the host's device token through the host's node key (POST /api/v1/osquery/device_token,
orbit's role), refreshes it before it expires by presenting it again, fetches a new one when the
server refuses it (401), and polls the device routes Fleet Desktop reads (desktop, policies).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx

DEVICE_API = "/api/v1/fleet/device"
# Where the node key is exchanged for the device token.
EXCHANGE_ROUTE = "/api/v1/osquery/device_token"
# Refresh this long before the token expires, as orbit rotates its token well ahead of expiry.
REFRESH_MARGIN = dt.timedelta(minutes=10)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class DesktopView:
    """What the tray menu shows: the failing policy count, and each policy's response by name."""

    failing_policies_count: int
    policies: dict[str, str]


class DesktopRefused(Exception):
    """The server refused the simulated desktop something it should have had; str() says what."""


class FleetDesktop:
    def __init__(self, *, osquery: httpx.AsyncClient, fleet: httpx.AsyncClient, node_key: str,
                 now: Callable[[], dt.datetime] = utc_now) -> None:
        # Two clients, since a test may serve the osquery and the management API as two apps;
        # against `fleet serve` both may be the same client.
        self._osquery = osquery
        self._fleet = fleet
        self._node_key = node_key
        self._now = now
        self.token = ""
        self.expires_at = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.tokens_fetched = 0

    async def ensure_token(self) -> str:
        """The token to use now: the held one, refreshed first when it is about to expire."""
        if not self.token or self._now() >= self.expires_at - REFRESH_MARGIN:
            await self.refresh_token()
        return self.token

    async def refresh_token(self) -> None:
        response = await self._osquery.post(EXCHANGE_ROUTE, json={
            "node_key": self._node_key, "device_auth_token": self.token})
        if response.status_code != 200:
            raise DesktopRefused(f"device_token: {response.status_code} {response.text}")
        body = response.json()
        self.token = body["device_auth_token"]
        self.expires_at = dt.datetime.fromisoformat(body["expires_at"])
        self.tokens_fetched += 1

    async def _get(self, suffix: str) -> dict[str, object]:
        for attempt in (1, 2):
            token = await self.ensure_token()
            response = await self._fleet.get(f"{DEVICE_API}/{token}{suffix}")
            if response.status_code == 401 and attempt == 1:
                # Rotated or expired behind our back (an admin issued another): fetch a new one.
                self.token = ""
                continue
            if response.status_code != 200:
                raise DesktopRefused(f"{suffix}: {response.status_code} {response.text}")
            return dict(response.json())
        raise AssertionError("unreachable")

    async def poll(self) -> DesktopView:
        """One refresh of the tray menu: the desktop summary, then the policies page."""
        desktop = await self._get("/desktop")
        policies = await self._get("/policies")
        listed = policies["policies"]
        assert isinstance(listed, list)
        count = desktop["failing_policies_count"]
        assert isinstance(count, int)
        return DesktopView(failing_policies_count=count,
                           policies={str(p["name"]): str(p["response"]) for p in listed})
