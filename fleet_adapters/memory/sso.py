"""SSO login state in process memory (fleet_core.ports.SSOStateStore), timed by the Clock port."""

from __future__ import annotations

import datetime as dt

from fleet_core.ports import Clock


class InMemorySSOStateStore:
    """Same semantics as RedisSSOStateStore within one process; expired entries are dropped as
    they are met and on every add, so the store stays as small as the logins in flight."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._requests: dict[str, tuple[str, dt.datetime]] = {}
        self._assertions: dict[str, dt.datetime] = {}
        self._metadata: dict[str, str] = {}

    def _prune(self) -> None:
        now = self._clock.now()
        self._requests = {k: v for k, v in self._requests.items() if v[1] > now}
        self._assertions = {k: v for k, v in self._assertions.items() if v > now}

    async def add_request(self, request_id: str, relay_url: str, *, ttl: dt.timedelta) -> None:
        self._prune()
        self._requests[request_id] = (relay_url, self._clock.now() + ttl)

    async def pending_request(self, request_id: str) -> str | None:
        entry = self._requests.get(request_id)
        if entry is None or entry[1] <= self._clock.now():
            return None
        return entry[0]

    async def take_request(self, request_id: str) -> str | None:
        relay_url = await self.pending_request(request_id)
        self._requests.pop(request_id, None)
        return relay_url

    async def use_assertion(self, assertion_id: str, *, ttl: dt.timedelta) -> bool:
        self._prune()
        if assertion_id in self._assertions:
            return False
        self._assertions[assertion_id] = self._clock.now() + ttl
        return True

    async def put_metadata(self, url: str, xml: str) -> None:
        self._metadata[url] = xml

    async def metadata(self, url: str) -> str | None:
        return self._metadata.get(url)
