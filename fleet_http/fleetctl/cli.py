"""The ``fleetctl`` command: Fleet's command names and flags, over fleet_http.client.

Every command takes ``--config`` and ``--context``; every failure prints the server's message
(or the file, document and field of a local problem) on stderr and exits 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import os
import signal
import sys
import tarfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec
from rich.console import Console
from rich.table import Table

from fleet_http.client import AsyncFleetClient, FleetClientError, NotFound
from fleet_http.client.transport import VERSION
from fleet_http.fleetctl import settings, specs
from fleet_http.fleetctl.convert import convert_pack
from fleet_http.fleetctl.live import run_query

F = TypeVar("F", bound=Callable[..., Any])
stderr = Console(stderr=True)


class Failure(click.ClickException):
    """Printed as ``Error: ...`` on stderr; exit status 1."""


def context_options(command: F) -> F:
    command = click.option("--context", "context", default=None, envvar=None,
                           help="Context to use (default: $FLEETCTL_CONTEXT or 'default').")(command)
    command = click.option("--config", "config", default=None,
                           help="Path to the fleetctl config file (default: $FLEETCTL_CONFIG or "
                                "~/.config/fleetctl/config.yml).")(command)
    return command


def _client(config: str | None, context: str | None, *, need_token: bool = True) -> AsyncFleetClient:
    ctx = settings.load(settings.config_path(config), settings.context_name(context))
    if not ctx.address:
        raise Failure("no address configured: run `fleetctl config set --address https://fleet.example.com`")
    if need_token and not ctx.token:
        raise Failure("not logged in: run `fleetctl login` (or set FLEETCTL_TOKEN)")
    return AsyncFleetClient(ctx.address, ctx.token or None, verify=not ctx.tls_skip_verify,
                            ca_file=ctx.rootca or None)


# After Ctrl-C the command is cancelled and cleans up (a live query's stream is closed, which
# ends the campaign); if that takes longer than this, fleetctl exits anyway.
INTERRUPT_GRACE_SECONDS = 5.0


def _exit_interrupted() -> None:
    stderr.print("interrupted")
    sys.stderr.flush()
    os._exit(130)


def run(coro: Awaitable[Any]) -> Any:
    """Run one command's coroutine; the client's errors become a message and exit 1. Ctrl-C
    cancels it, and ends fleetctl (exit 130) at most INTERRUPT_GRACE_SECONDS later."""
    interrupted = threading.Event()

    async def main() -> Any:
        task = asyncio.current_task()
        assert task is not None

        def on_interrupt() -> None:
            if interrupted.is_set():
                _exit_interrupted()  # a second Ctrl-C: stop waiting for the clean-up
            interrupted.set()
            # A daemon timer, so it fires even if the clean-up or the interpreter's exit blocks.
            watchdog = threading.Timer(INTERRUPT_GRACE_SECONDS, _exit_interrupted)
            watchdog.daemon = True
            watchdog.start()
            task.cancel()

        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_interrupt)
        return await coro

    try:
        return asyncio.run(main())
    except FleetClientError as exc:
        raise Failure(str(exc)) from None
    except specs.SpecError as exc:
        raise Failure(str(exc)) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        if not interrupted.is_set() and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            raise
        # The command was cancelled first: a live query's stream is closed by now.
        stderr.print("interrupted")
        raise SystemExit(130) from None


def with_client(need_token: bool = True) -> Callable[[F], F]:
    """The command's coroutine gets an open client as its first argument."""

    def wrap(function: F) -> F:
        @functools.wraps(function)
        def command(config: str | None, context: str | None, **kwargs: Any) -> Any:
            fleet = _client(config, context, need_token=need_token)

            async def go() -> Any:
                async with fleet:
                    return await function(fleet, **kwargs)

            return run(go())

        return context_options(command)  # type: ignore[return-value]

    return wrap


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, prog_name="fleetctl")
def main() -> None:
    """fleetctl: manage a Fleet server (this one, or any speaking Fleet's API) from a terminal.

    \b
    Example:
      fleetctl config set --address https://fleet.example.com --rootca ca.pem
      fleetctl login --email admin@example.com
      fleetctl apply -f fleet.yml
    """


# ---- config, login, logout, setup -----------------------------------------------------------


@main.group("config")
def config_group() -> None:
    """Contexts: server address, TLS and token, in a mode-0600 file.

    \b
    Example:
      fleetctl config set --address https://localhost:8080 --tls-skip-verify --context local
      fleetctl config get --context local
    """


@config_group.command("set")
@click.option("--address", help="The server's URL, e.g. https://fleet.example.com.")
@click.option("--email", help="The email to log in with.")
@click.option("--token", help="An API token (instead of logging in).")
@click.option("--tls-skip-verify", is_flag=True, default=None, help="Do not verify the server's certificate.")
@click.option("--rootca", type=click.Path(exists=True, dir_okay=False), help="CA file to verify the server with.")
@context_options
def config_set(config: str | None, context: str | None, address: str | None, email: str | None,
               token: str | None, tls_skip_verify: bool | None, rootca: str | None) -> None:
    """Set keys of a context.

    \b
    Example:
      fleetctl config set --address https://fleet.example.com --rootca /etc/fleet/ca.pem
    """
    values = {"address": address, "email": email, "token": token, "tls-skip-verify": tls_skip_verify,
              "rootca": str(Path(rootca).resolve()) if rootca else None}
    if all(v is None for v in values.values()):
        raise click.UsageError("give at least one of --address, --email, --token, --tls-skip-verify, --rootca")
    path = settings.config_path(config)
    settings.set_keys(path, settings.context_name(context), values)
    for key, value in values.items():
        if value is not None:
            click.echo(f"[+] Set the {key} config key to {'(hidden)' if key == 'token' else value!r} "
                       f"in the {settings.context_name(context)!r} context")


@config_group.command("get")
@click.argument("key", required=False, type=click.Choice(settings.KEYS))
@context_options
def config_get(config: str | None, context: str | None, key: str | None) -> None:
    """Show a context's keys (the token is masked), or one key.

    \b
    Example:
      fleetctl config get address
    """
    name = settings.context_name(context)
    raw = settings.load_all(settings.config_path(config)).get(name, {})
    for k in (key,) if key else settings.KEYS:
        value = raw.get(k, "")
        if k == "token" and value:
            value = "(set)"
        click.echo(f"{k}: {value}")


@main.command()
@click.option("--email", help="Email to log in with (prompted when left out).")
@click.option("--password", help="Password (prompted, hidden, when left out).")
@context_options
def login(config: str | None, context: str | None, email: str | None, password: str | None) -> None:
    """Log in and keep the session token in the context.

    \b
    Example:
      fleetctl login --email admin@example.com
    """
    path, name = settings.config_path(config), settings.context_name(context)
    fleet = _client(config, context, need_token=False)
    email = email or click.prompt("Email", default=settings.load(path, name).email or None)
    password = password or click.prompt("Password", hide_input=True)

    async def go() -> str:
        async with fleet:
            return (await fleet.login(email, password)).token

    token = run(go())
    settings.set_keys(path, name, {"token": token, "email": email})
    click.echo(f"Fleet login successful and context {name!r} configured!")


@main.command()
@context_options
def logout(config: str | None, context: str | None) -> None:
    """End the session and forget its token.

    \b
    Example:
      fleetctl logout
    """
    fleet = _client(config, context)

    async def go() -> None:
        async with fleet:
            await fleet.logout()

    run(go())
    settings.set_keys(settings.config_path(config), settings.context_name(context), {"token": ""})
    click.echo("[+] Fleet logout successful and local token cleared!")


@main.command()
@click.option("--email", required=True, help="The first admin's email.")
@click.option("--name", default="Admin", show_default=True, help="The first admin's name.")
@click.option("--password", help="The first admin's password (prompted when left out).")
@click.option("--org-name", required=True, help="The organization's name.")
@click.option("--server-url", help="The URL agents and users reach the server at (default: the address).")
@context_options
def setup(config: str | None, context: str | None, email: str, name: str, password: str | None,
          org_name: str, server_url: str | None) -> None:
    """Set up a new server: its first admin and organization; logs in as that admin.

    \b
    Example:
      fleetctl setup --email admin@example.com --org-name Acme
    """
    path, ctx_name = settings.config_path(config), settings.context_name(context)
    fleet = _client(config, context, need_token=False)
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def go() -> str:
        async with fleet:
            return str((await fleet.setup(email=email, password=password, name=name, org_name=org_name,
                                          server_url=server_url)).token)

    token = run(go())
    settings.set_keys(path, ctx_name, {"token": token, "email": email})
    click.echo(f"[+] Fleet setup successful and context {ctx_name!r} configured!")


# ---- apply and delete -------------------------------------------------------------------------


def _read(files: tuple[str, ...]) -> list[specs.Doc]:
    docs: list[specs.Doc] = []
    for file in files:
        try:
            text = Path(file).read_text()
        except OSError as exc:
            raise Failure(f"{file}: {exc.strerror}") from None
        try:
            docs += specs.read_documents(text, file)
        except specs.SpecError as exc:
            raise Failure(str(exc)) from None
    if not docs:
        raise Failure("no documents to apply")
    return docs


@main.command()
@click.option("-f", "files", multiple=True, required=True, type=click.Path(),
              help="A YAML file of one or more documents (may repeat).")
@click.option("--dry-run", is_flag=True, help="Check everything, change nothing.")
@click.option("--force", is_flag=True, help="Apply agent options with keys the server does not know.")
@with_client()
async def apply(fleet: AsyncFleetClient, files: tuple[str, ...], dry_run: bool, force: bool) -> None:
    """Apply queries, packs, labels, teams, policies, enroll secrets, settings and user roles.

    Each document is checked before anything is sent, then compared with the server: what did
    not change is not sent. Labels and teams go before the packs, queries and policies naming them.

    \b
    Example:
      fleetctl apply -f fleet.yml --dry-run
      fleetctl apply -f fleet.yml
    """
    docs = _read(files)
    steps = await specs.plan(fleet, docs)
    await specs.apply(fleet, steps, dry_run=dry_run, force=force)
    verbs = {"create": "created", "update": "updated", "unchanged": "unchanged"}
    for step in sorted(steps, key=lambda s: (s.doc.file, s.doc.number)):
        verb = verbs[step.action] if not dry_run or step.action == "unchanged" else f"would be {verbs[step.action]}"
        click.echo(f"[{'+' if step.action != 'unchanged' else '='}] {step.doc.file} document {step.doc.number}: "
                   f"{step.doc.describe()} {verb}")
    changed = sum(1 for s in steps if s.action != "unchanged")
    click.echo(f"{'dry run: ' if dry_run else ''}{changed} changed, {len(steps) - changed} unchanged")


@main.command()
@click.option("-f", "files", multiple=True, required=True, type=click.Path(),
              help="A YAML file naming what to delete (may repeat).")
@with_client()
async def delete(fleet: AsyncFleetClient, files: tuple[str, ...]) -> None:
    """Delete the queries, packs, labels, teams and policies a YAML file names.

    \b
    Example:
      fleetctl delete -f fleet.yml
    """
    docs = _read(files)
    # The reverse of apply's order: packs go before the labels they target.
    order = {kind: i for i, kind in enumerate(reversed(specs.KINDS))}
    for doc in sorted(docs, key=lambda d: order[d.kind]):
        click.echo(f"[-] {doc.file} document {doc.number}: {doc.describe()} {await specs.delete(fleet, doc)}")


# ---- get ------------------------------------------------------------------------------------


def output_options(command: F) -> F:
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON (one document per line).")(command)
    command = click.option("--yaml", "as_yaml", is_flag=True, help="Print YAML that `fleetctl apply` takes.")(command)
    return command


def _print_docs(kind: str, found: list[dict[str, Any]], as_yaml: bool, as_json: bool,
                columns: tuple[str, ...], row: Callable[[dict[str, Any]], list[Any]]) -> None:
    docs = specs.as_documents(kind, found)
    if as_yaml:
        click.echo(specs.dump_yaml(docs), nl=False)
    elif as_json:
        for doc in docs:
            click.echo(json.dumps(doc))
    else:
        _table(columns, [row(s) for s in found])


def _table(columns: tuple[str, ...], rows: list[list[Any]]) -> None:
    table = Table(*columns)
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    Console().print(table)


@main.group()
def get() -> None:
    """Show what the server has: as a table, or --yaml / --json.

    \b
    Example:
      fleetctl get queries --yaml > queries.yml
      fleetctl get hosts --status online --label "Has Docker"
    """


def _spec_getter(kind: str, plural: str, columns: tuple[str, ...], row: Callable[[dict[str, Any]], list[Any]],
                 aliases: tuple[str, ...] = ()) -> None:
    @get.command(plural, help=f"Show {plural} (--yaml applies as it is).\n\n\b\nExample:\n  "
                              f"fleetctl get {plural} --yaml")
    @click.option("--name", default=None, help="Only the one with this name.")
    @click.option("--team", default=None, help="Only those of this team (queries and policies; '' for global ones).")
    @output_options
    @with_client()
    async def getter(fleet: AsyncFleetClient, name: str | None, team: str | None, as_yaml: bool,
                     as_json: bool) -> None:
        found = await specs.export(fleet, kind)
        if team is not None:
            if kind not in ("query", "policy"):
                raise click.UsageError(f"--team applies to queries and policies, not {plural}")
            found = [s for s in found if s["team"].casefold() == team.casefold()]
        if name is not None:
            found = [s for s in found if (s["team"]["name"] if kind == "team" else s["name"]) == name]
            if not found:
                raise Failure(f"no {kind} is named {name!r}")
        _print_docs(kind, found, as_yaml, as_json, columns, row)

    for alias in aliases:
        get.add_command(getter, alias)


_spec_getter("query", "queries", ("name", "team", "interval", "query"),
             lambda s: [s["name"], s["team"], s["interval"], s["query"]], ("query", "q"))
_spec_getter("pack", "packs", ("name", "description", "queries", "targets"),
             lambda s: [s["name"], s["description"], len(s["queries"]),
                        ", ".join(s["targets"]["labels"] + s["targets"]["teams"])], ("pack", "p"))
_spec_getter("label", "labels", ("name", "membership", "platform", "query"),
             lambda s: [s["name"], s["label_membership_type"], s["platform"], s["query"]], ("label", "l"))
_spec_getter("team", "teams", ("name", "secrets"),
             lambda s: [s["team"]["name"], len(s["team"].get("secrets", []))], ("team", "t"))
_spec_getter("policy", "policies", ("name", "team", "platform", "query"),
             lambda s: [s["name"], s["team"], s["platform"], s["query"]], ("policy",))


@get.command("enroll_secret")
@output_options
@with_client()
async def get_enroll_secret(fleet: AsyncFleetClient, as_yaml: bool, as_json: bool) -> None:
    """Show the global enroll secrets.

    \b
    Example:
      fleetctl get enroll_secret --yaml
    """
    found = await specs.export(fleet, "enroll_secret")
    _print_docs("enroll_secret", found, as_yaml, as_json, ("secret",),
                lambda s: ["\n".join(x["secret"] for x in s["secrets"])])


get.add_command(get_enroll_secret, "enroll_secrets")


@get.command("config")
@output_options
@with_client()
async def get_config(fleet: AsyncFleetClient, as_yaml: bool, as_json: bool) -> None:
    """Show the organization's settings (YAML by default).

    \b
    Example:
      fleetctl get config > settings.yml
    """
    found = await specs.export(fleet, "config")
    _print_docs("config", found, as_yaml or not as_json, as_json, (), lambda s: [])


@get.command("user_roles")
@output_options
@with_client()
async def get_user_roles(fleet: AsyncFleetClient, as_yaml: bool, as_json: bool) -> None:
    """Show each user's global role or team roles.

    \b
    Example:
      fleetctl get user_roles --yaml
    """
    found = await specs.export(fleet, "user_roles")
    rows = [[email, r["global_role"] or "", ", ".join(f"{t['team']}: {t['role']}" for t in r["teams"] or [])]
            for email, r in found[0]["roles"].items()]
    if as_yaml or as_json:
        _print_docs("user_roles", found, as_yaml, as_json, (), lambda s: [])
    else:
        _table(("email", "global role", "teams"), rows)


async def _team_id(fleet: AsyncFleetClient, name: str | None) -> int | None:
    if not name:
        return None
    async for team in fleet.teams():
        if team.name.casefold() == name.casefold():
            return team.id
    raise Failure(f"no team is named {name!r}")


async def _label_ids(fleet: AsyncFleetClient, names: list[str]) -> list[int]:
    by_name = {label.name: label.id async for label in fleet.labels()}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise Failure(f"no label is named {missing[0]!r}")
    return [by_name[n] for n in names]


def _emit(items: list[Any], as_yaml: bool, as_json: bool, columns: tuple[str, ...],
          row: Callable[[Any], list[Any]]) -> None:
    if as_json:
        for item in items:
            click.echo(json.dumps(msgspec.to_builtins(item)))
    elif as_yaml:
        click.echo(specs.dump_yaml([msgspec.to_builtins(i) for i in items]), nl=False)
    else:
        _table(columns, [row(i) for i in items])


@get.command("hosts")
@click.option("--team", help="Only the hosts of this team (name).")
@click.option("--label", help="Only the hosts in this label (name).")
@click.option("--status", type=click.Choice(["online", "offline", "new", "mia", "missing"]),
              help="Only hosts with this status.")
@click.option("--query", help="Only hosts whose hostname, UUID, serial or IP contains this.")
@output_options
@with_client()
async def get_hosts(fleet: AsyncFleetClient, team: str | None, label: str | None, status: str | None,
                    query: str | None, as_yaml: bool, as_json: bool) -> None:
    """List hosts, with the API's filters.

    \b
    Example:
      fleetctl get hosts --team Servers --status online --json
    """
    label_id = (await _label_ids(fleet, [label]))[0] if label else None
    hosts = [h async for h in fleet.hosts(team_id=await _team_id(fleet, team), label_id=label_id, status=status,
                                          query=query)]
    _emit(hosts, as_yaml, as_json, ("hostname", "status", "platform", "osquery", "team"),
          lambda h: [h.hostname, h.status, h.platform, h.osquery_version, h.team_name])


get.add_command(get_hosts, "host")


@get.command("software")
@click.option("--team", help="Only software on this team's hosts.")
@click.option("--query", help="Only software whose name, version or CVE contains this.")
@output_options
@with_client()
async def get_software(fleet: AsyncFleetClient, team: str | None, query: str | None, as_yaml: bool,
                       as_json: bool) -> None:
    """List the software installed on hosts.

    \b
    Example:
      fleetctl get software --query openssl
    """
    found = [s async for s in fleet.software(team_id=await _team_id(fleet, team), query=query)]
    _emit(found, as_yaml, as_json, ("name", "version", "source", "hosts", "vulnerabilities"),
          lambda s: [s.name, s.version, s.source, s.hosts_count, len(s.vulnerabilities or [])])


@get.command("carves")
@click.option("--expired", is_flag=True, help="Include expired carves.")
@output_options
@with_client()
async def get_carves(fleet: AsyncFleetClient, expired: bool, as_yaml: bool, as_json: bool) -> None:
    """List file carves.

    \b
    Example:
      fleetctl get carves
    """
    found = [c async for c in fleet.carves(expired=expired)]
    _emit(found, as_yaml, as_json, ("id", "created", "host", "name", "size", "blocks", "expired"),
          lambda c: [c.id, c.created_at, c.host_id, c.name, c.carve_size, f"{c.max_block + 1}/{c.block_count}",
                     c.expired])


@get.command("carve")
@click.argument("carve_id", type=int)
@click.option("--outfile", type=click.Path(dir_okay=False), help="Write the carved file (a tar) here.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Write the carved file to standard output.")
@output_options
@with_client()
async def get_carve(fleet: AsyncFleetClient, carve_id: int, outfile: str | None, to_stdout: bool, as_yaml: bool,
                    as_json: bool) -> None:
    """Show one carve, or download it (its blocks in order) with --outfile or --stdout.

    \b
    Example:
      fleetctl get carve 3 --outfile carve-3.tar
    """
    carve = await fleet.get_carve(carve_id)
    if not (outfile or to_stdout):
        _emit([carve], as_yaml, as_json or not as_yaml, (), lambda c: [])
        return
    if carve.expired:
        raise Failure(f"carve {carve_id} has expired: its blocks are gone")
    if carve.max_block + 1 < carve.block_count:
        raise Failure(f"carve {carve_id} is not complete: {carve.max_block + 1} of {carve.block_count} blocks")
    target = sys.stdout.buffer if to_stdout else await asyncio.to_thread(Path(outfile or "").open, "wb")
    written = 0
    try:
        async for block in fleet.download_carve(carve_id):
            target.write(block)
            written += len(block)
            if not to_stdout:
                stderr.print(f"block {written // max(carve.block_size, 1)}/{carve.block_count}", end="\r")
    finally:
        if not to_stdout:
            target.close()
    if not to_stdout:
        stderr.print(f"wrote {written} bytes to {outfile}")


# ---- hosts, users, trigger, debug ---------------------------------------------------------------


@main.group()
def hosts() -> None:
    """Host operations.

    \b
    Example:
      fleetctl hosts transfer --team Servers --hosts web-1,web-2
    """


@hosts.command("transfer")
@click.option("--team", required=True, help="The team to move hosts to ('' for no team).")
@click.option("--hosts", "hostnames", help="Comma-separated hostnames.")
@click.option("--label", help="Move every host in this label.")
@with_client()
async def hosts_transfer(fleet: AsyncFleetClient, team: str, hostnames: str | None, label: str | None) -> None:
    """Move hosts to a team, by hostname or by label.

    \b
    Example:
      fleetctl hosts transfer --team Servers --label "Has Docker"
    """
    if bool(hostnames) == bool(label):
        raise click.UsageError("give exactly one of --hosts and --label")
    team_id = await _team_id(fleet, team)
    if label:
        await fleet.transfer_hosts_by_label(team_id, (await _label_ids(fleet, [label]))[0])
    else:
        ids = await _host_ids(fleet, [h.strip() for h in (hostnames or "").split(",") if h.strip()])
        await fleet.transfer_hosts(team_id, ids)
    click.echo(f"[+] hosts moved to {team or 'no team'}")


async def _host_ids(fleet: AsyncFleetClient, names: list[str]) -> list[int]:
    ids = []
    for name in names:
        found = [h.id async for h in fleet.hosts(query=name) if name in (h.hostname, h.uuid, h.hardware_serial)]
        if not found:
            raise Failure(f"no host is named {name!r}")
        ids.append(found[0])
    return ids


@main.group()
def user() -> None:
    """User operations.

    \b
    Example:
      fleetctl user create --email bob@example.com --name Bob --global-role observer
    """


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--password", help="Prompted when left out (unless --sso).")
@click.option("--global-role", type=click.Choice(["admin", "maintainer", "observer"]),
              help="The global role (default observer unless --team is given).")
@click.option("--team", "team_roles", multiple=True, metavar="TEAM_ID:ROLE", help="A team role (may repeat).")
@click.option("--api-only", is_flag=True, help="A user for API access only.")
@click.option("--sso", is_flag=True, help="The user logs in with SSO.")
@with_client()
async def user_create(fleet: AsyncFleetClient, email: str, name: str, password: str | None, global_role: str | None,
                      team_roles: tuple[str, ...], api_only: bool, sso: bool) -> None:
    """Create a user.

    \b
    Example:
      fleetctl user create --email ann@example.com --name Ann --team 1:maintainer
    """
    teams = []
    for entry in team_roles:
        team_id, _, role = entry.partition(":")
        if not team_id.isdigit() or not role:
            raise click.BadParameter(f"{entry!r} is not TEAM_ID:ROLE", param_hint="--team")
        teams.append({"id": int(team_id), "role": role})
    if not sso and not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    fields: dict[str, Any] = {"email": email, "name": name, "password": password, "api_only": api_only,
                              "sso_enabled": sso}
    if teams:
        fields["teams"] = teams
    else:
        fields["global_role"] = global_role or "observer"
    created = await fleet.create_user(**fields)
    click.echo(f"[+] created user {created.email} (id {created.id})")


@main.command()
@click.option("--name", default="", help="The schedule to run (e.g. vulnerabilities, automations, "
                                         "cleanups_then_aggregation; empty: every schedule).")
@with_client()
async def trigger(fleet: AsyncFleetClient, name: str) -> None:
    """Run a server schedule now.

    \b
    Example:
      fleetctl trigger --name vulnerabilities
    """
    await fleet.trigger(name)
    click.echo(f"[+] triggered {name or 'every schedule'}")


@main.group()
def debug() -> None:
    """What the server's /debug endpoints expose (global admins).

    \b
    Example:
      fleetctl debug errors
      fleetctl debug archive
    """


def _debug_command(name: str, key: str, description: str) -> None:
    @debug.command(name, help=f"{description}\n\n\b\nExample:\n  fleetctl debug {name}")
    @with_client()
    async def command(fleet: AsyncFleetClient) -> None:
        click.echo((await fleet.debug(key)).decode(errors="replace"))


_debug_command("errors", "errors", "The errors the server kept (GET /debug/errors).")
_debug_command("migrations", "migrations", "The database migrations applied and missing.")
_debug_command("db-stats", "dbstats", "The database connection pool's counters.")
_debug_command("db-locks", "db/locks", "Locks held or awaited in the database.")
_debug_command("db-innodb-status", "db/innodb-status", "The database's activity counters (Fleet's name).")
_debug_command("db-process-list", "db/process-list", "Every database session and what it runs.")
_debug_command("db-long-transactions", "db/long-transactions", "Open transactions, oldest first.")
_debug_command("db-table-sizes", "db/table-sizes", "Each table's size, largest first.")
_debug_command("goroutine", "pprof/goroutine", "The stack of every task and thread (Go's name).")
_debug_command("heap", "pprof/heap", "Garbage collector counts and the most numerous objects.")
_debug_command("cmdline", "pprof/cmdline", "The server's command line, secrets redacted.")

# What `debug archive` collects, as Fleet's does (each one a file in the archive).
ARCHIVE_KEYS = ("errors", "migrations", "dbstats", "db/locks", "db/innodb-status", "db/process-list",
                "db/long-transactions", "db/table-sizes", "pprof/goroutine", "pprof/heap", "pprof/cmdline")


@debug.command("profile")
@click.option("--duration", type=click.IntRange(1, 60), default=30, show_default=True, help="Seconds to profile.")
@click.option("--outfile", type=click.Path(dir_okay=False), help="Write the profile here instead of stdout.")
@with_client()
async def debug_profile(fleet: AsyncFleetClient, duration: int, outfile: str | None) -> None:
    """A CPU profile of the server for --duration seconds.

    \b
    Example:
      fleetctl debug profile --duration 5
    """
    with stderr.status(f"profiling for {duration}s"):
        body = await fleet.debug("pprof/profile", seconds=duration)
    if outfile:
        await asyncio.to_thread(Path(outfile).write_bytes, body)
        click.echo(f"[+] wrote {outfile}")
    else:
        click.echo(body.decode(errors="replace"))


@debug.command("archive")
@click.option("--outfile", type=click.Path(dir_okay=False), help="Default: fleet-debug-<time>.tar.gz.")
@with_client()
async def debug_archive(fleet: AsyncFleetClient, outfile: str | None) -> None:
    """Save every diagnostic above (errors, migrations, database and process state) in one
    .tar.gz, to attach to a bug report.

    \b
    Example:
      fleetctl debug archive --outfile debug.tar.gz
    """
    path = outfile or time.strftime("fleet-debug-%Y%m%dT%H%M%S.tar.gz")
    with tarfile.open(path, "w:gz") as archive:
        for key in ARCHIVE_KEYS:
            try:
                body = await fleet.debug(key)
            except NotFound:
                continue
            info = tarfile.TarInfo(key.replace("/", "-") + (".txt" if key.startswith("pprof/") else ".json"))
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    click.echo(f"[+] wrote {path}")


# ---- query and convert ----------------------------------------------------------------------------


@main.command()
@click.option("--hosts", "hostnames", default="", help="Comma-separated hostnames to target.")
@click.option("--labels", default="", help="Comma-separated label names to target.")
@click.option("--teams", default="", help="Comma-separated team names to target.")
@click.option("--query", "sql", help="The SQL to run.")
@click.option("--query-name", help="Run this saved query instead.")
@click.option("--timeout", "timeout_seconds", type=float, default=0, help="Stop after this many seconds (0: no limit).")
@click.option("--exit", "exit_when_done", is_flag=True, help="Exit once every online host responded.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_client()
async def query(fleet: AsyncFleetClient, hostnames: str, labels: str, teams: str, sql: str | None,
                query_name: str | None, timeout_seconds: float, exit_when_done: bool, quiet: bool) -> None:
    """Run a live query: results as JSON lines on stdout, progress on stderr. Ctrl-C stops it.

    \b
    Example:
      fleetctl query --labels "All Hosts" --query "SELECT * FROM uptime;" --exit --timeout 60
    """
    if bool(sql) == bool(query_name):
        raise click.UsageError("give exactly one of --query and --query-name")
    split = [[x.strip() for x in value.split(",") if x.strip()] for value in (hostnames, labels, teams)]
    if not any(split):
        raise click.UsageError("give targets with --hosts, --labels or --teams")
    query_id = None
    if query_name:
        found = [q.id async for q in fleet.queries() if q.name == query_name]
        if not found:
            raise Failure(f"no saved query is named {query_name!r}")
        query_id = found[0]
    host_ids = await _host_ids(fleet, split[0])
    label_ids = await _label_ids(fleet, split[1])
    team_ids = [t for t in [await _team_id(fleet, n) for n in split[2]] if t is not None]
    summary = await run_query(fleet, sql=sql, query_id=query_id, host_ids=host_ids, label_ids=label_ids,
                              team_ids=team_ids, seconds=timeout_seconds or None, stop_when_finished=exit_when_done,
                              out=sys.stdout, err=stderr, quiet=quiet)
    stderr.print(summary.line(), highlight=False)


@main.command()
@click.option("-f", "file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="An osquery pack (JSON).")
def convert(file: str) -> None:
    """Turn an osquery pack into Fleet YAML (a pack and its queries) on stdout.

    \b
    Example:
      fleetctl convert -f osquery-packs/incident-response.conf > ir.yml
    """
    try:
        docs = convert_pack(Path(file).read_text(), file)
    except specs.SpecError as exc:
        raise Failure(str(exc)) from None
    click.echo(specs.dump_yaml(docs), nl=False)
