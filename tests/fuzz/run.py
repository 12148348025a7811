"""`make fuzz`: schemathesis against a real `fleet serve`, over the document it serves.

Starts `fleet serve --no-server-tls` on a fresh data dir (embedded Postgres and Redis, both APIs
on one port), sets up the first admin, and runs `schemathesis run` with the admin's bearer token
for FUZZ_SECONDS (default 300): every server error and every response the document does not
describe is a failure. Afterwards it checks that the server still works for ordinary use (logins
and writes in a row), which is what a poisoned connection pool would break, and counts the
unhandled errors in the server's log. Exits non-zero on any failure; never part of `make test`
(tests/fuzz/test_fuzz_api.py is the short deterministic slice that is).

    .venv/bin/python tests/fuzz/run.py --seconds 300 [--workers 2] [--seed 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fuzz.fuzz_support import DOCUMENT, LEFT_OUT

ADMIN_EMAIL = "fuzz-admin@example.com"
ADMIN_PASSWORD = "correct-horse-9!battery"
START_DEADLINE = 120.0
STOP_DEADLINE = 30.0
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# After the run: this many logins and team creations in a row must all succeed.
AFTERWARDS = 12
OTHER_CLIENT_ADDRESS = "127.0.0.2"
AFTER_EMAIL = "after-fuzz@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_command() -> list[str]:
    fleet = Path(sys.executable).with_name("fleet")
    return [str(fleet)] if fleet.exists() else [sys.executable, "-m", "fleet_adapters.serve.cli"]


def start_server(workdir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    command = [*fleet_command(), "serve", "--no-server-tls", "--data-dir", str(workdir / "data"),
               "--server-address", f"127.0.0.1:{port}", "--workers", str(workers)]
    with (workdir / "fleet.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fleet serve exited with {process.returncode}; see {workdir / 'fleet.log'}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2.0).status_code == 200:
                return process
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"fleet serve not healthy within {START_DEADLINE}s; see {workdir / 'fleet.log'}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def own_account(url: str, token: str) -> dict[str, str]:
    """What tests/fuzz/fuzz_hooks.py needs to keep the fuzzer off its own account."""
    headers = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{url}/api/v1/fleet/me", headers=headers, timeout=30.0).json()["user"]
    sessions = httpx.get(f"{url}/api/v1/fleet/users/{me['id']}/sessions", headers=headers, timeout=30.0).json()
    return {"FUZZ_OWN_USER_ID": str(me["id"]),
            "FUZZ_OWN_SESSION_IDS": ",".join(str(s["session_id"]) for s in sessions["sessions"])}


def set_up_admin(url: str) -> str:
    r = httpx.post(f"{url}/api/v1/setup", timeout=30.0, json={
        "admin": {"email": ADMIN_EMAIL, "name": "Fuzz Admin", "password": ADMIN_PASSWORD,
                  "password_confirmation": ADMIN_PASSWORD},
        "org_info": {"org_name": "Fuzz"}, "server_url": url})
    if r.status_code != 200:
        raise RuntimeError(f"POST /api/v1/setup answered {r.status_code}: {r.text}")
    return str(r.json()["token"])


def left_out_regex() -> str:
    # The same operations the in-process slice leaves out (tests/fuzz/fuzz_support.py says why).
    paths = sorted({path.replace("{token}", "[^/]+") for _, path in LEFT_OUT})
    return "^(" + "|".join(paths) + ")$"


def ordinary_use_afterwards(url: str, token: str) -> list[str]:
    """Logins and writes in a row, as after the run in issue 11: every one must succeed.

    As a user the fuzzer never saw, from another loopback address: its failed logins have
    (rightly) used up the login limits of 127.0.0.1 and of any account it could name, which is
    not what this checks."""
    problems: list[str] = []
    transport = httpx.HTTPTransport(local_address=OTHER_CLIENT_ADDRESS)
    with httpx.Client(base_url=url, timeout=30.0, transport=transport) as client:
        created = client.post("/api/v1/fleet/users/admin", headers={"Authorization": f"Bearer {token}"}, json={
            "email": AFTER_EMAIL, "name": "After Fuzz", "password": ADMIN_PASSWORD, "global_role": "admin",
            "admin_forced_password_reset": False})
        if created.status_code != 200:
            return [f"creating the user for the check: {created.status_code} {created.text[:200]}"]
        for attempt in range(AFTERWARDS):
            login = client.post("/api/v1/fleet/login", json={"email": AFTER_EMAIL, "password": ADMIN_PASSWORD})
            if login.status_code != 200:
                problems.append(f"login {attempt}: {login.status_code} {login.text[:200]}")
                continue
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            team = client.post("/api/v1/fleet/teams", headers=headers, json={"name": f"after-fuzz-{attempt}"})
            if team.status_code != 200:
                problems.append(f"team {attempt}: {team.status_code} {team.text[:200]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "300")))
    parser.add_argument("--workers", type=int, default=2, help="schemathesis workers (concurrent requests)")
    parser.add_argument("--server-workers", type=int, default=1, help="fleet serve worker processes")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the server log and reports in this dir")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="fleet-fuzz-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(workdir, port, args.server_workers)
    try:
        token = set_up_admin(url)
        command = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}{DOCUMENT}",
                   "--header", f"Authorization: Bearer {token}", "--checks", CHECKS,
                   "--max-time", str(args.seconds), "--workers", str(args.workers),
                   "--exclude-path-regex", left_out_regex(),
                   "--report", "junit", "--report-dir", str(workdir / "report")]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        print("$", " ".join(command).replace(token, "<token>"), flush=True)
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, **own_account(url, token), "SCHEMATHESIS_HOOKS": "tests.fuzz.fuzz_hooks",
               "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        fuzz_exit = subprocess.call(command, env=env)
        problems = ordinary_use_afterwards(url, token)
        server_errors = (workdir / "fleet.log").read_text(errors="replace").count("unhandled_error")
    finally:
        stop_server(process)
    print(f"\nschemathesis exit code: {fuzz_exit}")
    print(f"unhandled errors in the server log: {server_errors}")
    print(f"ordinary use afterwards ({AFTERWARDS} logins and team creations): "
          + ("all succeeded" if not problems else "FAILED\n  " + "\n  ".join(problems)))
    if args.keep is not None:
        shutil.copytree(workdir, args.keep, dirs_exist_ok=True, ignore=shutil.ignore_patterns("data"))
        print(f"server log and report kept in {args.keep}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 1 if fuzz_exit or problems or server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
