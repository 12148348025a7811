"""The `fleet` command on click: every setting is a flag generated from the settings model (with
its environment variable in the help), booleans take --no-, values reach load_settings, and
errors are one line with argparse's exit codes (2 for usage, 0 for --help)."""

from __future__ import annotations

import contextlib
import signal
from typing import NoReturn

import pytest

from fleet_adapters.serve import cli
from fleet_adapters.settings import Settings, options


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli.main([*args, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())  # the help wraps lines; compare words


def test_serve_help_lists_every_setting_with_its_env_var_and_default(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "serve")
    missing = [option.flag for option in options() if option.flag not in text or option.env not in text]
    assert missing == []
    assert "--server-tls / --no-server-tls" in text
    assert "Example: " in text
    assert len(list(options())) > 100


@pytest.mark.parametrize(("command", "names"), [
    (("prepare", "db"), cli.PREPARE_OPTIONS), (("installers", "put"), cli.INSTALLER_OPTIONS),
])
def test_the_one_off_commands_take_only_their_settings(capsys: pytest.CaptureFixture[str], command: tuple[str, ...],
                                                       names: tuple[str, ...]) -> None:
    text = _help(capsys, *command)
    for option in options():
        assert (f"{option.flag} " in text) == (option.name in names), option.flag


@pytest.mark.parametrize("command", [(), ("prepare",), ("installers",), ("version",), ("installers", "put")])
def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str], command: tuple[str, ...]) -> None:
    text = _help(capsys, *command)
    assert "fleet " in text.partition("Example: ")[2]


def test_flags_and_environment_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, Settings]] = []

    def run(command: str, settings: Settings) -> int:
        seen.append((command, settings))
        return 0

    def exit_at_once(code: int) -> NoReturn:
        raise SystemExit(code)

    monkeypatch.setattr(cli, "_run", run)
    monkeypatch.setattr(cli, "_exit_at_once", exit_at_once)
    monkeypatch.setattr(cli, "configure_logging", lambda settings: None)
    monkeypatch.setenv("FLEET_WORKERS", "3")
    monkeypatch.setenv("FLEET_LOGGING_JSON", "true")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", "--no-server-tls", "--session-duration", "2h", "--no-logging-json",
                  "--firehose-sts-external-id=ext"])
    assert stopped.value.code == 0
    command, settings = seen[0]
    assert command == "serve"
    assert (settings.server_tls, settings.workers, settings.logging_json) == (False, 3, False)
    assert settings.session_duration.total_seconds() == 7200 and settings.firehose_sts_external_id == "ext"
    assert cli.main(["prepare", "db", "--database-url", "postgresql://db/fleet"]) == 0
    assert seen[1][0] == "prepare" and seen[1][1].database_url == "postgresql://db/fleet"


@pytest.mark.parametrize(("args", "code", "line"), [
    ([], 2, "fleet: error: Missing command. (see fleet --help)"),
    (["prepare"], 2, "fleet prepare: error: Missing command. (see fleet prepare --help)"),
    (["serve", "--no-such-option"], 2, "fleet serve: error: No such option '--no-such-option'."),
    (["serve", "--workers", "zero"], 2, "fleet: error: invalid --workers / FLEET_WORKERS"),
    (["installers", "put", "--kind", "exe", "x"], 2, "invalid choice: 'exe' (choose from 'pkg', 'msi', 'deb', 'rpm')"),
    (["prepare", "db", "--workers", "2"], 2, "No such option '--workers'"),
])
def test_errors_are_one_line_with_argparses_exit_codes(capsys: pytest.CaptureFixture[str], args: list[str],
                                                       code: int, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "configure_logging", lambda settings: None)
    assert cli.main(args) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and line in err, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.startswith("fleet version ")




def test_a_command_run_in_process_leaves_ctrl_c_as_it_found_it() -> None:
    # The stop-signal handling of a finished command ignored Ctrl-C for good: the test process
    # then started every later program (fleetctl in the e2e tests) with Ctrl-C ignored.
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with cli._signals_restored(), contextlib.ExitStack(), cli._quiet_unwinding():
        pass
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
