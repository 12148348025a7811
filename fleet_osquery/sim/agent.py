"""One simulated osqueryd: enroll, then config / distributed / logger loops like osquery's threads (§1.1, §4.1)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import logging
import random
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import msgspec

from fleet_osquery.sim import carver
from fleet_osquery.sim.answers import LIVE_PREFIX, Answer, AnswerRules, HostAnswerer
from fleet_osquery.sim.stats import Endpoint, Outcome, Stats
from fleet_osquery.sim.templates import OSQUERY_VERSION, TABLE_ROWS, OsTemplate, Rows, make_identity, tables_in
from fleet_osquery.sim.wire import Reply, Wire

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode
_ROWS_SUFFIX = re.compile(r"_(\d+)$")
_MAX_SYNTHETIC_ROWS = 10_000
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def calendar_time(unix: float) -> str:
    """osquery's calendarTime, e.g. `Wed Mar  2 22:02:54 2022 UTC` (locale-independent)."""
    t = time.gmtime(unix)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year} UTC"
    )


@dataclass(frozen=True)
class SimOptions:
    """Per-host behaviour; defaults are osquery-perf's and Fleet's default agent options."""

    config_interval: float = 60.0
    query_interval: float = 10.0  # distributed_interval
    accelerated_interval: float = 5.0  # while the server's `accelerate` window is open
    logger_tls_period: float = 10.0
    logger_tls_max_lines: int = 1024
    max_buffered_log_lines: int = 1_000_000  # osquery-perf's cap; beyond it the oldest lines go
    gzip_logs: bool = False
    status_logs: bool = True
    distributed_max_attempts: int = 3  # --distributed_tls_max_attempts
    enroll_retry_min_s: float = 1.0
    enroll_retry_max_s: float = 120.0  # osquery-perf retries a failed enroll after 1-120 s
    seed: int = 1
    orbit_prob: float = 0.5  # share of hosts with fleetd's tables (orbit_info, google_chrome_profiles)
    carver_block_size: int = 8192  # osquery's default, until the config's carver_block_size says otherwise
    carve_default_size: int = 1024 * 1024  # a carved path that names no size (sim/carver.py)
    carve_max_attempts: int = 5  # tries per carve/begin and per block before the carve is given up
    rules: AnswerRules = field(default_factory=AnswerRules)


@dataclass(slots=True)
class ScheduledQuery:
    name: str  # as osquery logs it: pack/<pack>/<query>
    query: str
    interval: float
    snapshot: bool
    next_due: float
    runs: int = 0
    rows: msgspec.Raw | None = None


@dataclass(slots=True)
class CheckIn:
    """What one distributed check-in did (for tests and debugging)."""

    read: Outcome | None  # None: not sent (no node key)
    queries: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    write: Outcome | None = None
    accelerate: int | None = None


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def _platform_matches(platform: Any, family: str) -> bool:
    """osquery's schedule platform filter: empty/any/all run everywhere; posix is darwin+linux."""
    if not isinstance(platform, str) or not platform.strip():
        return True
    wanted = {p.strip().lower() for p in platform.split(",") if p.strip()}
    if wanted & {"any", "all", family}:
        return True
    return "posix" in wanted and family in ("darwin", "linux")


class SimulatedHost:
    """A host that speaks exactly what osqueryd speaks. Tests drive the step methods one at a time."""

    def __init__(
        self,
        index: int,
        template: OsTemplate,
        wire: Wire,
        enroll_secret: str,
        options: SimOptions | None = None,
        *,
        node_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.options = opts = options or SimOptions()
        self.index = index
        self.template = template
        self.identity = make_identity(opts.seed, index, template, orbit_prob=opts.orbit_prob)
        self.host_identifier = self.identity.host_identifier
        self.wire = wire
        self.stats: Stats = wire.stats
        self._clock = clock
        self._wall = wall_clock
        self._sleep = sleep
        self.rng = random.Random(f"{opts.seed}:{index}")
        self.answerer = HostAnswerer(
            template,
            self.identity,
            opts.rules,
            opts.seed,
            rng=self.rng,
            started_at=wall_clock(),
            scheduled_stats=self._scheduled_query_stats,
        )
        self._enroll_body = _encode(
            {
                "enroll_secret": enroll_secret,
                "host_identifier": self.host_identifier,
                "platform_type": template.platform_type,
                "host_details": template.host_details(self.identity),
            }
        )
        self._decorations = {"host_uuid": self.identity.uuid, "hostname": self.identity.hostname}
        self._enroll_lock = asyncio.Lock()
        self._enroll_not_before = 0.0
        self._invalidated = False
        self._auth_body = b""
        self._node_key: str | None = None
        self.node_key = node_key
        self.enrollments = 0
        self.last_config: dict[str, Any] | None = None
        self.schedule: dict[str, ScheduledQuery] = {}
        self.accelerate_until = 0.0
        self.result_buffer: deque[msgspec.Raw] = deque()
        self.status_buffer: deque[msgspec.Raw] = deque()
        self.queries_answered: Counter[str] = Counter()
        self.last_check_in: CheckIn | None = None
        self.last_results: dict[str, Answer] = {}
        self.carver_block_size = opts.carver_block_size
        self.pending_carves: deque[carver.CarveJob] = deque()
        # Set while run() runs: carves then upload in the background as osquery's carver thread does;
        # tests driving the step methods call run_carves() themselves.
        self._carver_tasks: asyncio.TaskGroup | None = None

    # node key ------------------------------------------------------------------------------------
    @property
    def node_key(self) -> str | None:
        return self._node_key

    @node_key.setter
    def node_key(self, value: str | None) -> None:
        self._node_key = value
        # config and distributed/read bodies are only the node key: encode once, send many times.
        self._auth_body = _encode({"node_key": value}) if value else b""

    def _forget_key_if_invalid(self, reply: Reply) -> None:
        if reply.outcome is Outcome.NODE_INVALID:
            # osqueryd clears its key; the next config/distributed/log request enrolls again.
            self.node_key = None
            self._invalidated = True

    async def enroll(self) -> bool:
        """POST enroll with the secret, identifier, platform_type and host_details; keep the node key."""
        reply = await self.wire.post(Endpoint.ENROLL, self._enroll_body, lane=self.index)
        if not reply.ok or reply.body is None:
            self._enroll_not_before = self._clock() + self.rng.uniform(
                self.options.enroll_retry_min_s, self.options.enroll_retry_max_s
            )
            return False
        self.node_key = str(reply.body.get("node_key") or reply.body.get("id"))
        self.enrollments += 1
        if self._invalidated:
            self.stats.reenrolls += 1
            self._invalidated = False
        return True

    def retry_enroll_at(self) -> float:
        """When (on the host's clock) a failed enrollment may be tried again."""
        return self._enroll_not_before

    async def ensure_node_key(self) -> str | None:
        """osquery's getNodeKey: the cached key, else enroll (respecting the retry delay after a failure)."""
        if self._node_key is not None:
            return self._node_key
        async with self._enroll_lock:
            if self._node_key is None and self._clock() >= self._enroll_not_before:
                await self.enroll()
        return self._node_key

    # config --------------------------------------------------------------------------------------
    async def fetch_config(self) -> Outcome | None:
        """POST config and learn the schedule from `packs.*.queries.*` (and the older `schedule` key)."""
        if await self.ensure_node_key() is None:
            return None
        reply = await self.wire.post(Endpoint.CONFIG, self._auth_body, lane=self.index)
        self._forget_key_if_invalid(reply)
        if reply.ok and reply.body is not None:
            self.last_config = reply.body
            self._learn_schedule(reply.body)
        return reply.outcome

    def _learn_schedule(self, config: dict[str, Any]) -> None:
        options = config.get("options")
        block_size = options.get("carver_block_size") if isinstance(options, dict) else None
        if isinstance(block_size, int) and not isinstance(block_size, bool) and block_size > 0:
            self.carver_block_size = block_size
        delimiter = "/"
        if isinstance(options, dict) and isinstance(options.get("pack_delimiter"), str):
            delimiter = options["pack_delimiter"]
        found: list[tuple[str, dict[str, Any]]] = []
        packs = config.get("packs")
        if isinstance(packs, dict):
            for pack_name, pack in packs.items():
                queries = pack.get("queries") if isinstance(pack, dict) else None
                if isinstance(queries, dict):
                    found.extend(
                        (f"pack{delimiter}{pack_name}{delimiter}{q}", body)
                        for q, body in queries.items()
                        if isinstance(body, dict)
                    )
        schedule = config.get("schedule")
        if isinstance(schedule, dict):
            found.extend((q, body) for q, body in schedule.items() if isinstance(body, dict))
        now = self._clock()
        learned: dict[str, ScheduledQuery] = {}
        for name, body in found:
            sql, interval = body.get("query"), _as_number(body.get("interval"))
            if not isinstance(sql, str) or not sql or interval <= 0:
                continue
            if not _platform_matches(body.get("platform"), self.template.family):
                continue
            shard = _as_number(body.get("shard"))
            if 0 < shard < 100 and self._shard_bucket() >= shard:
                continue
            previous = self.schedule.get(name)
            if previous is not None and previous.query == sql:
                previous.interval, previous.snapshot = interval, bool(body.get("snapshot"))
                learned[name] = previous
            else:
                learned[name] = ScheduledQuery(name, sql, interval, bool(body.get("snapshot")), next_due=now)
        self.schedule = learned

    def _shard_bucket(self) -> int:
        return int(hashlib.sha1(self.host_identifier.encode(), usedforsecurity=False).hexdigest()[:8], 16) % 100

    # distributed ---------------------------------------------------------------------------------
    def distributed_interval(self) -> float:
        if self._clock() < self.accelerate_until:
            return self.options.accelerated_interval
        return self.options.query_interval

    async def check_in(self) -> CheckIn:
        """distributed/read, then distributed/write if queries came back (osquery's distributed runner)."""
        if await self.ensure_node_key() is None:
            result = CheckIn(read=None)
            self.last_check_in = result
            return result
        read_sent = self._wall()
        reply = await self.wire.post(Endpoint.DISTRIBUTED_READ, self._auth_body, lane=self.index)
        read_done = self._wall()
        self._forget_key_if_invalid(reply)
        result = CheckIn(read=reply.outcome)
        self.last_check_in = result
        if not reply.ok or reply.body is None:
            return result
        accelerate = reply.body.get("accelerate")
        if isinstance(accelerate, int) and not isinstance(accelerate, bool) and accelerate > 0:
            result.accelerate = accelerate
            self.accelerate_until = self._clock() + accelerate
        queries = reply.body.get("queries")
        if not isinstance(queries, dict) or not queries:
            return result
        discovery = reply.body.get("discovery")
        answers = self.answerer.run_batch(queries, discovery if isinstance(discovery, dict) else {})
        self._schedule_carves(queries, answers)
        result.queries = sorted(queries)
        result.answered = list(answers)
        self.stats.distributed_queries_skipped_by_discovery += len(queries) - len(answers)
        if not answers:
            return result
        self.last_results = answers
        self.queries_answered.update(answers.keys())
        self.stats.distributed_queries_answered += len(answers)
        result.write = await self._write(answers)
        if result.write is Outcome.OK:
            written = self._wall()
            self.stats.live_answers.extend((name, self.identity.hostname, read_sent, read_done, written)
                                           for name in answers if name.startswith(LIVE_PREFIX))
        return result

    # carver --------------------------------------------------------------------------------------
    def _schedule_carves(self, queries: dict[str, Any], answers: dict[str, Answer]) -> None:
        """Answer each live carve query with osquery's SCHEDULED row and queue the carve."""
        for name in list(answers):
            path = carver.carve_path(queries[name]) if name.startswith(LIVE_PREFIX) else None
            if path is None:
                continue
            guid = f"{self.rng.getrandbits(128):032x}"
            size = carver.file_size(path, self.options.carve_default_size)
            self.pending_carves.append(carver.CarveJob(request_id=name, carve_guid=guid, path=path, size=size))
            answers[name] = Answer([{
                "time": str(int(self._wall())), "sha256": "", "size": "-1", "path": path, "status": "SCHEDULED",
                "carve_guid": guid, "request_id": name, "carve": "1"}], wall_time_ms=1)
        if self.pending_carves and self._carver_tasks is not None:
            self._carver_tasks.create_task(self._guard(self.run_carves))

    async def run_carves(self) -> int:
        """Upload every queued carve; how many the server took whole."""
        done = 0
        while self.pending_carves:
            if await self.upload_carve(self.pending_carves.popleft()):
                done += 1
        return done

    async def upload_carve(self, job: carver.CarveJob) -> bool:
        """carve/begin, then every block in order, each retried with a growing pause until the
        server takes it (as a retrying carver would); False when the carve had to be given up."""
        block_size = self.carver_block_size
        count = -(-job.size // block_size)
        key = await self.ensure_node_key()
        begin = {"block_count": count, "block_size": block_size, "carve_size": job.size,
                 "carve_id": job.carve_guid, "request_id": job.request_id, "node_key": key}
        reply = await self._carve_post(Endpoint.CARVE_BEGIN, _encode(begin))
        session = reply.body.get("session_id") if reply is not None and reply.body else None
        if not isinstance(session, str) or not session:
            self.stats.carves_failed += 1
            return False
        seed, ident = self.options.seed, self.host_identifier
        for block_id, data in enumerate(carver.blocks(seed, ident, job.path, job.size, block_size)):
            body = _encode({"block_id": block_id, "session_id": session, "request_id": job.request_id,
                            "data": base64.b64encode(data).decode("ascii")})
            if await self._carve_post(Endpoint.CARVE_BLOCK, body) is None:
                self.stats.carves_failed += 1
                return False
            self.stats.carve_bytes_sent += len(data)
        self.stats.carves_completed += 1
        return True

    async def _carve_post(self, endpoint: Endpoint, body: bytes) -> Reply | None:
        """POST until the server answers success, up to carve_max_attempts; None if it never did."""
        for attempt in range(1, max(1, self.options.carve_max_attempts) + 1):
            if attempt > 1:
                await self._sleep(min(30.0, 0.5 * 2 ** (attempt - 2)))
            reply = await self.wire.post(endpoint, body, lane=self.index)
            if reply.ok:
                return reply
        return None

    async def _write(self, answers: dict[str, Answer]) -> Outcome | None:
        payload = {
            "queries": {n: a.rows for n, a in answers.items()},
            "statuses": {n: a.status for n, a in answers.items()},
            "messages": {n: a.message for n, a in answers.items()},
            "stats": {
                n: {
                    "wall_time_ms": a.wall_time_ms,
                    "user_time": a.wall_time_ms // 2,
                    "system_time": a.wall_time_ms // 4,
                    "memory": 0,
                }
                for n, a in answers.items()
            },
        }
        outcome: Outcome | None = None
        for attempt in range(1, max(1, self.options.distributed_max_attempts) + 1):
            if attempt > 1:
                await self._sleep((attempt - 1) ** 2)
            key = await self.ensure_node_key()
            if key is None:
                continue
            reply = await self.wire.post(
                Endpoint.DISTRIBUTED_WRITE, _encode({"node_key": key, **payload}), lane=self.index
            )
            self._forget_key_if_invalid(reply)
            outcome = reply.outcome
            if reply.ok:
                break
        return outcome

    def _scheduled_query_stats(self) -> Rows:
        return [
            {
                "name": q.name.rsplit("/", 1)[-1],
                "pack_name": q.name.split("/")[1] if q.name.count("/") >= 2 else "",
                "query": q.query,
                "interval": str(int(q.interval)),
                "executions": str(q.runs),
                "last_executed": "0",
                "denylisted": "0",
                "output_size": "0",
                "wall_time": str(q.runs),
                "wall_time_ms": str(q.runs * 3),
                "user_time": str(q.runs * 2),
                "system_time": str(q.runs),
                "average_memory": "0",
                "last_fetched": "0",
            }
            for q in self.schedule.values()
        ]

    # logger --------------------------------------------------------------------------------------
    def _rows_for(self, q: ScheduledQuery) -> msgspec.Raw:
        if q.rows is None:
            rows: Rows
            m = _ROWS_SUFFIX.search(q.name)
            if m:
                # osquery-perf's convention: a query named Name_10 reports 10 rows.
                rows = [
                    {"row": str(i), "hostname": self.identity.hostname}
                    for i in range(min(int(m.group(1)), _MAX_SYNTHETIC_ROWS))
                ]
            else:
                build = next((TABLE_ROWS[t] for t in tables_in(q.query) if t in TABLE_ROWS), None)
                rows = build(self.template, self.identity) if build else [{"foo": "bar"}]
            q.rows = msgspec.Raw(_encode(rows))
        return q.rows

    def _buffer(self, buffer: deque[msgspec.Raw], line: bytes) -> None:
        if len(buffer) >= self.options.max_buffered_log_lines:
            buffer.popleft()
            self.stats.log_lines_dropped += 1
        buffer.append(msgspec.Raw(line))

    def run_due_scheduled_queries(self) -> int:
        """Queue a snapshot result (and an osquery status line) for each query whose interval passed."""
        now, unix = self._clock(), self._wall()
        ran = 0
        for q in sorted(self.schedule.values(), key=lambda s: s.name):
            if now < q.next_due:
                continue
            cal = calendar_time(unix)
            self._buffer(
                self.result_buffer,
                _encode(
                    {
                        "snapshot": self._rows_for(q),
                        "action": "snapshot",
                        "name": q.name,
                        "hostIdentifier": self.host_identifier,
                        "calendarTime": cal,
                        "unixTime": int(unix),
                        "epoch": 0,
                        "counter": q.runs,
                        "numerics": False,
                        "decorations": self._decorations,
                    }
                ),
            )
            if self.options.status_logs:
                self._buffer(
                    self.status_buffer,
                    _encode(
                        {
                            "hostIdentifier": self.host_identifier,
                            "calendarTime": cal,
                            "unixTime": str(int(unix)),
                            "severity": "0",
                            "filename": "scheduler.cpp",
                            "line": "83",
                            "message": f"Executing scheduled query {q.name}: {q.query}",
                            "version": OSQUERY_VERSION,
                            "decorations": self._decorations,
                        }
                    ),
                )
            q.runs += 1
            q.next_due = now + q.interval
            ran += 1
        return ran

    async def send_logs(self) -> int:
        """One logger tick: run due queries, then upload up to max_lines of results and of status lines.

        A batch leaves the buffer only when the server acknowledged it (2xx, no `error`); otherwise it
        is retried on the next tick, as osquery's buffered TLS logger does.
        """
        self.run_due_scheduled_queries()
        sent = 0
        for log_type, buffer in (("result", self.result_buffer), ("status", self.status_buffer)):
            if not buffer:
                continue
            key = await self.ensure_node_key()
            if key is None:
                break
            batch = list(islice(buffer, self.options.logger_tls_max_lines))
            body = _encode({"node_key": key, "log_type": log_type, "data": batch})
            if self.options.gzip_logs:
                body = gzip.compress(body, compresslevel=6)
            reply = await self.wire.post(Endpoint.LOG, body, gzipped=self.options.gzip_logs, lane=self.index)
            self._forget_key_if_invalid(reply)
            if not reply.ok:
                break
            for _ in range(len(batch)):
                buffer.popleft()
            sent += len(batch)
            self.stats.log_lines_sent[log_type] += len(batch)
        return sent

    # the three loops -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Enroll, one config + check-in right away, then the config, distributed and logger loops forever."""
        await self.ensure_node_key()
        await self._guard(self.fetch_config)
        await self._guard(self.check_in)
        async with asyncio.TaskGroup() as tg:
            self._carver_tasks = tg
            if self.pending_carves:  # asked for by the first check-in, before the loops began
                tg.create_task(self._guard(self.run_carves))
            tg.create_task(self._every(lambda: self.options.config_interval, self.fetch_config))
            tg.create_task(self._every(self.distributed_interval, self.check_in))
            tg.create_task(self._every(lambda: self.options.logger_tls_period, self.send_logs))

    async def _guard(self, step: Callable[[], Awaitable[object]]) -> None:
        try:
            await step()
        except Exception:
            # A simulator bug must not stop the other hosts; it shows in the report.
            self.stats.host_crashes += 1
            log.exception("simulated host %d: %s failed", self.index, getattr(step, "__name__", "step"))

    async def _every(self, interval: Callable[[], float], step: Callable[[], Awaitable[object]]) -> None:
        next_at = self._clock() + interval()
        while True:
            delay = next_at - self._clock()
            if delay > 0:
                await self._sleep(delay)
            began = self._clock()
            await self._guard(step)
            # Measured from the start of the step so slow responses don't stretch the period,
            # but never scheduled in the past (that would burst).
            next_at = max(began + interval(), self._clock())
