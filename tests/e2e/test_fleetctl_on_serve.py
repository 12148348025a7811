"""fleetctl against the real `fleet serve` (TLS, checked against the server's own certificate
with --rootca) with simulated hosts: configuration as code, live queries on a pseudo-terminal,
carves, and clear failures."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest
import yaml

from fleet_http.client import AsyncFleetClient
from fleet_osquery.sim import Simulator
from fleet_osquery.sim.agent import SimOptions
from fleet_osquery.sim.answers import AnswerRules
from fleet_osquery.sim.carver import file_bytes

if TYPE_CHECKING:
    from fleet_process import FleetCLI, FleetServer

pytestmark = [pytest.mark.e2e]

FLEETCTL = Path(sys.executable).with_name("fleetctl")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "fleetctl.md"
EMAIL, PASSWORD = "admin@example.com", "correct-horse-9!battery"
SECRET = "fleetctl-e2e-secret"
HOSTS = 4
DEADLINE = 90.0


def docs_yaml() -> str:
    """The YAML file docs/fleetctl.md shows (its first yaml block)."""
    match = re.search(r"```yaml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert match
    return match.group(1)


class Fleetctl:
    def __init__(self, tmp: Path, server: FleetServer) -> None:
        self.tmp = tmp
        self.server = server
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEET_", "FLEETCTL_"))}
        self.env["FLEETCTL_CONFIG"] = str(tmp / "fleetctl" / "config.yml")
        self.env["COLUMNS"] = "160"
        self.ca_file = str(server.data_dir / "tls" / "server.crt")

    def command(self, *args: str) -> list[str]:
        return [str(FLEETCTL), *args] if FLEETCTL.exists() else [sys.executable, "-m", "fleet_http.fleetctl", *args]

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.command(*args), capture_output=True, text=True, env=self.env, cwd=self.tmp,
                              timeout=120, input=stdin, check=False)
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def write(self, name: str, text: str) -> str:
        (self.tmp / name).write_text(text)
        return name


@pytest.fixture
def ctl(fleet: FleetCLI, tmp_path: Path) -> Fleetctl:
    server = fleet.serve(tmp_path / "data", tls=True)
    ctl = Fleetctl(tmp_path, server)
    ca = str(tmp_path / "data" / "tls" / "server.crt")
    ctl("config", "set", "--address", server.base_url, "--rootca", ca)
    done = ctl("setup", "--email", EMAIL, "--password", PASSWORD, "--org-name", "Acme")
    assert "setup successful" in done.stdout
    return ctl


def test_apply_get_reapply_delete_round_trip(ctl: Fleetctl) -> None:
    config_file = Path(ctl.env["FLEETCTL_CONFIG"])
    assert config_file.stat().st_mode & 0o777 == 0o600
    assert "token: (set)" in ctl("config", "get").stdout

    ctl.write("fleet.yml", docs_yaml())
    first = ctl("apply", "-f", "fleet.yml").stdout
    for line in ("document 1: label 'Simulated hosts' created", "document 2: query 'Uptime' created",
                 "document 3: pack 'Basics' created", "document 4: team 'Servers' created",
                 "document 5: policy 'Firewall on' created", "document 6: config updated", "6 changed, 0 unchanged"):
        assert line in first, first
    assert "0 changed, 6 unchanged" in ctl("apply", "-f", "fleet.yml").stdout

    # What the server now has, read back through the API.
    teams = json.loads(ctl("get", "teams", "--json").stdout)
    assert teams["spec"]["team"] == {"name": "Servers",
                                     "agent_options": {"config": {"options": {"distributed_interval": 30}}},
                                     "secrets": [{"secret": "servers-enroll-secret"}]}
    pack = yaml.safe_load(ctl("get", "packs", "--yaml").stdout)["spec"]
    assert pack["targets"] == {"labels": ["Simulated hosts"], "teams": []}
    assert pack["queries"][0]["name"] == "uptime_hourly" and pack["queries"][0]["snapshot"] is True
    config = yaml.safe_load(ctl("get", "config").stdout)["spec"]
    assert config["org_info"]["org_name"] == "Acme Servers"
    assert "Servers" in ctl("get", "policies").stdout

    # Every kind exported as YAML applies back with nothing to change; JSON lines too.
    kinds = ("labels", "queries", "packs", "teams", "policies", "enroll_secret", "config", "user_roles")
    ctl.write("everything.yml", "".join(ctl("get", kind, "--yaml").stdout for kind in kinds))
    again = ctl("apply", "-f", "everything.yml").stdout
    assert again.strip().endswith("0 changed, 8 unchanged"), again
    ctl.write("everything.json", "".join(ctl("get", kind, "--json").stdout for kind in kinds[:5]))
    assert "0 changed, 5 unchanged" in ctl("apply", "-f", "everything.json").stdout

    # A change is seen, and a dry run leaves it unapplied.
    ctl.write("changed.yml", docs_yaml().replace("interval: 600", "interval: 900").replace("Acme Servers", "Acme"))
    dry = ctl("apply", "-f", "changed.yml", "--dry-run").stdout
    assert "query 'Uptime' would be updated" in dry and "config would be updated" in dry
    assert "dry run: 2 changed, 4 unchanged" in dry
    assert yaml.safe_load(ctl("get", "queries", "--yaml").stdout)["spec"]["interval"] == 600
    assert yaml.safe_load(ctl("get", "config").stdout)["spec"]["org_info"]["org_name"] == "Acme Servers"
    applied = ctl("apply", "-f", "changed.yml").stdout
    assert "query 'Uptime' updated" in applied and "config updated" in applied
    assert yaml.safe_load(ctl("get", "config").stdout)["spec"]["org_info"]["org_name"] == "Acme"

    deleted = ctl("delete", "-f", "fleet.yml").stdout
    for line in ("policy 'Firewall on' deleted", "pack 'Basics' deleted", "query 'Uptime' deleted",
                 "team 'Servers' deleted", "label 'Simulated hosts' deleted"):
        assert line in deleted, deleted
    for kind in ("queries", "packs", "teams", "policies"):
        assert ctl("get", kind, "--yaml").stdout == "", kind
    assert "Simulated hosts" not in ctl("get", "labels", "--yaml").stdout


def test_bad_files_and_server_errors_are_clear_and_exit_non_zero(ctl: Fleetctl) -> None:
    ctl.write("broken.yml", "apiVersion: v1\nkind: query\nspec:\n  name: x\n  query: [1\n")
    done = ctl("apply", "-f", "broken.yml", ok=False)
    assert done.returncode == 1 and "broken.yml: not valid YAML (line 6, column 1)" in done.stderr

    ctl.write("field.yml", "---\napiVersion: v1\nkind: label\nspec:\n  name: L\n  query: SELECT 1;\n"
                           "---\napiVersion: v1\nkind: pack\nspec:\n  name: P\n  queries:\n"
                           "    - query: Uptime\n      interval: soon\n")
    done = ctl("apply", "-f", "field.yml", ok=False)
    assert done.returncode == 1
    assert "field.yml, document 2: spec.queries[0].interval: must be an integer, not 'soon'" in done.stderr
    assert "L" not in ctl("get", "labels", "--yaml").stdout.split("name: ")[-1]  # nothing was sent

    ctl.write("kind.yml", "apiVersion: v1\nkind: widget\nspec: {}\n")
    assert "document 1: kind: must be one of" in ctl("apply", "-f", "kind.yml", ok=False).stderr

    ctl.write("target.yml", "apiVersion: v1\nkind: pack\nspec:\n  name: P\n  targets: {labels: [Nope]}\n"
                            "  queries: []\n")
    done = ctl("apply", "-f", "target.yml", ok=False)
    assert done.returncode == 1
    assert "Validation Failed (HTTP 422)" in done.stderr
    assert "specs[0].targets.labels: no label is named 'Nope'" in done.stderr
    assert re.search(r"request id: \w+", done.stderr)

    assert "no carve" not in (missing := ctl("get", "carve", "999", ok=False)).stdout
    assert missing.returncode == 1 and "Resource Not Found (HTTP 404)" in missing.stderr

    ctl("logout")
    assert "token: \n" in ctl("config", "get").stdout
    done = ctl("get", "queries", ok=False)
    assert done.returncode == 1 and "not logged in" in done.stderr
    done = ctl("login", "--email", EMAIL, "--password", "wrong-password-1!", ok=False)
    assert done.returncode == 1 and "(HTTP 401)" in done.stderr
    ctl("login", "--email", EMAIL, "--password", PASSWORD)

    ctl.env["FLEETCTL_ADDRESS"] = f"https://localhost:{ctl.server.port + 0}"
    ctl.env["FLEETCTL_ROOTCA"] = str(ctl.tmp / "nope.crt")
    done = ctl("get", "queries", ok=False)
    assert done.returncode == 1 and "Error:" in done.stderr


async def _enrolled(server: FleetServer, hosts: int) -> Simulator:
    # Every host answers live queries with rows (the simulator's default leaves 20% without).
    options = SimOptions(rules=AnswerRules(live_query_no_results_prob=0.0))
    sim = Simulator(server.base_url, SECRET, hosts=hosts, os_templates="ubuntu_22.04,macos_14", start_period=0,
                    options=options, verify=str(server.data_dir / "tls" / "server.crt"))
    await sim.__aenter__()
    for host in sim.hosts:
        assert await host.enroll()
        await host.check_in()
    return sim


def test_query_streams_every_hosts_rows_with_a_progress_bar_on_a_terminal(ctl: Fleetctl) -> None:
    ctl.write("secret.yml", f"apiVersion: v1\nkind: enroll_secret\nspec:\n  secrets:\n    - secret: {SECRET}\n")
    ctl("apply", "-f", "secret.yml")

    async def scenario() -> tuple[subprocess.Popen[bytes], bytes, set[str]]:
        sim = await _enrolled(ctl.server, HOSTS)
        async with sim:
            primary, replica = pty.openpty()
            env = {**ctl.env, "TERM": "xterm-256color"}
            process = subprocess.Popen(
                ctl.command("query", "--labels", "All Hosts", "--query", "SELECT 1 AS one;", "--exit",
                            "--timeout", "60"),
                stdout=subprocess.PIPE, stderr=replica, env=env, cwd=ctl.tmp)
            os.close(replica)
            terminal = bytearray()

            def drain() -> None:
                while True:
                    try:
                        chunk = os.read(primary, 4096)
                    except OSError:
                        return
                    if not chunk:
                        return
                    terminal.extend(chunk)

            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
            with anyio.fail_after(DEADLINE):
                while process.poll() is None:
                    for host in sim.hosts:
                        await host.check_in()
                    await anyio.sleep(0.2)
            reader.join(10)
            os.close(primary)
            return process, bytes(terminal), {h.identity.hostname for h in sim.hosts}

    process, terminal, hostnames = anyio.run(scenario)
    assert process.stdout is not None
    lines = [json.loads(line) for line in process.stdout.read().decode().splitlines()]
    assert process.returncode == 0, terminal.decode(errors="replace")
    assert {line["host"] for line in lines} == hostnames
    for line in lines:
        assert line["rows"] and "error" not in line
        assert all(row["host_hostname"] == line["host"] for row in line["rows"])
    shown = terminal.decode(errors="replace")
    assert "\x1b[" in shown  # drawn as a terminal bar, not plain text
    assert f"{HOSTS}/{HOSTS} online responded, {HOSTS} total" in shown
    assert f"finished: {HOSTS} of {HOSTS} online hosts responded ({HOSTS} targeted), " in shown


def test_ctrl_c_stops_a_live_query_cleanly(ctl: Fleetctl) -> None:
    ctl.write("secret.yml", f"apiVersion: v1\nkind: enroll_secret\nspec:\n  secrets:\n    - secret: {SECRET}\n")
    ctl("apply", "-f", "secret.yml")

    async def enroll() -> str:
        sim = await _enrolled(ctl.server, 1)
        node_key = sim.hosts[0].node_key
        await sim.aclose()
        assert node_key
        return node_key

    node_key = anyio.run(enroll)
    # Ctrl-C as a terminal delivers it: an ignored SIGINT is inherited across exec, so fleetctl must
    # not get whatever disposition this test process was left with by what ran before it.
    process = subprocess.Popen(ctl.command("query", "--labels", "All Hosts", "--query", "SELECT 1;", "--quiet"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctl.env, cwd=ctl.tmp,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    with httpx.Client(base_url=ctl.server.base_url, verify=ctl.server.verify()) as agent:
        def asked() -> bool:
            # What the host is asked to run: the campaign's query while the campaign is open.
            read = agent.post("/api/osquery/distributed/read", json={"node_key": node_key})
            assert read.status_code == 200, read.text
            return any(name.startswith("fleet_distributed_query_") for name in read.json().get("queries", {}))

        deadline = time.monotonic() + DEADLINE
        # fleetctl is listening on the results stream once it says so.
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], DEADLINE)
        assert ready and b"streaming results (Ctrl-C stops it)" in process.stderr.readline()
        assert asked()  # the host never answers, so fleetctl keeps listening until interrupted
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 130 and b"interrupted" in err, err
        # Leaving the stream completed the campaign: the host is no longer asked.
        while asked():
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_get_carve_reassembles_what_a_host_carved_for_a_live_query(ctl: Fleetctl) -> None:
    ctl.write("secret.yml", f"apiVersion: v1\nkind: enroll_secret\nspec:\n  secrets:\n    - secret: {SECRET}\n")
    ctl("apply", "-f", "secret.yml")
    # Over the server's 2 MiB carve blocks: two whole ones and a short last one.
    path = "/tmp/evidence-5MiB"

    async def carve() -> tuple[bytes, int]:
        sim = await _enrolled(ctl.server, 1)
        [host] = sim.hosts
        async with sim, AsyncFleetClient(ctl.server.base_url, ca_file=ctl.ca_file) as fleet:
            await host.fetch_config()  # carver_block_size comes with the configuration
            await fleet.login(EMAIL, PASSWORD)
            [listed] = [h async for h in fleet.hosts()]
            await fleet.start_campaign(query=f"SELECT * FROM carves WHERE carve = 1 AND path = '{path}';",  # noqa: S608
                                       host_ids=[listed.id])
            deadline = time.monotonic() + DEADLINE
            while not host.pending_carves:  # the simulated osqueryd is asked at its next check-in
                assert time.monotonic() < deadline, "the host was never asked to carve"
                await host.check_in()
                await anyio.sleep(0.2)
            [job] = list(host.pending_carves)
            assert await host.run_carves() == 1
            source = file_bytes(host.options.seed, host.host_identifier, path, job.size, 0, job.size)
            return source, host.carver_block_size

    source, block_size = anyio.run(carve)
    assert len(source) == 5 * 1024 * 1024 and block_size == 2 * 1024 * 1024
    listed = [json.loads(line) for line in ctl("get", "carves", "--json").stdout.splitlines()]
    assert [(c["id"], c["block_count"], c["carve_size"]) for c in listed] == [(1, 3, len(source))]
    ctl("get", "carve", "1", "--outfile", "carve.bin")
    assert (ctl.tmp / "carve.bin").read_bytes() == source
    done = subprocess.run(ctl.command("get", "carve", "1", "--stdout"), capture_output=True, env=ctl.env,
                          cwd=ctl.tmp, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout == source


def test_hosts_users_roles_saved_queries_trigger_and_debug(ctl: Fleetctl) -> None:
    ctl.write("setup.yml", """---
apiVersion: v1
kind: enroll_secret
spec:
  secrets:
    - secret: SECRET
---
apiVersion: v1
kind: team
spec:
  team:
    name: Servers
---
apiVersion: v1
kind: query
spec:
  name: One
  query: SELECT 1 AS one;
---
apiVersion: v1
kind: query
spec:
  name: Team uptime
  team: Servers
  query: SELECT * FROM uptime;
  interval: 300
""".replace("SECRET", SECRET))
    ctl("apply", "-f", "setup.yml")
    assert "0 changed, 4 unchanged" in ctl("apply", "-f", "setup.yml").stdout
    team_queries = [json.loads(line)["spec"] for line in
                    ctl("get", "queries", "--team", "Servers", "--json").stdout.splitlines()]
    assert [(q["name"], q["team"], q["interval"]) for q in team_queries] == [("Team uptime", "Servers", 300)]
    assert yaml.safe_load(ctl("get", "queries", "--team", "", "--yaml").stdout)["spec"]["name"] == "One"
    ctl("user", "create", "--email", "ann@example.com", "--name", "Ann", "--global-role", "observer",
        "--password", "another-horse-7?staple")

    async def scenario() -> list[str]:
        sim = await _enrolled(ctl.server, 2)
        async with sim:
            names = sorted(h.identity.hostname for h in sim.hosts)
            ctl("hosts", "transfer", "--team", "Servers", "--hosts", names[0])
            hosts = json.loads(ctl("get", "hosts", "--team", "Servers", "--json").stdout)
            assert hosts["hostname"] == names[0] and hosts["team_name"] == "Servers"
            assert json.loads(ctl("get", "hosts", "--query", names[1], "--json").stdout)["hostname"] == names[1]
            listed = ctl("get", "hosts", "--status", "online", "--json").stdout.splitlines()
            assert sorted(json.loads(line)["hostname"] for line in listed) == names

            # A saved query on a team's hosts, by name, on a host answering while fleetctl listens.
            process = subprocess.Popen(
                ctl.command("query", "--teams", "Servers", "--query-name", "One", "--exit", "--timeout", "60",
                            "--quiet"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctl.env, cwd=ctl.tmp)
            with anyio.fail_after(DEADLINE):
                while process.poll() is None:
                    for host in sim.hosts:
                        await host.check_in()
                    await anyio.sleep(0.2)
            out, err = process.communicate()
            assert process.returncode == 0, err
            assert [json.loads(line)["host"] for line in out.decode().splitlines()] == [names[0]]
            assert b"1 of 1 online hosts responded (1 targeted)" in err
            return names

    names = anyio.run(scenario)
    ctl.write("roles.yml", "apiVersion: v1\nkind: user_roles\nspec:\n  roles:\n    ann@example.com:\n"
                           "      global_role: null\n      teams:\n"
                           "        - team: Servers\n          role: maintainer\n")
    assert "user_roles updated" in ctl("apply", "-f", "roles.yml").stdout
    assert "user_roles unchanged" in ctl("apply", "-f", "roles.yml").stdout
    roles = yaml.safe_load(ctl("get", "user_roles", "--yaml").stdout)["spec"]["roles"]
    assert roles["ann@example.com"] == {"global_role": None, "teams": [{"team": "Servers", "role": "maintainer"}]}

    ctl("hosts", "transfer", "--team", "", "--label", "All Hosts")
    assert ctl("get", "hosts", "--team", "Servers", "--json").stdout == ""
    assert len(ctl("get", "hosts", "--json").stdout.splitlines()) == len(names)

    assert "triggered cleanups_then_aggregation" in ctl("trigger", "--name", "cleanups_then_aggregation").stdout
    unknown = ctl("trigger", "--name", "nope", ok=False)
    assert unknown.returncode == 1 and "(HTTP 400)" in unknown.stderr
    migrations = json.loads(ctl("debug", "migrations").stdout)
    assert migrations and all(m["applied"] for m in migrations)
    ctl("debug", "archive", "--outfile", "debug.tar.gz")
    with tarfile.open(ctl.tmp / "debug.tar.gz") as archive:
        assert sorted(archive.getnames()) == [
            "db-innodb-status.json", "db-locks.json", "db-long-transactions.json", "db-process-list.json",
            "db-table-sizes.json", "dbstats.json", "errors.json", "migrations.json", "pprof-cmdline.txt",
            "pprof-goroutine.txt", "pprof-heap.txt"]
    assert "Samples:" in ctl("debug", "profile", "--duration", "1").stdout  # pyinstrument's header
    assert "serve" in ctl("debug", "cmdline").stdout


def _read_until(fd: int, wanted: bytes, seen: bytearray) -> None:
    deadline = time.monotonic() + DEADLINE
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, (wanted, bytes(seen))
        seen.extend(os.read(fd, 4096))


def test_login_prompts_on_a_terminal_and_hides_the_password(ctl: Fleetctl) -> None:
    ctl("logout")
    primary, replica = pty.openpty()
    process = subprocess.Popen(ctl.command("login"), stdin=replica, stdout=replica, stderr=replica, env=ctl.env,
                               cwd=ctl.tmp)
    os.close(replica)
    seen = bytearray()
    try:
        # The email the context remembers is offered as the default.
        _read_until(primary, f"Email [{EMAIL}]: ".encode(), seen)
        os.write(primary, b"\n")
        _read_until(primary, b"Password: ", seen)
        os.write(primary, PASSWORD.encode() + b"\n")
        _read_until(primary, b"Fleet login successful", seen)
        assert process.wait(30) == 0
    finally:
        os.close(primary)
    assert PASSWORD.encode() not in seen
    assert "token: (set)" in ctl("config", "get").stdout
    assert ctl("get", "queries").returncode == 0
