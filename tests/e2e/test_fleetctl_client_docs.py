"""docs/client.md's examples, run in order against a real `fleet serve` (TLS) with simulated
hosts answering live queries while the examples run."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from test_serve import ADMIN_EMAIL, ADMIN_PASSWORD, set_up

from fleet_http.client import FleetClient, LiveQueryTimeout
from fleet_osquery.sim import Simulator
from fleet_osquery.sim.agent import SimOptions
from fleet_osquery.sim.answers import AnswerRules

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = [pytest.mark.e2e]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "client.md"
SECRET = "client-docs-secret"
HOSTS = 3
DEADLINE = 120.0


def test_the_client_docs_examples_run(fleet: FleetCLI, tmp_path: Path) -> None:
    server = fleet.serve(tmp_path / "data", tls=True)
    ca_file = str(tmp_path / "data" / "tls" / "server.crt")
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        token = client.post("/api/v1/fleet/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
        assert client.post("/api/v1/fleet/spec/enroll_secret", headers={"Authorization": f"Bearer {token['token']}"},
                           json={"spec": {"secrets": [{"secret": SECRET}]}}).status_code == 200

    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert len(blocks) == 5
    namespace: dict[str, Any] = {"ADDRESS": server.base_url, "CA_FILE": ca_file, "EMAIL": ADMIN_EMAIL,
                                 "PASSWORD": ADMIN_PASSWORD}
    printed = io.StringIO()
    done = threading.Event()
    sims: list[Any] = []

    def examples() -> None:
        try:
            with contextlib.redirect_stdout(printed):
                for block in blocks:
                    exec(compile(block, str(DOCS), "exec"), namespace)  # noqa: S102 - the docs' own code
        finally:
            done.set()

    async def scenario() -> None:
        options = SimOptions(rules=AnswerRules(live_query_no_results_prob=0.0))
        sim = Simulator(server.base_url, SECRET, hosts=HOSTS, os_templates="ubuntu_22.04", start_period=0,
                        options=options, verify=ca_file)
        sims.extend(sim.hosts)
        async with sim:
            for host in sim.hosts:
                assert await host.enroll()
                await host.check_in()
            with anyio.fail_after(DEADLINE):
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(anyio.to_thread.run_sync, examples)
                    while not done.is_set():
                        for host in sim.hosts:
                            await host.check_in()
                        await anyio.sleep(0.2)

    anyio.run(scenario)
    out = printed.getvalue()
    hostnames = sorted(h.identity.hostname for h in sims)
    assert f"logged in as {ADMIN_EMAIL}" in out
    assert "QuerySpecBody Uptime 600" in out
    assert sorted(re.findall(r"^(\S+) ubuntu online$", out, re.MULTILINE)) == hostnames, out
    assert sorted(re.findall(r"^(\S+) \{'days': '1'", out, re.MULTILINE)) == hostnames, out
    assert "422 Validation Failed {'specs[0].targets.labels': \"no label is named 'Nope'\"}" in out
    assert "NotFound 404" in out
    assert f"{HOSTS} of {HOSTS} hosts online" in out
    assert "every online host answered" in out
    assert f"{HOSTS} hosts answered\n" in out and f"{HOSTS} hosts answered again" in out
    assert len(namespace["results"]) == HOSTS

    # Nobody answers now: the stream's deadline passes, with the totals it had.
    with FleetClient(server.base_url, ca_file=ca_file) as fleet_again:
        fleet_again.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        with fleet_again.live_query(query="SELECT 2;", label_ids=[namespace["labels"]["All Hosts"]],
                                    seconds=1.5) as campaign, pytest.raises(LiveQueryTimeout):
            list(campaign)
        assert campaign.timed_out and campaign.results == []
        assert campaign.totals is not None and campaign.totals.count == HOSTS
