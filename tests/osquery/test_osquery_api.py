"""The osquery TLS API as osqueryd uses it: enroll, config, distributed read/write, log."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit
from fleet_core.model.runtime import AgentSettings
from fleet_core.rules.carves import carver_options
from tests.osquery.conftest import SECRET

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Any]
PREFIXES = ["/api/osquery", "/api/v1/osquery"]

MACOS_DETAILS = {
    "os_version": {"name": "macOS", "version": "14.1.2", "major": "14", "minor": "1", "patch": "2",
                   "build": "23B92", "platform": "darwin", "platform_like": "darwin", "arch": "arm64"},
    "osquery_info": {"pid": "12947", "uuid": "4C182AC7-75F7-5AF4-A74B-1E165ED35742",
                     "instance_id": "9a2ec7bf-0000-4000-8000-000000000001", "version": "5.12.1"},
    "system_info": {"hostname": "mbp.local", "uuid": "4C182AC7-75F7-5AF4-A74B-1E165ED35742",
                    "cpu_brand": "Apple M1", "cpu_physical_cores": "8", "cpu_logical_cores": "8",
                    "physical_memory": "17179869184", "hardware_vendor": "Apple Inc.",
                    "hardware_model": "MacBookPro17,1", "hardware_serial": "C02XYZ123", "computer_name": "mbp"},
}

# Every agent configuration points the carver at the server (fleet_core.rules.carves).
CARVER_OPTIONS = carver_options(AgentSettings().carver_block_size)


async def enroll(client: Client, identifier: str = "host-1", *, secret: str = SECRET, prefix: str = PREFIXES[0],
                 details: dict[str, Any] | None = None) -> str:
    response = await client.post(f"{prefix}/enroll", json={
        "enroll_secret": secret, "host_identifier": identifier, "platform_type": "16",
        "host_details": MACOS_DETAILS if details is None else details})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "error" not in body
    return str(body["node_key"])


async def host_row(kit: InMemoryKit, identifier: str = "host-1") -> Any:
    async with kit.store.unit_of_work() as uow:
        return await uow.hosts.get_by_osquery_host_id(identifier)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_enrollment_fills_vitals_from_host_details(client: Client, kit: InMemoryKit, prefix: str) -> None:
    node_key = await enroll(client, prefix=prefix)
    assert len(node_key) >= 32
    host = await host_row(kit)
    assert (host.hostname, host.platform, host.osquery_version, host.hardware_serial, host.memory) == (
        "mbp.local", "darwin", "5.12.1", "C02XYZ123", 17179869184)
    assert host.refetch_requested


async def test_a_wrong_secret_gets_node_invalid(client: Client) -> None:
    response = await client.post("/api/osquery/enroll", json={"enroll_secret": "nope", "host_identifier": "x"})
    assert response.status_code == 401
    assert response.json()["node_invalid"] is True
    assert response.json()["error"]


async def test_re_enrolling_keeps_one_host_and_rotates_the_node_key(client: Client, kit: InMemoryKit) -> None:
    first = await enroll(client)
    host_id = (await host_row(kit)).id
    second = await enroll(client)
    assert first != second
    assert (await host_row(kit)).id == host_id
    stale = await client.post("/api/osquery/config", json={"node_key": first})
    assert stale.status_code == 401 and stale.json()["node_invalid"] is True
    fresh = await client.post("/api/osquery/config", json={"node_key": second})
    assert fresh.status_code == 200


@pytest.mark.parametrize("agent_settings", [AgentSettings(host_identifier="uuid")])
async def test_the_identifier_mode_decides_which_field_keys_the_host(client: Client, kit: InMemoryKit) -> None:
    await enroll(client, "provided-name")
    assert await host_row(kit, "4C182AC7-75F7-5AF4-A74B-1E165ED35742") is not None
    assert await host_row(kit, "provided-name") is None


@pytest.mark.parametrize("agent_settings", [AgentSettings(enroll_cooldown=dt.timedelta(minutes=5))])
async def test_re_enrolling_within_the_cooldown_is_refused(client: Client) -> None:
    await enroll(client)
    again = await client.post("/api/osquery/enroll", json={"enroll_secret": SECRET, "host_identifier": "host-1"})
    assert again.status_code == 401 and again.json()["node_invalid"] is True


async def test_a_team_secret_puts_the_host_in_that_team(client: Client, kit: InMemoryKit) -> None:
    async with kit.store.unit_of_work() as uow:
        team = await uow.teams.add(name="Apples", description="", at=kit.clock.now())
        await uow.enroll_secrets.replace(team.id, ["apples-secret"], kit.clock.now())
        await uow.commit()
    await enroll(client, "team-host", secret="apples-secret")
    assert (await host_row(kit, "team-host")).team_id == team.id


@pytest.mark.parametrize("path", ["config", "distributed/read", "distributed/write", "log"])
@pytest.mark.parametrize("body", [{}, {"node_key": ""}, {"node_key": "not-a-key"}])
async def test_unknown_or_missing_node_keys_make_the_agent_re_enroll(client: Client, path: str,
                                                                     body: dict[str, Any]) -> None:
    response = await client.post(f"/api/v1/osquery/{path}", json=body)
    assert response.status_code == 401
    assert response.json()["node_invalid"] is True


async def test_config_is_the_bare_osquery_config(client: Client) -> None:
    node_key = await enroll(client)
    response = await client.post("/api/osquery/config", json={"node_key": node_key})
    body = response.json()
    assert response.status_code == 200
    assert "error" not in body
    assert body["options"]["distributed_interval"] == 10
    assert body["decorators"]["load"]


async def test_a_fresh_host_is_asked_for_everything_and_to_accelerate(client: Client) -> None:
    node_key = await enroll(client, details={})
    body = (await client.post("/api/osquery/distributed/read", json={"node_key": node_key})).json()
    assert set(body) == {"queries", "discovery", "accelerate"}
    assert body["accelerate"] == 10 and isinstance(body["accelerate"], int)
    names = set(body["queries"])
    assert {"fleet_detail_query_os_version", "fleet_detail_query_system_info", "fleet_detail_query_osquery_info",
            "fleet_no_policies_wildcard"} <= names
    assert any(name.startswith("fleet_label_query_") for name in names)
    assert set(body["discovery"]) == names
    assert all(sql.strip() for sql in body["queries"].values())


async def test_answers_are_stored_and_nothing_is_asked_again_until_due(client: Client, kit: InMemoryKit) -> None:
    node_key = await enroll(client)
    read = (await client.post("/api/osquery/distributed/read", json={"node_key": node_key})).json()
    queries = read["queries"]
    label_name = next(n for n in queries if n.startswith("fleet_label_query_"))
    results: dict[str, Any] = {name: [] for name in queries}
    results.update({
        "fleet_detail_query_osquery_flags": [
            {"name": "distributed_interval", "value": "10"}, {"name": "config_tls_refresh", "value": "60"},
            {"name": "logger_tls_period", "value": "10"}],
        "fleet_detail_query_uptime": [{"total_seconds": "3600"}],
        label_name: [{"1": "1"}],
    })
    write = await client.post("/api/osquery/distributed/write", json={
        "node_key": node_key, "queries": results, "statuses": {name: "0" for name in results},
        "messages": {}, "stats": {}})
    assert write.status_code == 200 and write.json() == {}
    host = await host_row(kit)
    assert (host.distributed_interval, host.config_tls_refresh, host.uptime_seconds) == (10, 60, 3600)
    assert not host.refetch_requested
    async with kit.store.unit_of_work() as uow:
        assert int(label_name.rsplit("_", 1)[1]) in {label.id for label in await uow.host_inventory.labels(host.id)}
    again = (await client.post("/api/osquery/distributed/read", json={"node_key": node_key})).json()
    assert again["queries"] == {} and again["discovery"] == {}
    assert "accelerate" not in again


async def test_old_agents_empty_strings_and_string_statuses_are_accepted(client: Client) -> None:
    node_key = await enroll(client)
    response = await client.post("/api/osquery/distributed/write", json={
        "node_key": node_key, "queries": {"fleet_detail_query_uptime": "", "fleet_unknown_thing": [{"a": "b"}]},
        "statuses": {"fleet_detail_query_uptime": "0"}})
    assert response.status_code == 200 and response.json() == {}


async def test_logs_reach_the_destination_gzip_included(client: Client, kit: InMemoryKit) -> None:
    node_key = await enroll(client)
    records = [{"name": "pack/Global/USB", "action": "snapshot", "snapshot": [{"a": "1"}], "unixTime": 1}]
    plain = await client.post("/api/osquery/log", json={"node_key": node_key, "log_type": "result", "data": records})
    assert plain.status_code == 200 and plain.json() == {}
    body = gzip.compress(json.dumps({"node_key": node_key, "log_type": "status",
                                     "data": [{"severity": "0", "message": "hi"}]}).encode())
    zipped = await client.post("/api/osquery/log", content=body,
                               headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert zipped.status_code == 200
    assert [json.loads(r) for r in kit.logs.records("result")] == records
    assert [json.loads(r)["message"] for r in kit.logs.records("status")] == ["hi"]


async def test_a_refused_log_batch_is_answered_so_osquery_keeps_it(client: Client, kit: InMemoryKit) -> None:
    node_key = await enroll(client)
    kit.logs.failing = True
    body = {"node_key": node_key, "log_type": "result", "data": [{"name": "q"}]}
    refused = await client.post("/api/osquery/log", json=body)
    assert refused.status_code == 413 and "error" in refused.json()
    kit.logs.failing = False
    assert (await client.post("/api/osquery/log", json=body)).status_code == 200
    assert len(kit.logs.records("result")) == 1


async def test_an_unknown_log_type_is_an_error(client: Client) -> None:
    node_key = await enroll(client)
    response = await client.post("/api/osquery/log", json={"node_key": node_key, "log_type": "x", "data": []})
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.parametrize(("content", "headers"), [
    (b"{not json", {}),
    (b"[1, 2]", {}),
    (b"not gzip at all", {"Content-Encoding": "gzip"}),
    (gzip.compress(b"{broken"), {"Content-Encoding": "gzip"}),
])
async def test_malformed_bodies_are_failures_osquery_can_see(client: Client, content: bytes,
                                                             headers: dict[str, str]) -> None:
    response = await client.post("/api/osquery/distributed/read", content=content,
                                 headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 400
    assert "error" in response.json()


async def test_a_gzip_bomb_is_refused_without_inflating_it(client: Client) -> None:
    bomb = gzip.compress(b"{" + b" " * (2 * 1024 * 1024) + b"}")
    response = await client.post("/api/osquery/config", content=bomb,
                                 headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 400 and "too large" in response.json()["error"]


async def test_a_deleted_host_is_told_to_re_enroll(client: Client, kit: InMemoryKit) -> None:
    node_key = await enroll(client)
    assert (await client.post("/api/osquery/config", json={"node_key": node_key})).status_code == 200
    host = await host_row(kit)
    async with kit.store.unit_of_work() as uow:
        await uow.hosts.delete([host.id])
        await uow.commit()
    await kit.services.bus.publish([host.id])
    response = await client.post("/api/osquery/distributed/read", json={"node_key": node_key})
    assert response.status_code == 401 and response.json()["node_invalid"] is True


async def test_check_ins_are_recorded_in_one_batch(client: Client, kit: InMemoryKit) -> None:
    node_key = await enroll(client)
    kit.clock.advance(dt.timedelta(minutes=5))  # type: ignore[attr-defined]
    await client.post("/api/osquery/distributed/read", json={"node_key": node_key})
    assert await kit.services.agents.flush_seen() == 1
    assert (await host_row(kit)).seen_time == kit.clock.now()


async def test_a_team_hosts_config_comes_from_its_teams_agent_options(client: Client, kit: InMemoryKit) -> None:
    team_options = {"config": {"options": {"distributed_interval": 33, "logger_tls_period": 20}},
                    "overrides": {"platforms": {"windows": {"options": {"distributed_interval": 44}}}}}
    async with kit.store.unit_of_work() as uow:
        team = await uow.teams.add(name="Configured", description="", at=kit.clock.now())
        await uow.teams.set_agent_options(team.id, team_options)
        await uow.enroll_secrets.replace(team.id, ["configured-secret"], kit.clock.now())
        await uow.commit()
    mac = await enroll(client, "team-mac", secret="configured-secret")
    windows = await enroll(client, "team-win", secret="configured-secret",
                           details={"os_version": {"name": "Windows 11", "platform": "windows"}})
    mac_config = (await client.post("/api/osquery/config", json={"node_key": mac})).json()
    assert mac_config["options"] == {**CARVER_OPTIONS, "distributed_interval": 33, "logger_tls_period": 20}
    win_config = (await client.post("/api/osquery/config", json={"node_key": windows})).json()
    assert win_config == {"options": {**CARVER_OPTIONS, "distributed_interval": 44}}
    # The intervals a host was told to use are stored: they decide whether it is online.
    assert (await host_row(kit, "team-mac")).distributed_interval == 33
