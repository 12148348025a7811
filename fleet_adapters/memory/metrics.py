"""RecordingMetrics: the Metrics port in memory, for tests that check what a service reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import attrs


@attrs.define
class RecordingMetrics:
    """Totals of everything reported, by what the Prometheus adapter would label it."""

    counts: Counter[str] = attrs.field(factory=Counter)
    job_runs: list[tuple[str, float, bool]] = attrs.field(factory=list)
    statuses: dict[str, int] = attrs.field(factory=dict)

    def job_ran(self, job: str, seconds: float, *, ok: bool) -> None:
        self.job_runs.append((job, seconds, ok))

    def hosts_enrolled(self, count: int = 1) -> None:
        self.counts["hosts_enrolled"] += count

    def hosts_seen(self, count: int) -> None:
        self.counts["hosts_seen"] += count

    def host_statuses(self, counts: Mapping[str, int]) -> None:
        self.statuses.update(counts)

    def campaign_started(self) -> None:
        self.counts["campaigns"] += 1

    def live_results(self, count: int) -> None:
        self.counts["live_results"] += count

    def cache_lookup(self, cache: str, *, hit: bool) -> None:
        self.counts[f"cache:{cache}:{'hit' if hit else 'miss'}"] += 1
