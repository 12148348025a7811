"""The `fleet` command (serve, prepare db, version): the composition root that mounts both APIs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit, urlunsplit

import msgspec
import structlog

from fleet_adapters.embedded import (
    BackendError,
    EmbeddedPostgres,
    EmbeddedRedis,
    die_with_parent,
    migrate,
    one_line,
)
from fleet_adapters.settings import (
    Settings,
    SettingsError,
    format_value,
    load_settings,
    options,
    server_url,
    tls_files,
)
from fleet_core import version
from fleet_http import logging as logs

# The parent process hands its resolved settings (including the embedded servers' URLs) to
# uvicorn's worker processes through this variable; it is not meant to be set by hand.
SETTINGS_ENV: Final = "_FLEET_SERVE_SETTINGS"
OSQUERY_PREFIXES: Final = ("/api/osquery/", "/api/v1/osquery/")
# Options that matter to `fleet prepare db`; `fleet serve` takes every setting.
PREPARE_OPTIONS: Final = ("data_dir", "database_url", "logging_json", "logging_debug")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Loose on purpose: Litestar types its __call__ with TypedDict unions of every ASGI event.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

log = structlog.get_logger("fleet.cli")


class CommandError(Exception):
    """The command cannot go on; str() is the one line printed on stderr."""


# --- the ASGI application every worker serves ----------------------------------------------------


class FleetASGI:
    """Both APIs on one port, as Fleet serves them; the services are opened once per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._management: ASGIApp | None = None
        self._osquery: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if self._management is None or self._osquery is None:
            raise RuntimeError("the server got a request before its lifespan started")
        path: str = scope.get("path", "")
        app = self._osquery if path.startswith(OSQUERY_PREFIXES) else self._management
        await app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Imported here so `fleet version` and `fleet prepare db` do not load Litestar and both apps.
        from fleet_adapters.bootstrap import open_services
        from fleet_http.app import create_app as create_management_app
        from fleet_osquery.app import create_app as create_osquery_app

        await receive()  # lifespan.startup
        started = False
        try:
            async with contextlib.AsyncExitStack() as stack:
                services = await stack.enter_async_context(open_services(self.settings))
                management = create_management_app(lambda: contextlib.nullcontext(services))
                osquery = create_osquery_app(lambda: contextlib.nullcontext(services))
                for app in (management, osquery):
                    await stack.enter_async_context(_forwarded_lifespan(app, scope))
                self._management, self._osquery = management, osquery
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except Exception as exc:
            if self.settings.logging_debug:
                log.exception("lifespan failed")
            kind = "shutdown" if started else "startup"
            await send({"type": f"lifespan.{kind}.failed", "message": one_line(exc)})
            return
        finally:
            self._management = self._osquery = None
        await send({"type": "lifespan.shutdown.complete"})


@contextlib.asynccontextmanager
async def _forwarded_lifespan(app: ASGIApp, scope: Scope) -> AsyncIterator[None]:
    """Run app's lifespan protocol for the length of the block, as a server would."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def run() -> None:
        await app(dict(scope), inbox.get, outbox.put)

    task = asyncio.create_task(run())

    async def exchange(kind: str) -> None:
        await inbox.put({"type": f"lifespan.{kind}"})
        reply = asyncio.ensure_future(outbox.get())
        await asyncio.wait({reply, task}, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            task.result()  # the app crashed without answering: raise its error
            raise RuntimeError(f"the application ended its lifespan during {kind}")
        message = reply.result()
        if message["type"] != f"lifespan.{kind}.complete":
            raise RuntimeError(message.get("message") or f"application {kind} failed")

    try:
        await exchange("startup")
        yield
        await exchange("shutdown")
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def asgi_app() -> FleetASGI:
    """uvicorn's app factory (``fleet_http.cli:asgi_app``), called once in every worker."""
    encoded = os.environ.get(SETTINGS_ENV)
    settings = load_settings({}) if encoded is None else msgspec.json.decode(encoded, type=Settings)
    if encoded is not None and settings.workers > 1:
        # A worker must not outlive a `fleet serve` that was killed outright: it would keep
        # the port and the database busy with nobody left to stop it.
        die_with_parent()
    configure_logging(settings)
    return FleetASGI(settings)


# --- logging -------------------------------------------------------------------------------------


def configure_logging(settings: Settings) -> None:
    logs.configure_logging(json=settings.logging_json, debug=settings.logging_debug)
    # pgserver narrates every pg_ctl call at INFO; its failures are reported by us.
    logging.getLogger("pgserver").setLevel(logging.DEBUG if settings.logging_debug else logging.WARNING)


# --- commands ------------------------------------------------------------------------------------


def _serve(settings: Settings) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    with contextlib.ExitStack() as stack, _quiet_unwinding():
        database_url, redis_url = settings.database_url, settings.redis_url
        if database_url is None:
            database_url = stack.enter_context(EmbeddedPostgres(settings.data_path)).url
        for name in asyncio.run(migrate(database_url)):
            log.info("applied migration", migration=name)
        if redis_url is None:
            redis_url = stack.enter_context(EmbeddedRedis(settings.data_path)).url
        settings = msgspec.structs.replace(settings, database_url=database_url, redis_url=redis_url)
        files = tls_files(settings)
        setup_required = asyncio.run(_check_backends(settings))

        os.environ[SETTINGS_ENV] = msgspec.json.encode(settings).decode()
        config = uvicorn.Config(
            "fleet_http.cli:asgi_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            ssl_certfile=None if files is None else str(files[0]),
            ssl_keyfile=None if files is None else str(files[1]),
            log_config=None,
            log_level=logging.DEBUG if settings.logging_debug else logging.INFO,
            # uvicorn logs raw paths, where invite tokens travel; our middleware logs route templates.
            access_log=False,
            server_header=False,
            # SIGTERM must end the process even while a client holds a request open.
            timeout_graceful_shutdown=30,
        )
        sock = config.bind_socket()
        _print_banner(settings, files, setup_required=setup_required)
        if settings.workers > 1:
            Multiprocess(config, sockets=[sock]).run()
            return 0
        server = uvicorn.Server(config)
        # uvicorn re-raises the SIGTERM/SIGINT it handled once it has shut down; our handler
        # turns that into KeyboardInterrupt, which lands here and lets the embedded servers stop.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
        return 0 if server.started else 1
    return 0


async def _check_backends(settings: Settings) -> bool:
    """Open the services once as a worker will, so a bad backend fails here with one line.

    Returns True while setup is still to be done.
    """
    from fleet_adapters.bootstrap import open_services

    try:
        async with open_services(settings) as services:
            health = await services.health.check()
            urls = {"postgres": settings.database_url, "redis": settings.redis_url}
            down = [f"{name} at {_redacted(urls.get(name))}" for name, ok in health.items() if not ok]
            if down:
                raise CommandError(f"cannot reach {' and '.join(down)}")
            return await services.setup.required()
    except CommandError:
        raise
    except Exception as exc:
        raise CommandError(f"cannot open the backends: {one_line(exc)}") from exc


def _prepare_db(settings: Settings) -> int:
    with contextlib.ExitStack() as stack, _quiet_unwinding():
        url = settings.database_url
        if url is None:
            url = stack.enter_context(EmbeddedPostgres(settings.data_path)).url
        applied = asyncio.run(migrate(url))
    for name in applied:
        print(f"applied {name}")
    print(f"database is up to date ({len(applied)} migrations applied)")
    return 0


def _version() -> int:
    print(f"fleet version {version.VERSION}")
    print(f"  branch: \t{version.BRANCH}")
    print(f"  revision: \t{version.REVISION}")
    print(f"  build date: \t{version.BUILD_DATE}")
    print(f"  build user: \t{version.BUILD_USER}")
    print(f"  python version: \t{platform.python_version()}")
    return 0


def _print_banner(
    settings: Settings, tls: tuple[Path, Path] | None, *, setup_required: bool
) -> None:
    url = server_url(settings)
    next_step = (
        "no users yet: POST /api/v1/setup (see docs/getting-started.md)"
        if setup_required
        else "log in with POST /api/v1/fleet/login"
    )
    lines = [f"Fleet is running at {url} — {next_step}"]
    if tls is not None and settings.server_cert is None:
        lines.append(f"Self-signed certificate (trust it in clients): {tls[0]}")
    print("\n".join(lines), flush=True)


# --- argument parsing and the entry point --------------------------------------------------------


def _add_setting_options(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    group = parser.add_argument_group("settings (each also read from its environment variable)")
    for option in options():
        if names is not None and option.name not in names:
            continue
        help_text = f"{option.help} [{option.env}, default {format_value(option.default)}]"
        if option.is_bool:
            group.add_argument(
                option.flag, dest=option.name, action=argparse.BooleanOptionalAction,
                default=None, help=help_text,
            )
        else:
            group.add_argument(option.flag, dest=option.name, default=None, metavar="VALUE", help=help_text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other startup error, instead of argparse's usage block.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fleet", description="An osquery fleet manager.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the management and osquery APIs")
    _add_setting_options(serve)
    prepare = commands.add_parser("prepare", help="prepare backing services")
    targets = prepare.add_subparsers(dest="target", required=True, metavar="TARGET")
    db = targets.add_parser("db", help="apply database migrations")
    _add_setting_options(db, PREPARE_OPTIONS)
    commands.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        return _version()
    overrides = {option.name: getattr(args, option.name, None) for option in options()}
    try:
        settings = load_settings(overrides)
    except SettingsError as exc:
        print(f"fleet: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    # libpq waits forever for an unresponsive host by default; workers inherit this too.
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")
    with _stop_signals_interrupt():
        try:
            return _serve(settings) if args.command == "serve" else _prepare_db(settings)
        except (CommandError, BackendError) as exc:
            print(f"fleet: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            # Stopping is how a server ends; an interrupted one-off command did not finish.
            return 0 if args.command == "serve" else 130
        except Exception as exc:
            if settings.logging_debug:
                log.exception("fleet failed")
            print(f"fleet: error: {one_line(exc)}", file=sys.stderr)
            return 1


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so a stop request always unwinds through the cleanup code."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _quiet_unwinding() -> Iterator[None]:
    """Ignore further stop signals once the block ends, while the enclosing stack shuts down.

    A second Ctrl-C must not cut the embedded servers' shutdown short and leave a half-stopped
    Postgres behind.
    """
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _redacted(url: str | None) -> str:
    parts = urlsplit(url or "")
    if parts.password is None:
        return url or "?"
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


if __name__ == "__main__":
    sys.exit(main())
