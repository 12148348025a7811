"""The HTTP side of the client: base URL, TLS, user agent, retries, errors and paging."""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import AsyncIterator, Mapping
from importlib import metadata
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec

from fleet_http.client.errors import FleetConnectionError, error_for

T = TypeVar("T")

try:
    VERSION = metadata.version("fleet-py")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0"
USER_AGENT = f"fleet-py-client/{VERSION}"
API = "/api/v1/fleet"
# Answers worth asking again for: the server was busy, restarting or behind a proxy that was.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def ssl_context(*, verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext | bool:
    """TLS settings: verified against the system's CAs, or against ca_file only; never off unless asked."""
    if not verify:
        return False
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return True


class Transport:
    """One httpx.AsyncClient and the rules every request follows."""

    def __init__(self, address: str, token: str | None = None, *, verify: bool = True, ca_file: str | None = None,
                 timeout: float = 30.0, retries: int = 0, backoff: float = 0.5,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self.address = address.rstrip("/")
        self.token = token
        self.verify = ssl_context(verify=verify, ca_file=ca_file)
        self.retries = retries
        self.backoff = backoff
        self._owned = http_client is None
        self.http = http_client or httpx.AsyncClient(base_url=self.address, verify=self.verify, timeout=timeout)

    async def aclose(self) -> None:
        if self._owned:
            await self.http.aclose()

    def headers(self) -> dict[str, str]:
        """Per request, so a caller's own http_client is left as it was."""
        headers = {"User-Agent": USER_AGENT}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                   form: Mapping[str, str] | None = None, idempotent: bool | None = None) -> httpx.Response:
        """The response of a 2xx answer; raises the FleetAPIError subclass for any other.

        Retries (``retries`` times, exponential backoff with jitter, honouring Retry-After) only
        requests that are safe to repeat: idempotent methods, or a call that says it is.
        """
        may_retry = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempts = 1 + (self.retries if may_retry else 0)
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        body = None if json is None else msgspec.json.encode(json)
        headers = self.headers()
        if body is not None:
            headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self.http.request(method, path, params=clean_params, content=body, headers=headers)
            except httpx.TransportError as exc:
                if last:
                    raise FleetConnectionError(f"{method} {self.address}{path}: {exc!r}") from exc
                await asyncio.sleep(self._delay(attempt, None))
                continue
            if response.status_code < 400:
                return response
            if last or response.status_code not in RETRY_STATUSES:
                raise error_for(response)
            await asyncio.sleep(self._delay(attempt, response.headers.get("retry-after")))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isdigit():
            return float(retry_after)
        return float(self.backoff * (2**attempt) * (0.5 + random.random()))  # jitter, not a secret

    async def call(self, method: str, path: str, type: type[T], **kwargs: Any) -> T:
        """The response body decoded into ``type`` (a fleet_http.schemas struct, or dict)."""
        response = await self.send(method, path, **kwargs)
        return msgspec.json.decode(response.content or b"{}", type=type)

    async def pages(self, path: str, key: str, item_type: type[T], *, params: Mapping[str, Any] | None = None,
                    per_page: int = 100) -> AsyncIterator[T]:
        """Every item of a paged list (Fleet's ``page``/``per_page``), one request per page."""
        page = 0
        while True:
            body = await self.call("GET", path, dict[str, Any], params={**(params or {}), "page": page,
                                                                         "per_page": per_page})
            items = body.get(key) or []
            for item in items:
                yield msgspec.convert(item, item_type)
            if len(items) < per_page:
                return
            page += 1
