"""Through the API alone, against the real `fleet serve` and simulated agents: a team's schedule and
packs reach each host's config on its next fetch, dynamic labels gain and lose hosts as their answers
change, manual labels are never asked of agents, targets resolve by label and team, and queries,
labels and packs round-trip through the spec endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from test_serve import log_in, set_up

from fleet_osquery.sim import Simulator

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = pytest.mark.e2e

SECRET = "e2e-config-secret"
TEMPLATES = "macos_14,ubuntu_22.04,windows_11,rhel_9"
V1 = "/api/v1/fleet"


class Api:
    def __init__(self, client: httpx.Client, token: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.client.request(method, V1 + path, headers=self.auth, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else None


def packs_of(sim_host: Any) -> dict[str, dict[str, Any]]:
    config = sim_host.last_config or {}
    return {name: pack["queries"] for name, pack in (config.get("packs") or {}).items()}


def test_a_team_schedule_packs_and_labels_reach_simulated_hosts(fleet: FleetCLI, data_dir: Path) -> None:
    server = fleet.serve(data_dir, tls=False)
    with server.client() as client:
        assert set_up(client, server.base_url).status_code == 200
        api = Api(client, log_in(client))
        api.call("POST", "/spec/enroll_secret", json={"spec": {"secrets": [{"secret": SECRET}]}})

        async def scenario() -> None:
            sim = Simulator(server.base_url, SECRET, hosts=4, os_templates=TEMPLATES, start_period=0)
            async with sim:
                for host in sim.hosts:
                    assert await host.enroll()
                    await host.fetch_config()
                    await host.check_in()
                by_platform = {h["platform"]: h for h in api.call("GET", "/hosts")["hosts"]}
                sim_by_platform = {
                    next(h["platform"] for h in by_platform.values() if h["hostname"] == s.identity.hostname): s
                    for s in sim.hosts
                }
                assert set(by_platform) == {"darwin", "ubuntu", "windows", "rhel"}
                assert all(not packs_of(s) for s in sim.hosts)

                # A team with the two Linux hosts, a global and a team schedule, and a pack on a label.
                team = api.call("POST", "/teams", json={"name": "Servers"})["team"]
                linux_ids = [by_platform["ubuntu"]["id"], by_platform["rhel"]["id"]]
                api.call("POST", "/hosts/transfer", json={"team_id": team["id"], "hosts": linux_ids})
                usb = api.call("POST", "/queries", json={"name": "usb", "query": "SELECT * FROM usb_devices;"})
                ports = api.call("POST", "/queries", json={"name": "ports",
                                                           "query": "SELECT * FROM listening_ports;"})
                global_entry = api.call("POST", "/global/schedule", json={
                    "query_id": usb["query"]["id"], "interval": 3600, "snapshot": True})["scheduled"]
                api.call("POST", f"/teams/{team['id']}/schedule", json={
                    "query_id": ports["query"]["id"], "interval": 600, "snapshot": False, "removed": True,
                    "platform": "linux"})
                label = api.call("POST", "/labels", json={
                    "name": "Ubuntu boxes", "query": "SELECT 1 FROM os_version WHERE platform = 'ubuntu';"})["label"]
                pack = api.call("POST", "/packs", json={"name": "ubuntu-audit", "label_ids": [label["id"]]})["pack"]
                api.call("POST", "/schedule", json={"pack_id": pack["id"], "query_id": usb["query"]["id"],
                                                    "interval": 120, "snapshot": False, "removed": False,
                                                    "shard": 50})

                # The label is asked at the next check-in; only the Ubuntu host answers with rows.
                for host in sim.hosts:
                    await host.check_in()
                members = api.call("GET", f"/labels/{label['id']}/hosts")["hosts"]
                assert [h["id"] for h in members] == [by_platform["ubuntu"]["id"]]

                for host in sim.hosts:
                    await host.fetch_config()
                usb_entry = {"query": "SELECT * FROM usb_devices;", "interval": 3600, "platform": "",
                             "version": "", "snapshot": True}
                ports_entry = {"query": "SELECT * FROM listening_ports;", "interval": 600, "platform": "linux",
                               "version": "", "snapshot": False, "removed": True}
                team_pack = f"team-{team['id']}"
                assert packs_of(sim_by_platform["darwin"]) == {"Global": {"usb": usb_entry}}
                assert packs_of(sim_by_platform["windows"]) == {"Global": {"usb": usb_entry}}
                assert packs_of(sim_by_platform["rhel"]) == {"Global": {"usb": usb_entry},
                                                             team_pack: {"ports": ports_entry}}
                assert packs_of(sim_by_platform["ubuntu"]) == {
                    "Global": {"usb": usb_entry}, team_pack: {"ports": ports_entry},
                    "ubuntu-audit": {"usb": {"query": "SELECT * FROM usb_devices;", "interval": 120,
                                             "platform": "", "version": "", "snapshot": False,
                                             "removed": False, "shard": 50}},
                }

                # An edit reaches every host on its next fetch, without a restart.
                api.call("PATCH", f"/global/schedule/{global_entry['id']}", json={"interval": 7200})
                await sim_by_platform["darwin"].fetch_config()
                assert packs_of(sim_by_platform["darwin"])["Global"]["usb"]["interval"] == 7200

                # The label now matches macOS instead: Ubuntu leaves, the Mac joins, and the pack follows.
                api.call("PATCH", f"/labels/{label['id']}", json={
                    "query": "SELECT 1 FROM os_version WHERE platform = 'darwin';"})
                for host in sim.hosts:
                    await host.check_in()
                members = api.call("GET", f"/labels/{label['id']}/hosts")["hosts"]
                assert [h["id"] for h in members] == [by_platform["darwin"]["id"]]
                for host in sim.hosts:
                    await host.fetch_config()
                assert "ubuntu-audit" in packs_of(sim_by_platform["darwin"])
                assert "ubuntu-audit" not in packs_of(sim_by_platform["ubuntu"])

                # A manual label holds exactly the hosts given and is never asked of an agent.
                manual = api.call("POST", "/labels", json={"name": "Kiosks",
                                                           "host_ids": [by_platform["windows"]["id"]]})["label"]
                asked = client.post("/api/osquery/distributed/read",
                                    json={"node_key": sim_by_platform["windows"].node_key}).json()
                assert f"fleet_label_query_{manual['id']}" not in asked["queries"]
                members = api.call("GET", f"/labels/{manual['id']}/hosts")["hosts"]
                assert [h["id"] for h in members] == [by_platform["windows"]["id"]]

                # Targets: a label AND a team narrows; a host listed explicitly is always in.
                count = api.call("POST", "/targets/count", json={"selected": {
                    "hosts": [], "labels": [label["id"]], "teams": [team["id"]]}})
                assert count["targets_count"] == 0
                count = api.call("POST", "/targets/count", json={"selected": {
                    "hosts": [by_platform["windows"]["id"]], "labels": [], "teams": [team["id"]]}})
                assert count["targets_count"] == 3
                assert count["targets_online"] + count["targets_offline"] == 3

                # Round trips: what the spec endpoints give back applies without changing anything.
                for kind in ("queries", "labels", "packs"):
                    specs = api.call("GET", f"/spec/{kind}")["specs"]
                    custom = [s for s in specs if s.get("label_type", "regular") != "builtin"]
                    api.call("POST", f"/spec/{kind}", json={"specs": custom})
                    assert api.call("GET", f"/spec/{kind}")["specs"] == specs, kind

        anyio.run(scenario)
    assert server.terminate() == 0
