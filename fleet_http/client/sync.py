"""The synchronous client: the asynchronous one run on a private event loop, so both have the
same methods and behaviour (one implementation). Coroutines return their value; async
iterators (paging, carve blocks) become plain iterators; a live query's Campaign is iterated
with ``for``."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from fleet_http.client.client import AsyncFleetClient
from fleet_http.client.live import Campaign, Event


class SyncCampaign:
    """A Campaign driven from synchronous code: ``with`` and ``for`` instead of ``async``."""

    def __init__(self, runner: asyncio.Runner, campaign: Campaign) -> None:
        self._runner = runner
        self.campaign = campaign

    def __getattr__(self, name: str) -> Any:
        return getattr(self.campaign, name)

    def __enter__(self) -> SyncCampaign:
        self._runner.run(self.campaign.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.run(self.campaign.aclose())

    def __iter__(self) -> Iterator[Event]:
        return _sync_iter(self._runner, aiter(self.campaign))


async def _next(iterator: AsyncIterator[Any]) -> Any:
    return await anext(iterator)


def _sync_iter(runner: asyncio.Runner, iterator: AsyncIterator[Any]) -> Iterator[Any]:
    while True:
        try:
            yield runner.run(_next(iterator))
        except StopAsyncIteration:
            return


class FleetClient:
    """``with FleetClient(address, token) as fleet: ...``: AsyncFleetClient's methods, blocking."""

    def __init__(self, address: str, token: str | None = None, *, verify: bool = True, ca_file: str | None = None,
                 timeout: float = 30.0, retries: int = 0, backoff: float = 0.5,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self._runner = asyncio.Runner()
        self.aio = AsyncFleetClient(address, token, verify=verify, ca_file=ca_file, timeout=timeout,
                                    retries=retries, backoff=backoff, http_client=http_client)

    def __enter__(self) -> FleetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._runner.run(self.aio.aclose())
        self._runner.close()

    @property
    def token(self) -> str | None:
        return self.aio.token

    @token.setter
    def token(self, value: str | None) -> None:
        self.aio.token = value

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.aio, name)
        if not callable(attribute):
            return attribute
        return self._blocking(attribute)

    def _blocking(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if inspect.isasyncgen(result) or isinstance(result, AsyncIterator):
                return _sync_iter(self._runner, result)
            value = self._runner.run(result) if inspect.iscoroutine(result) else result
            return SyncCampaign(self._runner, value) if isinstance(value, Campaign) else value

        return call
