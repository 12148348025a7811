"""What the core reports to the operator's monitoring (Prometheus in fleet_adapters.metrics).

The core never imports a metrics library: services call this port, and a server wires in an
adapter. Every method is cheap, never blocks and never raises (a metric must not fail a request);
``NO_METRICS`` is the default for the in-memory kit and for tests of other behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol


class Metrics(Protocol):
    def job_ran(self, job: str, seconds: float, *, ok: bool) -> None:
        """One run of a background job ended after ``seconds``; ``ok`` False when it raised."""
        ...

    def hosts_enrolled(self, count: int = 1) -> None:
        """Hosts enrolled or re-enrolled."""
        ...

    def hosts_seen(self, count: int) -> None:
        """Hosts whose check-in time was written (each at most once per seen flush)."""
        ...

    def host_statuses(self, counts: Mapping[str, int]) -> None:
        """The latest sample of hosts by status (online, offline, mia, new, missing_30_days, total)."""
        ...

    def campaign_started(self) -> None:
        """A live query campaign started."""
        ...

    def live_results(self, count: int) -> None:
        """Answers of hosts to live queries received."""
        ...

    def cache_lookup(self, cache: str, *, hit: bool) -> None:
        """A lookup in one of the hot path's caches (node_key, app_config ...)."""
        ...


class NoMetrics:
    """Reports nothing."""

    def job_ran(self, job: str, seconds: float, *, ok: bool) -> None:
        pass

    def hosts_enrolled(self, count: int = 1) -> None:
        pass

    def hosts_seen(self, count: int) -> None:
        pass

    def host_statuses(self, counts: Mapping[str, int]) -> None:
        pass

    def campaign_started(self) -> None:
        pass

    def live_results(self, count: int) -> None:
        pass

    def cache_lookup(self, cache: str, *, hit: bool) -> None:
        pass


NO_METRICS: Final[Metrics] = NoMetrics()
