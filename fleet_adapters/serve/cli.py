"""The `fleet` command: serve (both APIs on one port, embedded backends, TLS, workers), prepare db, version."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import resource
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click
import msgspec
import structlog

from fleet_adapters.embedded import (
    BackendError,
    EmbeddedPostgres,
    EmbeddedRedis,
    Supervisor,
    Watchdog,
    migrate,
    one_line,
)
from fleet_adapters.serve.asgi import SETTINGS_ENV
from fleet_adapters.serve.log_config import configure_logging
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

# How long a stopping server lets requests in flight finish before cancelling them. Short, so
# SIGTERM stops `fleet serve` within 2 s even with a backend down (requests then wait on it);
# a cancelled request rolls its transaction back and osquery retries what was not acknowledged.
GRACEFUL_SHUTDOWN_SECONDS: Final = 1
# How long an idle connection stays open. osqueryd keeps its TLS connection per plugin (config,
# distributed, logger) for --tls_session_timeout (3,600 s) and checks in every 10-60 s: uvicorn's
# default of 5 s closed every agent's connection between check-ins, so each request paid a new
# TCP connection and TLS handshake (make bench: +0.57 ms of server CPU per request, 2.4x).
KEEP_ALIVE_SECONDS: Final = 300

# Options that matter to `fleet prepare db`; `fleet serve` takes every setting.
# Under the data dir: prometheus_client's multiprocess files (see _prepare_metrics_dir).
METRICS_DIR_NAME: Final = "prometheus"
METRICS_DIR_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
PREPARE_OPTIONS: Final = ("data_dir", "database_url", "logging_json", "logging_debug")
# Options that matter to `fleet installers put`.
INSTALLER_OPTIONS: Final = ("data_dir", "installers_dir", "logging_json", "logging_debug", "s3_bucket", "s3_prefix",
                             "s3_region", "s3_endpoint_url", "s3_access_key_id", "s3_secret_access_key",
                             "s3_sts_assume_role_arn", "s3_sts_external_id", "s3_force_s3_path_style")

log = structlog.get_logger("fleet.cli")


class CommandError(Exception):
    """The command cannot go on; str() is the one line printed on stderr."""


# --- commands ------------------------------------------------------------------------------------


def _serve(settings: Settings) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    _prepare_metrics_dir(settings.data_path / METRICS_DIR_NAME, workers=settings.workers)
    with _signals_restored(), contextlib.ExitStack() as stack, _quiet_unwinding():
        database_url, redis_url = settings.database_url, settings.redis_url
        embedded: list[EmbeddedPostgres | EmbeddedRedis] = []
        watchdog: Watchdog | None = None
        if database_url is None or redis_url is None:
            # Entered first, so it leaves last: it is told goodbye once the servers are stopped.
            postgres = EmbeddedPostgres(settings.data_path)
            watchdog = stack.enter_context(Watchdog(postgres.pgdata if database_url is None else None))
        if database_url is None:
            database_url = stack.enter_context(postgres).url
            embedded.append(postgres)
        for name in asyncio.run(migrate(database_url)):
            log.info("applied migration", migration=name)
        if redis_url is None:
            redis = stack.enter_context(EmbeddedRedis(settings.data_path))
            redis_url = redis.url
            embedded.append(redis)
            if watchdog is not None:
                watchdog.watch_redis(redis.pid)
        if embedded:
            # Entered last, so it stops first: a server being stopped on purpose is not restarted.
            stack.enter_context(Supervisor(list(embedded), on_restart=_restarted(watchdog)))
        settings = msgspec.structs.replace(settings, database_url=database_url, redis_url=redis_url)
        files = tls_files(settings)
        setup_required = asyncio.run(_check_backends(settings))

        os.environ[SETTINGS_ENV] = msgspec.json.encode(settings).decode()
        config = uvicorn.Config(
            "fleet_adapters.serve.asgi:asgi_app",
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
            # SIGTERM must end the process promptly even while a client holds a request open, or
            # a request waits for a database that is down: unfinished requests are cancelled.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        _raise_open_files_limit()
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


def _prepare_metrics_dir(path: Path, *, workers: int) -> None:
    """Every server process writes its metric values to files here (prometheus_client's
    multiprocess mode) and a scrape adds them up. Emptied at start: values of a previous run
    must not count. Set before prometheus_client is first imported, which is when it reads it."""
    if "prometheus_client" in sys.modules and os.environ.get(METRICS_DIR_ENV) != str(path):
        # Only when `fleet serve` runs inside a process that already loaded it (a test): one
        # process keeps its values in memory, which is right; several could not add up.
        if workers > 1:
            raise CommandError("prometheus_client was imported before its multiprocess directory was set")
        return
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[METRICS_DIR_ENV] = str(path)


def _restarted(watchdog: Watchdog | None) -> Callable[[object], None]:
    """What to do after the supervisor restarted an embedded server: keep the watchdog's pid current."""

    def restarted(server: object) -> None:
        if watchdog is not None and isinstance(server, EmbeddedRedis):
            watchdog.watch_redis(server.pid)

    return restarted


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
    with _signals_restored(), contextlib.ExitStack() as stack, _quiet_unwinding():
        url = settings.database_url
        if url is None:
            url = stack.enter_context(EmbeddedPostgres(settings.data_path)).url
        applied = asyncio.run(migrate(url))
    for name in applied:
        print(f"applied {name}")
    print(f"database is up to date ({len(applied)} migrations applied)")
    return 0


def _put_installer(settings: Settings, *, file: str, kind: str, desktop: bool, enroll_secret: str | None) -> int:
    """Place a pre-built installer where POST /download_installer/{kind} finds it."""
    import anyio

    from fleet_adapters.bootstrap import open_installer_store
    from fleet_adapters.installers import CHUNK_BYTES
    from fleet_core.errors import FleetError
    from fleet_core.model.installers import InstallerKey
    from fleet_core.services.installers import InstallerService, installer_key

    path = Path(file)
    if not path.is_file():
        print(f"fleet: error: no such file {file!r}", file=sys.stderr)
        return 1
    secret = enroll_secret or os.environ.get("FLEET_INSTALLER_ENROLL_SECRET", "")
    if not secret:
        print("fleet: error: --enroll-secret (or FLEET_INSTALLER_ENROLL_SECRET) is required", file=sys.stderr)
        return 2

    async def chunks() -> AsyncIterator[bytes]:
        async with await anyio.open_file(path, "rb") as source:
            while chunk := await source.read(CHUNK_BYTES):
                yield chunk

    async def put(key: InstallerKey) -> tuple[int, str]:
        async with open_installer_store(settings) as (store, where):
            return await InstallerService(store=store).put(key, chunks()), where

    try:
        key = installer_key(kind, secret, desktop)
        size, where = asyncio.run(put(key))
    except FleetError as exc:
        print(f"fleet: error: {exc}", file=sys.stderr)
        return 1
    print(f"stored {key.file_name} ({size} bytes) in {where}")
    return 0


def _version() -> int:
    print(f"fleet version {version.VERSION}")
    print(f"  branch: \t{version.BRANCH}")
    print(f"  revision: \t{version.REVISION}")
    print(f"  build date: \t{version.BUILD_DATE}")
    print(f"  build user: \t{version.BUILD_USER}")
    print(f"  python version: \t{platform.python_version()}")
    return 0


def _raise_open_files_limit() -> None:
    """Raise the soft limit on open files to the hard one, as Go does for Fleet: every agent keeps
    up to three connections open (see KEEP_ALIVE_SECONDS), so 10,000 hosts on one process need
    more descriptors than the usual soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _print_banner(
    settings: Settings, tls: tuple[Path, Path] | None, *, setup_required: bool
) -> None:
    url = server_url(settings)
    next_step = (
        f"no users yet: POST /api/v1/setup (see docs/getting-started.md) or open {url}/ in a browser"
        if setup_required
        else f"sign in at {url}/ or with POST /api/v1/fleet/login"
    )
    lines = [f"Fleet is running at {url} — {next_step}"]
    if tls is not None and settings.server_cert is None:
        lines.append(f"Self-signed certificate (trust it in clients): {tls[0]}")
    print("\n".join(lines), flush=True)


# --- the command line (click) and the entry point -----------------------------------------------

# argparse's habits, kept: -h as well as --help; help wide enough that no variable name is cut.
F = TypeVar("F", bound=Callable[..., Any])
CONTEXT: Final = {"help_option_names": ["-h", "--help"], "terminal_width": 120, "max_content_width": 120}
SETTINGS_EPILOG: Final = ("Every setting is also read from its environment variable (in brackets); a flag given "
                          "wins over it.")


def setting_options(names: Sequence[str] | None = None) -> Callable[[F], F]:
    """One click option per Settings field (or per field named), generated from the settings
    model so the flags, their environment variables and help cannot drift: ``--flag VALUE``
    (parsed later by load_settings, which also reads the environment), booleans as
    ``--flag/--no-flag``; None when not given, so the environment and the default apply."""

    def add(command: F) -> F:
        # click applies decorators bottom-up and lists a command's options in reverse of that.
        for option in reversed(list(options())):
            if names is not None and option.name not in names:
                continue
            help_text = f"{option.help} [{option.env}, default {format_value(option.default)}]"
            if option.is_bool:
                negative = "--no-" + option.flag.removeprefix("--")
                command = click.option(f"{option.flag}/{negative}", option.name, default=None, help=help_text)(command)
            else:
                command = click.option(option.flag, option.name, default=None, metavar="VALUE", help=help_text)(command)
        return command

    return add


class _Choice(click.Choice[str]):
    """click.Choice with argparse's wording ("invalid choice: 'exe' (choose from ...)")."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value in self.choices:
            return str(value)
        choices = ", ".join(repr(c) for c in self.choices)
        self.fail(f"invalid choice: {value!r} (choose from {choices})", param, ctx)


def _settings(given: dict[str, object]) -> Settings:
    """The settings of a command: its flags (None: not given) over the environment."""
    overrides = {option.name: given.get(option.name) for option in options()}
    try:
        return load_settings(overrides)
    except SettingsError as exc:
        raise CommandExit(f"fleet: error: {exc}", 2) from None


class CommandExit(Exception):
    """Leave with this line on stderr and this exit code."""

    def __init__(self, line: str, code: int) -> None:
        super().__init__(line)
        self.code = code


def _start(settings: Settings) -> None:
    configure_logging(settings)
    # libpq waits forever for an unresponsive host by default; workers inherit this too.
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")


@click.group(context_settings=CONTEXT, no_args_is_help=False, help="An osquery fleet manager.",
             epilog="Example: fleet serve --server-address 0.0.0.0:8080 --data-dir /var/lib/fleet")
def fleet_command() -> None:
    pass


@fleet_command.command("serve", context_settings=CONTEXT, epilog=SETTINGS_EPILOG + "\n\n"
                       "Example: FLEET_DATABASE_URL=postgresql://fleet@db/fleet fleet serve --workers 4")
@setting_options()
def serve_command(**given: object) -> int:
    """Run the management and osquery APIs."""
    settings = _settings(given)
    _start(settings)
    _exit_at_once(_run("serve", settings))


@fleet_command.group("prepare", context_settings=CONTEXT, no_args_is_help=False,
                     epilog="Example: fleet prepare db --database-url postgresql://fleet@db/fleet")
def prepare_command() -> None:
    """Prepare backing services."""


@prepare_command.command("db", context_settings=CONTEXT,
                         epilog="Example: fleet prepare db --data-dir /var/lib/fleet")
@setting_options(PREPARE_OPTIONS)
def prepare_db_command(**given: object) -> int:
    """Apply database migrations."""
    settings = _settings(given)
    _start(settings)
    return _run("prepare", settings)


@fleet_command.command("version", context_settings=CONTEXT, epilog="Example: fleet version")
def version_command() -> int:
    """Print the version."""
    return _version()


@fleet_command.group("installers", context_settings=CONTEXT, no_args_is_help=False,
                     epilog="Example: fleet installers put --kind pkg --enroll-secret S fleet-osquery.pkg")
def installers_command() -> None:
    """Manage downloadable installers."""


@installers_command.command("put", context_settings=CONTEXT,
                            epilog="Example: FLEET_INSTALLER_ENROLL_SECRET=S fleet installers put --kind deb "
                                   "--desktop fleet-osquery_amd64.deb")
@click.option("--enroll-secret", default=None, metavar="SECRET",
              help="the enroll secret built into it [FLEET_INSTALLER_ENROLL_SECRET]")
@click.option("--kind", required=True, type=_Choice(["pkg", "msi", "deb", "rpm"]), help="the package kind")
@click.option("--desktop", is_flag=True, default=False, help="it includes Fleet Desktop")
@click.argument("file", metavar="FILE")
@setting_options(INSTALLER_OPTIONS)
def installers_put_command(enroll_secret: str | None, kind: str, desktop: bool, file: str,
                           **given: object) -> int:
    """Store a pre-built installer for POST /download_installer (FILE: the installer file)."""
    settings = _settings(given)
    _start(settings)
    return _put_installer(settings, file=file, kind=kind, desktop=desktop, enroll_secret=enroll_secret)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = fleet_command.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="fleet",
                                    standalone_mode=False)
    except click.UsageError as exc:
        # One line, like every other startup error, instead of click's usage block.
        path = exc.ctx.command_path if exc.ctx is not None else "fleet"
        print(f"{path}: error: {exc.format_message()} (see {path} --help)", file=sys.stderr)
        return 2
    except click.ClickException as exc:
        print(f"fleet: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except click.exceptions.Exit as exc:  # --help
        return exc.exit_code
    except click.Abort:
        return 130
    except CommandExit as exc:
        print(exc, file=sys.stderr)
        return exc.code
    return result if isinstance(result, int) else 0


def _exit_at_once(code: int) -> NoReturn:
    """End a stopped server without tearing the interpreter down.

    Everything it opened is closed by now; unloading Litestar, uvicorn and the rest module by
    module would add over half a second to every stop, and a stop must take under two.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run(command: str, settings: Settings) -> int:
    with _stop_signals_interrupt():
        try:
            return _serve(settings) if command == "serve" else _prepare_db(settings)
        except (CommandError, BackendError) as exc:
            print(f"fleet: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            # Stopping is how a server ends; an interrupted one-off command did not finish.
            return 0 if command == "serve" else 130
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
def _signals_restored() -> Iterator[None]:
    """Put back the Ctrl-C and SIGTERM handlers found on entry, once everything inside is stopped.

    Entered outside the stack that _quiet_unwinding protects: a process that runs a command in
    process (tests, a supervisor in Python) must not be left ignoring Ctrl-C, nor pass that on to
    every program it starts (an ignored signal stays ignored across exec).
    """
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


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
