"""Many simulated hosts in one process: start spreading, duration bound, node-key file, reports."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, Self

import httpx

from fleet_osquery.sim.agent import SimOptions, SimulatedHost
from fleet_osquery.sim.lanes import HttpxLane, Lane, RawHttpLane
from fleet_osquery.sim.nodekeys import load_node_keys, save_node_keys
from fleet_osquery.sim.stats import Stats, format_report
from fleet_osquery.sim.templates import OSQUERY_VERSION, assign_templates
from fleet_osquery.sim.wire import Wire, make_client, ssl_verify

_KEY_SAVE_PERIOD_S = 15.0
_CONNECTIONS_PER_LANE = 8
log = logging.getLogger(__name__)


def _default_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        # --insecure: like osquery-perf, which never verifies the server.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Simulator:
    """`async with Simulator(url, secret, hosts=2000) as sim: report = await sim.run(600)`.

    `shard=(k, n)` runs only the hosts whose index is k modulo n, so n processes (one per core)
    together simulate the fleet of `hosts`; each should have a node-key file of its own.

    Tests can skip `run` and drive `sim.hosts[i]` step by step (enroll, fetch_config, check_in, send_logs).
    """

    def __init__(
        self,
        server_url: str,
        enroll_secret: str,
        *,
        hosts: int | None = 10,
        os_templates: str = "macos_14",
        shard: tuple[int, int] = (0, 1),
        options: SimOptions | None = None,
        start_period: float = 10.0,
        node_key_file: str | Path | None = None,
        only_already_enrolled: bool = False,
        api_prefix: str = "/api/osquery",
        verify: bool | str = True,
        max_connections: int = 200,
        request_timeout: float = 16.0,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: Literal["raw", "httpx"] = "raw",
        keep_alive: bool = True,
        report_every: float | None = None,
        report_sink: Callable[[str], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.options = options or SimOptions()
        index, shards = shard
        if not 0 <= index < shards:
            raise ValueError(f"shard {index} of {shards}: the index must be in [0, {shards})")
        self.shard = shard
        self.start_period = start_period
        self.only_already_enrolled = only_already_enrolled
        self.report_every = report_every
        self.report_sink = report_sink or (lambda text: print(text, flush=True))
        self._sleep = sleep
        self.node_key_file = Path(node_key_file) if node_key_file else None
        self._saved_keys: dict[str, str] = {}
        if self.node_key_file is not None:
            saved = load_node_keys(self.node_key_file)
            if saved.seed is None or saved.seed == self.options.seed:
                self._saved_keys = dict(saved.keys)
        self.stats = Stats()
        # Small pools, one per lane: per-request cost stays flat however many hosts share them.
        lane_count = max(1, -(-max_connections // _CONNECTIONS_PER_LANE))
        per_lane = max(1, max_connections // lane_count)
        tls = ssl_verify(verify)
        user_agent = f"osquery/{OSQUERY_VERSION}"
        lanes: list[Lane]
        if transport is not None or http_client == "httpx":
            lanes = [
                HttpxLane(
                    make_client(
                        verify=tls,
                        max_connections=per_lane,
                        timeout_s=request_timeout,
                        user_agent=user_agent,
                        transport=transport,
                    ),
                    server_url,
                )
                for _ in range(lane_count)
            ]
        else:
            context = tls if isinstance(tls, ssl.SSLContext) else _default_context(tls)
            lanes = [
                RawHttpLane(
                    server_url,
                    ssl_context=context,
                    max_connections=per_lane,
                    timeout_s=request_timeout,
                    user_agent=user_agent,
                    keep_alive=keep_alive,
                )
                for _ in range(lane_count)
            ]
        self.wire = Wire(lanes, server_url, api_prefix, self.stats)
        # Shard k of n runs hosts k, k+n, k+2n... of the whole fleet: identities and templates are
        # the whole fleet's, so n processes together run exactly the hosts one process would.
        self.hosts = [
            SimulatedHost(i, template, self.wire, enroll_secret, self.options, sleep=sleep)
            for i, template in enumerate(assign_templates(os_templates, hosts))
            if i % shards == index
        ]
        for host in self.hosts:
            host.node_key = self._saved_keys.get(host.host_identifier)
        self.started_hosts = 0
        self._started_at: float | None = None
        self._ended_at: float | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self.save_node_keys()
        await self.wire.aclose()

    def save_node_keys(self) -> None:
        if self.node_key_file is None:
            return
        keys = dict(self._saved_keys)  # hosts not part of this run keep theirs
        keys.update({h.host_identifier: h.node_key for h in self.hosts if h.node_key})
        save_node_keys(self.node_key_file, keys, seed=self.options.seed)

    def report(self) -> dict[str, Any]:
        start = self._started_at if self._started_at is not None else time.monotonic()
        end = self._ended_at if self._ended_at is not None else time.monotonic()
        return self.stats.report(
            elapsed_s=end - start,
            hosts=len(self.hosts),
            started_hosts=self.started_hosts,
            enrolled_hosts=sum(1 for h in self.hosts if h.node_key),
            log_lines_buffered=sum(len(h.result_buffer) + len(h.status_buffer) for h in self.hosts),
        )

    async def run(self, duration: float) -> dict[str, Any]:
        """Run every host until `duration` seconds have passed, then stop them and return the report."""
        if duration <= 0:
            raise ValueError("duration must be positive: the simulator always stops by itself")
        runnable = [h for h in self.hosts if h.node_key or not self.only_already_enrolled]
        if not runnable:
            self._started_at = self._ended_at = time.monotonic()
            return self.report()
        gap = self.start_period / len(runnable) if runnable else 0.0
        self._started_at, self._ended_at = time.monotonic(), None
        try:
            async with asyncio.timeout(duration), asyncio.TaskGroup() as tg:
                if self.report_every:
                    tg.create_task(self._periodic(self.report_every, self._print_report))
                if self.node_key_file is not None:
                    tg.create_task(self._periodic(_KEY_SAVE_PERIOD_S, self.save_node_keys))
                for n, host in enumerate(runnable):
                    tg.create_task(self._run_host(host, n * gap))
        except TimeoutError:
            pass
        finally:
            self._ended_at = time.monotonic()
            self.save_node_keys()
        return self.report()

    async def _run_host(self, host: SimulatedHost, delay: float) -> None:
        if delay > 0:
            await self._sleep(delay)
        self.started_hosts += 1
        try:
            await host.run()
        except Exception:
            # One broken host must not take the other 1,999 down with the task group.
            self.stats.host_crashes += 1
            log.exception("simulated host %d stopped", host.index)

    async def _periodic(self, period: float, action: Callable[[], object]) -> None:
        while True:
            await self._sleep(period)
            action()

    def _print_report(self) -> None:
        self.report_sink(format_report(self.report()))
