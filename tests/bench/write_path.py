"""distributed/write in one process over a real Postgres: server CPU and statements per write.

The detail refresh wave (docs/performance.md, "Detail refresh wave on 10,000 hosts") costs the
server CPU and Postgres round trips per write; this measures them without the noise of a shared
machine. It starts an embedded Postgres (pgserver, fsync off as in the tests), builds the real
services over the Postgres adapter (PgUnitOfWork, the pool with its checkout check) and drives the
real osquery Litestar app directly (no sockets). Hosts are the simulator's templates (macOS,
Ubuntu, RHEL, Windows) answering with fleet_osquery.sim's answerer: software, users, emails,
batteries, MDM... plus 5 dynamic labels and 5 policies besides the built-in labels.

Each host enrolls and answers its first batch (everything new). Then each round makes every
host's details, labels and policies due (as the wave does), reads its queries, and the writes are
timed: the process's CPU (time.process_time) and the statements Postgres logged for the write
request (log_statement=all on the bench's connections only). The reads that follow each write are
measured apart: one in the writing process, and one as another process makes it (the write
announced the host, so there it is a node-key miss: 2.24 misses per write in the 10,000-host wave
with two processes, before the writing process kept the host it wrote).

    .venv/bin/python tests/bench/write_path.py --hosts 200 --rounds 3
    .venv/bin/python tests/bench/write_path.py --hosts 200 --rounds 2 --profile   # pyinstrument's table
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import re
import shutil
import statistics
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import argon2
import msgspec
import psycopg
from psycopg.conninfo import make_conninfo

from fleet_adapters.clock import SystemClock
from fleet_adapters.memory import AlwaysHealthy
from fleet_adapters.memory.invalidation import InMemoryInvalidationBus
from fleet_adapters.memory.logs import RecordingLogDestination
from fleet_adapters.memory.mail import RecordingMailer
from fleet_adapters.memory.rate_limit import InMemoryRateLimiter
from fleet_adapters.memory.schedule_lock import InMemoryScheduleLock
from fleet_adapters.postgres.migrate import apply_migrations
from fleet_adapters.postgres.pool import open_pool
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_adapters.security.argon2 import Argon2PasswordHasher
from fleet_adapters.security.tokens import SecretsTokenGenerator
from fleet_adapters.serve.asgi import _forwarded_lifespan
from fleet_adapters.serve.log_config import configure_logging
from fleet_adapters.settings import load_settings
from fleet_core.model.runtime import ServerRuntime
from fleet_core.services import make_services
from fleet_core.services.setup import SetupInput
from fleet_osquery.app import create_app
from fleet_osquery.sim.answers import AnswerRules, HostAnswerer
from fleet_osquery.sim.templates import TEMPLATES, make_identity

Message = MutableMapping[str, Any]
App = Callable[[Any, Any, Any], Awaitable[None]]
SECRET = "bench-enroll-secret"
PASSWORD = "bench-horse-battery-9!"
LIFESPAN = {"type": "lifespan", "asgi": {"version": "3.0"}}
LABEL_QUERY = "SELECT 1 FROM os_version;"
POLICY_QUERY = "SELECT 1 FROM osquery_info;"
SEED = 16
# One statement in Postgres's log: "... LOG:  statement: BEGIN" or "... LOG:  execute <unnamed>: SELECT ...".
_LOGGED = re.compile(r" LOG:  (?:statement|execute [^:]*): ?(.*)$")


async def request(app: App, path: str, body: bytes) -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"fleet.test"), (b"user-agent", b"osquery/5.12.1"),
                         (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080)}
    delivered = False
    status, chunks = 0, []

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


class StatementLog:
    """The statements Postgres logged since the last `take`, from the server's log file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def skip(self) -> None:
        self.offset = self.path.stat().st_size

    def take(self) -> list[str]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        # Only whole lines; a line still being written is read next time.
        end = data.rfind(b"\n") + 1
        self.offset += end
        out: list[str] = []
        current: list[str] | None = None
        for line in [*data[:end].decode(errors="replace").splitlines(), ""]:
            if line.startswith("\t") and current is not None:
                # A statement's next lines (the SQL spans several) start with a tab.
                current.append(line)
                continue
            if current is not None:
                out.append(" ".join(" ".join(current).split())[:100] or "(empty query)")
                current = None
            m = _LOGGED.search(line)
            if m is not None:
                current = [m[1]]
        return out


def start_postgres(root: Path) -> tuple[Any, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server
    server = get_server(root / "pgdata", cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("CREATE DATABASE fleet_write_bench")
    return server, make_conninfo(server.get_uri(), dbname="fleet_write_bench")


class Host:
    def __init__(self, index: int) -> None:
        template = list(TEMPLATES.values())[index % len(TEMPLATES)]
        self.identity = make_identity(SEED, index, template)
        self.template = template
        self.answerer = HostAnswerer(template, self.identity, AnswerRules(label_match_prob=0.5), SEED,
                                     rng=random.Random(index), started_at=time.time() - 86400)
        self.node_key = ""

    def write_body(self, queries: dict[str, str], discovery: dict[str, str]) -> bytes:
        answers = self.answerer.run_batch(queries, discovery)
        return msgspec.json.encode({
            "node_key": self.node_key,
            "queries": {name: a.rows for name, a in answers.items()},
            "statuses": {name: a.status for name, a in answers.items()},
            "messages": {name: a.message for name, a in answers.items() if a.message},
        })


async def read(app: App, host: Host) -> dict[str, Any]:
    status, body = await request(app, "/api/osquery/distributed/read",
                                 msgspec.json.encode({"node_key": host.node_key}))
    assert status == 200, body
    answer: dict[str, Any] = msgspec.json.decode(body)
    return answer


async def run(hosts: int, rounds: int, profile: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix="fleet-write-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    server, conninfo = start_postgres(root)
    try:
        await apply_migrations(conninfo)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for i in range(5):
                conn.execute("""INSERT INTO labels (name, description, query, platform, label_type,
                                                    label_membership_type, created_at, updated_at)
                                VALUES (%s, '', %s, '', 'regular', 'dynamic', now() - interval '1 day',
                                        now() - interval '1 day')""", (f"bench label {i}", LABEL_QUERY))
                conn.execute("""INSERT INTO policies (name, query, description, resolution, platforms, critical,
                                                      created_at, updated_at)
                                VALUES (%s, %s, '', '', '', false, now() - interval '1 day',
                                        now() - interval '1 day')""", (f"bench policy {i}", POLICY_QUERY))
        log = StatementLog(root / "pgdata" / "log")
        # Only the bench's own connections log their statements.
        pool = await open_pool(make_conninfo(conninfo, options="-c log_statement=all"), min_size=2, max_size=4)
        clock = SystemClock()
        logs = RecordingLogDestination()
        services = make_services(
            uow=lambda: PgUnitOfWork(pool),
            hasher=Argon2PasswordHasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)),
            tokens=SecretsTokenGenerator(), clock=clock, mailer=RecordingMailer(),
            rate_limiter=InMemoryRateLimiter(clock), health=AlwaysHealthy(), runtime=ServerRuntime(),
            bus=InMemoryInvalidationBus(), logs={"result": logs, "status": logs}, schedule_lock=InMemoryScheduleLock())
        setup = await services.setup.setup(SetupInput(
            name="Bench", email="bench@example.com", password=PASSWORD, password_confirmation=PASSWORD,
            org_name="Bench", server_url="https://fleet.test"))
        await services.config.replace_enroll_secrets(await services.auth.authenticate(setup.token), [SECRET])
        app = create_app(lambda: contextlib.nullcontext(services))
        fleet = [Host(i) for i in range(1, hosts + 1)]
        async with _forwarded_lifespan(app, LIFESPAN):
            for host in fleet:
                status, body = await request(app, "/api/osquery/enroll", msgspec.json.encode({
                    "enroll_secret": SECRET, "host_identifier": host.identity.host_identifier,
                    "host_details": host.template.host_details(host.identity)}))
                assert status == 200, body
                host.node_key = msgspec.json.decode(body)["node_key"]
                queries = await read(app, host)
                status, body = await request(app, "/api/osquery/distributed/write",
                                             host.write_body(queries["queries"], queries.get("discovery", {})))
                assert status == 200, body
            results = []
            profiler = None
            for round_no in range(1, rounds + 1):
                # Every host's details, labels and policies due, as in the wave.
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute("""UPDATE hosts SET detail_updated_at = now() - interval '2 hours',
                                        label_updated_at = now() - interval '2 hours',
                                        policy_updated_at = now() - interval '2 hours'""")
                services.agents.cache.invalidate([])
                bodies = []
                for host in fleet:
                    queries = await read(app, host)
                    assert queries["queries"], "nothing due"
                    bodies.append(host.write_body(queries["queries"], queries.get("discovery", {})))
                gc.collect()
                if profile and round_no == rounds:
                    from pyinstrument import Profiler
                    profiler = Profiler(interval=0.0001, async_mode="disabled")
                    profiler.start()
                log.skip()
                write_cpu = lookup_cpu = own_cpu = 0.0
                write_statements: Counter[str] = Counter()
                own_statements: Counter[str] = Counter()
                lookup_statements: Counter[str] = Counter()
                for host, body in zip(fleet, bodies, strict=True):
                    started = time.process_time()
                    status, answer = await request(app, "/api/osquery/distributed/write", body)
                    write_cpu += time.process_time() - started
                    assert status == 200, answer
                    write_statements.update(log.take())
                    # This process keeps the host it wrote; the next read here is a cache hit.
                    started = time.process_time()
                    await read(app, host)
                    own_cpu += time.process_time() - started
                    own_statements.update(log.take())
                    # Every other process dropped it on the announcement: its next read is a miss.
                    services.agents.cache.forget_key(services.agents.tokens.digest(host.node_key))
                    started = time.process_time()
                    await read(app, host)
                    lookup_cpu += time.process_time() - started
                    lookup_statements.update(log.take())
                if profiler is not None:
                    profiler.stop()
                n = len(fleet)
                results.append((write_cpu / n * 1e3, write_statements.total() / n,
                                lookup_cpu / n * 1e3, lookup_statements.total() / n,
                                own_cpu / n * 1e3, own_statements.total() / n))
                print(f"round {round_no}: write {write_cpu / n * 1e3:.2f} ms CPU, "
                      f"{write_statements.total() / n:.2f} statements; the next read in the writing process "
                      f"{own_cpu / n * 1e3:.2f} ms CPU, {own_statements.total() / n:.2f} statements; "
                      f"in another process {lookup_cpu / n * 1e3:.2f} ms CPU, "
                      f"{lookup_statements.total() / n:.2f} statements")
            print(f"\n{hosts} hosts, {rounds} rounds (median): distributed/write "
                  f"{statistics.median(r[0] for r in results):.2f} ms CPU and "
                  f"{statistics.median(r[1] for r in results):.2f} statements per write; the next read in "
                  f"the writing process {statistics.median(r[4] for r in results):.2f} ms CPU and "
                  f"{statistics.median(r[5] for r in results):.2f} statements; in another process (a node-key "
                  f"miss) {statistics.median(r[2] for r in results):.2f} ms CPU and "
                  f"{statistics.median(r[3] for r in results):.2f} statements")
            print("\nstatements per write (last round):")
            for text, count in write_statements.most_common():
                print(f"  {count / n:6.2f}  {text}")
            print("statements of a read in another process after a write (last round):")
            for text, count in lookup_statements.most_common():
                print(f"  {count / n:6.2f}  {text}")
            if profiler is not None:
                print(profiler.output_text(unicode=False, color=False, show_all=False, flat=True)[:8000])
        await pool.close()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="pyinstrument's flat table of the last round")
    args = parser.parse_args()
    # As `fleet serve` logs (INFO): the debug lines would be CPU the server does not spend.
    configure_logging(load_settings({}))
    asyncio.run(run(args.hosts, args.rounds, args.profile))


if __name__ == "__main__":
    main()
