"""fleetctl's local side, no server: reading and checking Fleet's YAML, the round trip of what
``get --yaml`` writes, ``convert``, the contexts file and every command's help."""

from __future__ import annotations

import json
import re
import shlex
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from fleet_http.fleetctl import settings, specs
from fleet_http.fleetctl.cli import main
from fleet_http.fleetctl.convert import convert_pack

# Fleet's own configuration files (fleetdm/fleet, MIT): its standard query library, a team and
# the organization settings, as copied into shared/reference/fleet-yaml.
REFERENCE = Path(__file__).resolve().parent / "fleet-yaml"
DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "fleetctl.md"


def doc(kind: str, spec: str) -> str:
    return f"---\napiVersion: v1\nkind: {kind}\nspec:\n{spec}"


def error_of(text: str) -> str:
    with pytest.raises(specs.SpecError) as caught:
        specs.read_documents(text, "f.yml")
    return str(caught.value)


def test_each_problem_is_named_by_file_document_and_field() -> None:
    assert error_of("a: [1\n").startswith("f.yml: not valid YAML (line 2, column 1)")
    assert error_of("- 1\n") == "f.yml, document 1: a document must be a mapping with apiVersion, kind and spec"
    assert error_of("apiVersion: v2\nkind: query\nspec: {}\n") == "f.yml, document 1: apiVersion: must be v1, not 'v2'"
    assert "document 1: kind: must be one of config, enroll_secret" in error_of("apiVersion: v1\nkind: x\nspec: {}")
    assert error_of(doc("query", "  name: Q\n")) == "f.yml, document 1: spec.query: is required"
    assert error_of(doc("label", "  name: L\n") ) == "f.yml, document 1: spec.query: is required for a dynamic label"
    assert error_of(doc("query", "  name: Q\n  query: SELECT 1;\n") + doc("pack", "  name: P\n  queries:\n"
                    "    - query: Q\n      interval: 0\n")) == \
        "f.yml, document 2: spec.queries[0].interval: must be positive"
    assert error_of(doc("query", "  name: Q\n  query: SELECT 1;\n  interval: often\n")) == \
        "f.yml, document 1: spec.interval: must be an integer, not 'often'"
    assert error_of(doc("team", "  name: T\n")) == \
        "f.yml, document 1: spec.team: is required and must be a mapping with the team's name"
    assert error_of(doc("team", "  team:\n    name: T\n    secrets: [{secret: ''}]\n")) == \
        "f.yml, document 1: spec.team.secrets[0]: must be a mapping with a non-empty secret"
    assert error_of(doc("user_roles", "  roles:\n    a@example.com: {global_role: admin, teams: []}\n")) == \
        "f.yml, document 1: spec.roles.a@example.com: needs exactly one of global_role and teams"
    assert error_of(doc("query", "  name: Q\n  query: SELECT 1;\n") * 2) == \
        "f.yml, document 2: spec.name: query 'Q' is also document 1"
    assert error_of('{"apiVersion": "v1"\n') == "f.yml: not valid JSON on line 1: Expecting ',' delimiter"


def test_fleets_own_files_read_as_they_are() -> None:
    library = specs.read_documents((REFERENCE / "standard-query-library.yml").read_text(), "lib.yml")
    assert sum(d.kind == "query" for d in library) == 50 and sum(d.kind == "policy" for d in library) == 44
    # The library's extra keys (purpose, tags, ...) are not sent.
    assert all(set(d.spec) <= set(specs.QUERY_FIELDS) | set(specs.POLICY_FIELDS) for d in library)
    [team] = specs.read_documents((REFERENCE / "team.yml").read_text(), "team.yml")
    assert team.name == "Client Platform Engineerin"
    assert team.spec["team"]["secrets"] == [{"secret": "RzTlxPvugG4o4O5IKS/HqEDJUmI1hwBoffff"}]
    [config] = specs.read_documents((REFERENCE / "organization-settings.yml").read_text(), "org.yml")
    assert config.spec["org_info"]["org_name"] == "org"


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s)
query_specs = st.fixed_dictionaries({
    "name": names, "query": names, "description": st.text(max_size=30), "team": st.sampled_from(["", "Servers"]),
    "interval": st.integers(0, 2**31 - 1), "observer_can_run": st.booleans(),
    "platform": st.sampled_from(["", "darwin", "darwin,linux"]), "min_osquery_version": st.just(""),
    "automations_enabled": st.booleans(), "logging": st.sampled_from(["snapshot", "differential"]),
})


@given(st.lists(query_specs, max_size=4, unique_by=lambda s: (s["team"], s["name"])))
def test_what_get_yaml_writes_reads_back_to_the_same_specs(exported: list[dict[str, object]]) -> None:
    for dump in (specs.dump_yaml(specs.as_documents("query", exported)),
                 "".join(json.dumps(d) + "\n" for d in specs.as_documents("query", exported))):
        docs = specs.read_documents(dump, "out.yml") if exported else []
        assert [specs.normal(d) for d in docs] == exported


def test_convert_an_osquery_pack() -> None:
    pack = """{
      // osquery allows comments
      "platform": "linux",
      "queries": {
        "processes": {"query": "SELECT * FROM \\
processes;", "interval": "3600", "description": "All processes", "snapshot": true},
        "users": {"query": "SELECT * FROM users;", "interval": 60, "platform": "darwin", "removed": false}
      }
    }"""
    docs = convert_pack(pack, "packs/ir.conf")
    assert docs[0] == {"apiVersion": "v1", "kind": "pack", "spec": {"name": "ir", "description": "", "queries": [
        {"query": "processes", "name": "processes", "description": "All processes", "interval": 3600,
         "snapshot": True, "platform": "linux"},
        {"query": "users", "name": "users", "interval": 60, "platform": "darwin", "removed": False}]}}
    assert docs[1]["spec"] == {"name": "processes", "description": "All processes",
                               "query": "SELECT * FROM  processes;"}
    read = specs.read_documents(specs.dump_yaml(docs), "ir.yml")
    assert [d.kind for d in read] == ["pack", "query", "query"]
    with pytest.raises(specs.SpecError, match="needs a queries mapping"):
        convert_pack('{"queries": []}', "x.conf")


def test_contexts_file_is_private_and_the_environment_overrides_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (*settings.ENV.values(), "FLEETCTL_CONFIG", "FLEETCTL_CONTEXT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = settings.config_path(None)
    assert path == tmp_path / "xdg" / "fleetctl" / "config.yml"
    settings.set_keys(path, "prod", {"address": "https://fleet.example.com", "token": "t0k", "rootca": None})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.load(path, "prod") == settings.Context(address="https://fleet.example.com", token="t0k")
    assert settings.load(path, "other") == settings.Context()
    monkeypatch.setenv("FLEETCTL_TOKEN", "from-env")
    monkeypatch.setenv("FLEETCTL_TLS_SKIP_VERIFY", "true")
    monkeypatch.setenv("FLEETCTL_CONTEXT", "prod")
    loaded = settings.load(path, settings.context_name(None))
    assert (loaded.address, loaded.token, loaded.tls_skip_verify) == ("https://fleet.example.com", "from-env", True)
    assert settings.context_name("explicit") == "explicit"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_every_command_explains_itself_with_an_example() -> None:
    runner = CliRunner()
    commands = _commands(main)
    assert ("query",) in commands and ("get", "carve") in commands and ("hosts", "transfer") in commands
    for command in commands:
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Example:" in result.output and "fleetctl" in result.output, command
        if command and command[0] not in ("config", "convert", "get", "hosts", "user", "debug"):
            assert "--context" in result.output, command


def test_commands_without_an_address_or_a_login_say_what_to_do(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"FLEETCTL_CONFIG": str(tmp_path / "c.yml")}
    result = runner.invoke(main, ["get", "queries"], env=env)
    assert result.exit_code == 1 and "no address configured: run `fleetctl config set --address" in result.output
    assert runner.invoke(main, ["config", "set", "--address", "https://x.example"], env=env).exit_code == 0
    result = runner.invoke(main, ["get", "queries"], env=env)
    assert result.exit_code == 1 and "not logged in" in result.output
    result = runner.invoke(main, ["query", "--query", "SELECT 1;"], env={**env, "FLEETCTL_TOKEN": "t"})
    assert result.exit_code == 2 and "give targets with --hosts, --labels or --teams" in result.output


def test_convert_command_prints_yaml_that_apply_reads(tmp_path: Path) -> None:
    pack = tmp_path / "ssh.conf"
    pack.write_text('{"queries": {"keys": {"query": "SELECT * FROM authorized_keys;", "interval": 600}}}')
    result = CliRunner().invoke(main, ["convert", "-f", str(pack)])
    assert result.exit_code == 0, result.output
    docs = specs.read_documents(result.output, "converted.yml")
    assert [(d.kind, d.name) for d in docs] == [("pack", "ssh"), ("query", "keys")]
    assert docs[0].spec["queries"] == [{"query": "keys", "name": "keys", "interval": 600}]
    pack.write_text("{not json")
    result = CliRunner().invoke(main, ["convert", "-f", str(pack)])
    assert result.exit_code == 1 and "not an osquery pack (JSON)" in result.output


def _documented_command_lines() -> list[list[str]]:
    """Every `fleetctl ...` line of docs/fleetctl.md's shell blocks, as argv (without the
    program), continuation lines joined, comments, pipes and redirections left out; the
    `debug a | b | ...` line lists alternatives, and each becomes its own line."""
    text = DOCS_PAGE.read_text()
    lines: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if not line.startswith("fleetctl "):
                continue
            if line.startswith("fleetctl debug ") and " | " in line:
                lines += [["debug", alternative.strip()] for alternative in
                          line.removeprefix("fleetctl debug ").split("|")]
                continue
            words = shlex.split(line.split(" | ", 1)[0].split(" > ", 1)[0])
            lines.append(words[1:])
    return lines


def _parse(command: click.Command, args: list[str], parent: click.Context | None = None,
           name: str = "fleetctl") -> click.Context:
    context = command.make_context(name, list(args), parent=parent)
    if isinstance(command, click.Group):
        rest = [*getattr(context, "_protected_args", []), *context.args]
        sub_name, sub, sub_args = command.resolve_command(context, rest)
        assert sub is not None and sub_name is not None
        return _parse(sub, sub_args, context, sub_name)
    return context


def test_every_command_line_in_the_docs_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each documented command, its flags and their values as fleetctl reads them (run against
    a server, most of them, in tests/e2e/test_fleetctl_on_serve.py)."""
    documented = _documented_command_lines()
    assert len(documented) > 30
    monkeypatch.chdir(tmp_path)
    for args in documented:  # the files the examples read
        for arg in args:
            if arg.endswith((".yml", ".crt", ".conf")) and arg not in ("debug.tar.gz",):
                (tmp_path / arg).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / arg).touch()
    shown: set[str] = set()
    for args in documented:
        try:
            shown.add(_parse(main, args).command_path)
        except click.UsageError as exc:
            pytest.fail(f"docs/fleetctl.md: fleetctl {shlex.join(args)}: {exc.format_message()}")
    # The page shows every command at least once (by one of its names: get label is get labels).
    leaves: dict[int, set[str]] = {}
    for command in _commands(main):
        target: click.Command = main
        for name in command:
            assert isinstance(target, click.Group)
            target = target.commands[name]
        if command and not isinstance(target, click.Group):
            leaves.setdefault(id(target), set()).add("fleetctl " + " ".join(command))
    assert [sorted(names) for names in leaves.values() if not names & shown] == []
