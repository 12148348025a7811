"""HttpWebhookSender: POSTs webhook payloads as JSON with httpx."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from fleet_core import version
from fleet_core.errors import Unavailable

DEFAULT_TIMEOUT_SECONDS = 30.0
DELIVERY_ID_HEADER = "X-Fleet-Delivery-Id"


class HttpWebhookSender:
    """One short-lived client per request: webhooks are rare, and no connection outlives a run."""

    def __init__(self, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout_seconds

    async def post(self, url: str, payload: Mapping[str, Any], *, delivery_id: str) -> None:
        headers = {DELIVERY_ID_HEADER: delivery_id, "User-Agent": f"fleet-py/{version.VERSION}"}
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(url, json=dict(payload), headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise Unavailable(f"webhook request failed: {type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise Unavailable(f"webhook receiver answered {response.status_code}")
