"""Per-endpoint request counters and latency percentiles for the simulator's report."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Endpoint(StrEnum):
    ENROLL = "enroll"
    CONFIG = "config"
    DISTRIBUTED_READ = "distributed_read"
    DISTRIBUTED_WRITE = "distributed_write"
    LOG = "log"
    CARVE_BEGIN = "carve_begin"
    CARVE_BLOCK = "carve_block"


class Outcome(StrEnum):
    """How a response counts. Only OK is a success; NODE_INVALID is reported apart from errors."""

    OK = "ok"
    NODE_INVALID = "node_invalid"
    ERROR_BODY = "error_body"  # JSON object with an `error` key (osqueryd: request failed)
    HTTP_ERROR = "http_error"  # non-2xx without an `error` key
    BAD_BODY = "bad_body"  # not a JSON object, or a success missing what it must carry (enroll's node key)
    TRANSPORT = "transport"  # connect/read/timeout errors: no response at all


ERROR_OUTCOMES = (Outcome.ERROR_BODY, Outcome.HTTP_ERROR, Outcome.BAD_BODY, Outcome.TRANSPORT)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class EndpointStats:
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    status_codes: Counter[int] = field(default_factory=Counter)
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def errors(self) -> int:
        return sum(self.outcomes[o] for o in ERROR_OUTCOMES)

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "requests": self.requests,
            "ok": self.outcomes[Outcome.OK],
            "errors": self.errors,
            "transport_errors": self.outcomes[Outcome.TRANSPORT],
            "http_errors": self.outcomes[Outcome.HTTP_ERROR],
            "error_bodies": self.outcomes[Outcome.ERROR_BODY],
            "bad_bodies": self.outcomes[Outcome.BAD_BODY],
            "node_invalid": self.outcomes[Outcome.NODE_INVALID],
            "status_codes": {str(k): v for k, v in sorted(self.status_codes.items())},
            "rps": round(self.requests / elapsed_s, 3) if elapsed_s > 0 else 0.0,
            "latency_ms": {
                "count": len(lat),
                "mean": round(sum(lat) / len(lat), 3) if lat else 0.0,
                "p50": round(percentile(lat, 50), 3),
                "p90": round(percentile(lat, 90), 3),
                "p99": round(percentile(lat, 99), 3),
                "max": round(lat[-1], 3) if lat else 0.0,
            },
        }


@dataclass
class Stats:
    """Everything the report shows; one instance shared by all hosts of a simulator (single event loop)."""

    endpoints: dict[Endpoint, EndpointStats] = field(default_factory=lambda: {e: EndpointStats() for e in Endpoint})
    reenrolls: int = 0
    distributed_queries_answered: int = 0
    distributed_queries_skipped_by_discovery: int = 0
    log_lines_sent: Counter[str] = field(default_factory=Counter)
    log_lines_dropped: int = 0
    host_crashes: int = 0
    carves_completed: int = 0
    carves_failed: int = 0
    carve_bytes_sent: int = 0
    # Time each request waited for one of the simulator's pooled connections before it could be
    # sent (ms, every endpoint): a real osqueryd has a connection of its own, so this wait is the
    # simulator's and is kept out of the latencies above.
    slot_waits_ms: array[float] = field(default_factory=lambda: array("d"))
    # Live query answers as the host saw them: (query name, hostname, wall time the distributed/read
    # that carried it was sent, its reply read, the distributed/write acknowledged), to split a
    # campaign's delivery time into the host's schedule, the server's replies and the stream.
    live_answers: list[tuple[str, str, float, float, float]] = field(default_factory=list)

    def record(self, endpoint: Endpoint, outcome: Outcome, status: int | None, latency_ms: float | None,
               slot_wait_ms: float | None = None) -> None:
        ep = self.endpoints[endpoint]
        if slot_wait_ms is not None:
            self.slot_waits_ms.append(slot_wait_ms)
        ep.outcomes[outcome] += 1
        if status is not None:
            ep.status_codes[status] += 1
        if latency_ms is not None:
            ep.latencies_ms.append(latency_ms)

    def report(
        self, *, elapsed_s: float, hosts: int, started_hosts: int, enrolled_hosts: int, log_lines_buffered: int = 0
    ) -> dict[str, Any]:
        endpoints = {e.value: s.summary(elapsed_s) for e, s in self.endpoints.items()}
        total_requests = sum(s.requests for s in self.endpoints.values())
        return {
            "elapsed_s": round(elapsed_s, 3),
            "hosts": {"configured": hosts, "started": started_hosts, "enrolled": enrolled_hosts},
            "totals": {
                "requests": total_requests,
                "errors": sum(s.errors for s in self.endpoints.values()),
                "node_invalid": sum(s.outcomes[Outcome.NODE_INVALID] for s in self.endpoints.values()),
                "reenrolls": self.reenrolls,
                "rps": round(total_requests / elapsed_s, 3) if elapsed_s > 0 else 0.0,
                "host_crashes": self.host_crashes,
            },
            "endpoints": endpoints,
            "distributed": {
                "queries_answered": self.distributed_queries_answered,
                "skipped_by_discovery": self.distributed_queries_skipped_by_discovery,
            },
            "logs": {
                "lines_sent": dict(self.log_lines_sent),
                "lines_buffered": log_lines_buffered,
                "lines_dropped": self.log_lines_dropped,
            },
            "carves": {
                "completed": self.carves_completed,
                "failed": self.carves_failed,
                "bytes_sent": self.carve_bytes_sent,
            },
        }


def format_report(report: dict[str, Any]) -> str:
    """A fixed-width table for humans; the JSON report carries the same numbers."""
    head = (
        f"{'endpoint':<18} {'reqs':>8} {'ok':>8} {'errors':>7} {'n_inv':>6} {'rps':>8} "
        f"{'p50ms':>8} {'p90ms':>8} {'p99ms':>8} {'maxms':>9}"
    )
    lines = [
        f"fleet-sim: {report['elapsed_s']:.1f}s, hosts {report['hosts']['started']}/{report['hosts']['configured']} "
        f"started, {report['hosts']['enrolled']} enrolled, {report['totals']['reenrolls']} re-enrolls",
        head,
        "-" * len(head),
    ]
    for name, ep in report["endpoints"].items():
        lat = ep["latency_ms"]
        lines.append(
            f"{name:<18} {ep['requests']:>8} {ep['ok']:>8} {ep['errors']:>7} {ep['node_invalid']:>6} {ep['rps']:>8.2f} "
            f"{lat['p50']:>8.2f} {lat['p90']:>8.2f} {lat['p99']:>8.2f} {lat['max']:>9.2f}"
        )
    t = report["totals"]
    lines.append(f"{'total':<18} {t['requests']:>8} {'':>8} {t['errors']:>7} {t['node_invalid']:>6} {t['rps']:>8.2f}")
    logs = report["logs"]
    lines.append(
        f"log lines sent {logs['lines_sent']}, buffered {logs['lines_buffered']}, dropped {logs['lines_dropped']}; "
        f"distributed answers {report['distributed']['queries_answered']}"
    )
    return "\n".join(lines)
