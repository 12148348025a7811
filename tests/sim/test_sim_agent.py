"""One simulated host driven step by step against the fake osquery server."""

from __future__ import annotations

import gzip

import httpx
import msgspec
import pytest

from fleet_osquery.sim.agent import SimOptions, SimulatedHost, calendar_time
from fleet_osquery.sim.answers import AnswerRules
from fleet_osquery.sim.stats import Endpoint, Outcome, Stats
from fleet_osquery.sim.templates import get_template
from fleet_osquery.sim.wire import Wire, make_client
from tests.sim.conftest import FakeClock, HostFactory
from tests.sim.fakes import FakeOsqueryServer

pytestmark = pytest.mark.anyio


def _all_strings(rows: object) -> bool:
    return isinstance(rows, list) and all(
        isinstance(r, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in r.items()) for r in rows
    )


async def test_enroll_sends_what_osqueryd_sends(fake: FakeOsqueryServer, make_host: HostFactory) -> None:
    host = make_host("windows_11")
    assert await host.enroll()
    (req,) = fake.of("enroll")
    assert set(req.body) == {"enroll_secret", "host_identifier", "platform_type", "host_details"}
    assert req.body["enroll_secret"] == fake.secret
    assert req.body["host_identifier"] == host.identity.uuid
    assert isinstance(req.body["platform_type"], str)
    details = req.body["host_details"]
    assert {"os_version", "osquery_info", "system_info", "platform_info"} <= set(details)
    assert all(_all_strings([row]) for row in details.values())
    assert details["os_version"]["platform"] == "windows"
    assert req.headers["user-agent"].startswith("osquery/")
    assert req.headers["content-type"] == "application/json"
    assert host.node_key == "key-0"


async def test_a_wrong_secret_fails_the_enroll_and_leaves_no_key(
    fake: FakeOsqueryServer, make_host: HostFactory
) -> None:
    host = make_host(secret="wrong")
    assert not await host.enroll()
    assert host.node_key is None
    assert host.stats.endpoints[Endpoint.ENROLL].outcomes[Outcome.NODE_INVALID] == 1
    # The retry delay holds back the automatic re-enroll a loop step would do.
    assert await host.fetch_config() is None
    assert len(fake.of("enroll")) == 1


async def test_node_key_goes_in_the_body_of_every_authenticated_request(
    fake: FakeOsqueryServer, make_host: HostFactory
) -> None:
    host = make_host()
    await host.fetch_config()  # enrolls first, as getNodeKey does
    fake.queue_queries(host.host_identifier, {"fleet_detail_query_osquery_info": "select * from osquery_info limit 1"})
    await host.check_in()
    await host.send_logs()
    endpoints = [r.endpoint for r in fake.received]
    assert endpoints == ["enroll", "config", "distributed/read", "distributed/write", "log", "log"]
    for r in fake.received[1:]:
        assert r.body["node_key"] == host.node_key
        assert "node_key" not in r.headers


async def test_node_invalid_forgets_the_key_and_the_next_request_reenrolls(
    fake: FakeOsqueryServer, make_host: HostFactory
) -> None:
    host = make_host()
    assert await host.enroll()
    fake.invalidate_all()
    first = await host.check_in()
    assert first.read is Outcome.NODE_INVALID
    assert host.node_key is None
    second = await host.check_in()
    assert second.read is Outcome.OK
    assert host.node_key == "key-1"
    assert [r.endpoint for r in fake.received] == ["enroll", "distributed/read", "enroll", "distributed/read"]
    report = host.stats.report(elapsed_s=1, hosts=1, started_hosts=1, enrolled_hosts=1)
    assert report["totals"]["reenrolls"] == 1
    assert report["endpoints"]["distributed_read"]["node_invalid"] == 1
    assert report["endpoints"]["distributed_read"]["errors"] == 0


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (500, {"error": "boom", "uuid": "x"}, Outcome.ERROR_BODY),
        (200, {"error": "still an error"}, Outcome.ERROR_BODY),  # osqueryd ignores the status
        (503, {}, Outcome.HTTP_ERROR),
        (200, b"<html>gateway</html>", Outcome.BAD_BODY),
        (200, b"[1, 2]", Outcome.BAD_BODY),
    ],
)
async def test_failed_responses_count_as_errors_and_change_nothing(
    fake: FakeOsqueryServer, make_host: HostFactory, status: int, body: object, outcome: Outcome
) -> None:
    host = make_host()
    await host.enroll()
    fake.queue_response("config", status, body)
    assert await host.fetch_config() is outcome
    assert host.last_config is None
    assert host.node_key == "key-0"
    summary = host.stats.endpoints[Endpoint.CONFIG].summary(1.0)
    assert summary["errors"] == 1 and summary["ok"] == 0
    assert summary["status_codes"] == {str(status): 1}


async def test_transport_errors_are_counted_without_a_latency() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with make_client(transport=httpx.MockTransport(refuse)) as client:
        host = SimulatedHost(0, get_template("rhel_9"), Wire(client, "https://x", "/api/osquery", Stats()), "s")
        assert not await host.enroll()
        ep = host.stats.endpoints[Endpoint.ENROLL]
        assert ep.outcomes[Outcome.TRANSPORT] == 1 and len(ep.latencies_ms) == 0


async def test_config_schedule_is_learned_from_packs_and_filtered_by_platform(
    fake: FakeOsqueryServer, make_host: HostFactory
) -> None:
    mac, win = make_host("macos_14", 0), make_host("windows_11", 1)
    await mac.fetch_config()
    await win.fetch_config()
    assert set(mac.schedule) == {"pack/Global/USB devices", "pack/team-3/Listening ports_3"}
    assert set(win.schedule) == {"pack/Global/USB devices"}  # team-3's query is darwin,linux only
    assert mac.last_config == fake.config


async def test_write_answers_in_sorted_order_with_statuses_messages_and_stats(
    fake: FakeOsqueryServer, make_host: HostFactory
) -> None:
    host = make_host("ubuntu_22.04")
    await host.enroll()
    queries = {
        "fleet_policy_query_12": "SELECT 1 FROM os_version WHERE platform = 'ubuntu';",
        "fleet_detail_query_system_info": "select * from system_info limit 1",
        "fleet_detail_query_software_linux": "SELECT name, version FROM deb_packages",
        "fleet_label_query_7": "SELECT 1 FROM os_version WHERE platform = 'darwin';",
        "fleet_detail_query_battery": "SELECT serial_number, cycle_count, health FROM battery",
        "fleet_something_else": "SELECT 42",
    }
    fake.queue_queries(host.host_identifier, queries)
    result = await host.check_in()
    assert result.write is Outcome.OK
    (write,) = fake.of("distributed/write")
    body = write.body
    assert set(body) == {"node_key", "queries", "statuses", "messages", "stats"}
    assert list(body["queries"]) == sorted(queries)
    assert set(body["statuses"]) == set(body["messages"]) == set(body["stats"]) == set(queries)
    for name, rows in body["queries"].items():
        assert _all_strings(rows), name
        assert isinstance(body["statuses"][name], int)
        assert set(body["stats"][name]) == {"wall_time_ms", "user_time", "system_time", "memory"}
    assert body["queries"]["fleet_policy_query_12"] == [{"1": "1"}]
    assert body["queries"]["fleet_label_query_7"] == []
    assert body["queries"]["fleet_something_else"] == [{"foo": "bar"}]
    assert body["queries"]["fleet_detail_query_system_info"][0]["uuid"] == host.identity.uuid
    software = body["queries"]["fleet_detail_query_software_linux"]
    assert {r["source"] for r in software} >= {"deb_packages", "python_packages"}
    assert all({"name", "version", "source"} <= set(r) for r in software)
    # Ubuntu has no battery table: osquery answers with an error status and a message.
    assert body["statuses"]["fleet_detail_query_battery"] == 1
    assert body["messages"]["fleet_detail_query_battery"] == "no such table: battery"
    assert body["messages"]["fleet_policy_query_12"] == ""
    assert host.queries_answered["fleet_label_query_7"] == 1


async def test_discovery_gates_queries_and_platform_tables_decide(
    fake: FakeOsqueryServer, make_host: HostFactory
) -> None:
    queries = {
        "fleet_detail_query_mdm": "select enrolled, server_url, installed_from_dep, payload_identifier from mdm;",
        "fleet_detail_query_osquery_info": "select * from osquery_info limit 1",
        "fleet_detail_query_kubequery_info": "SELECT * FROM kubernetes_info",
        "fleet_policy_query_3": "SELECT 1;",
    }
    discovery = {
        "fleet_detail_query_mdm": "SELECT 1 FROM osquery_registry WHERE active = true AND registry = 'table' "
        "AND name = 'mdm'",
        "fleet_detail_query_osquery_info": "SELECT 1",
        "fleet_detail_query_kubequery_info": "SELECT 1 FROM osquery_registry WHERE name = 'kubernetes_info'",
        "fleet_policy_query_3": "SELECT 0",
    }
    mac, linux = make_host("macos_14", 0), make_host("ubuntu_22.04", 1)
    for host in (mac, linux):
        await host.enroll()
        fake.queue_queries(host.host_identifier, queries, discovery)
        await host.check_in()
    mac_write, linux_write = (w.body["queries"] for w in fake.of("distributed/write"))
    assert list(mac_write) == ["fleet_detail_query_mdm", "fleet_detail_query_osquery_info"]
    assert mac_write["fleet_detail_query_mdm"][0]["enrolled"] == "false"
    assert list(linux_write) == ["fleet_detail_query_osquery_info"]
    assert linux.last_check_in is not None and linux.last_check_in.answered == ["fleet_detail_query_osquery_info"]


async def test_policy_and_live_query_rules_follow_their_probabilities(
    fake: FakeOsqueryServer, make_host: HostFactory
) -> None:
    rules = AnswerRules(policy_pass_prob=0.0, live_query_no_results_prob=0.0)
    always = make_host("macos_14", 0, options=SimOptions(seed=7, rules=rules))
    rules = AnswerRules(policy_pass_prob=1.0, live_query_no_results_prob=1.0)
    never = make_host("macos_14", 1, options=SimOptions(seed=7, rules=rules))
    queries = {
        "fleet_policy_query_1": "SELECT 1 FROM disk_encryption WHERE encrypted = 1;",
        "fleet_policy_query_2": "SELECT 0 FROM os_version;",
        "fleet_policy_query_3": "select 1",
        "fleet_distributed_query_9": "SELECT * FROM os_version",
    }
    for host in (always, never):
        await host.enroll()
        fake.queue_queries(host.host_identifier, queries)
        await host.check_in()
    first, second = (w.body["queries"] for w in fake.of("distributed/write"))
    assert first["fleet_policy_query_1"] == [] and second["fleet_policy_query_1"] == [{"1": "1"}]
    assert first["fleet_policy_query_2"] == [] and second["fleet_policy_query_2"] == []
    assert first["fleet_policy_query_3"] == [{"1": "1"}] and second["fleet_policy_query_3"] == [{"1": "1"}]
    assert first["fleet_distributed_query_9"][0]["name"] == "macOS"
    assert second["fleet_distributed_query_9"] == []


async def test_accelerate_shortens_the_distributed_interval_for_its_window(
    fake: FakeOsqueryServer, make_host: HostFactory, clock: FakeClock
) -> None:
    host = make_host()
    await host.enroll()
    assert host.distributed_interval() == 10.0
    fake.queue_queries(host.host_identifier, {}, accelerate=10)
    result = await host.check_in()
    assert result.accelerate == 10 and result.write is None
    assert host.distributed_interval() == 5.0
    clock.now += 10.5
    assert host.distributed_interval() == 10.0


async def test_log_records_have_osquery_snapshot_and_status_shapes(
    fake: FakeOsqueryServer, make_host: HostFactory, clock: FakeClock
) -> None:
    host = make_host("ubuntu_22.04")
    await host.fetch_config()
    assert await host.send_logs() == 4
    results, statuses = fake.of("log")
    assert results.body["log_type"] == "result" and statuses.body["log_type"] == "status"
    by_name = {r["name"]: r for r in results.body["data"]}
    assert set(by_name) == {"pack/Global/USB devices", "pack/team-3/Listening ports_3"}
    record = by_name["pack/team-3/Listening ports_3"]
    assert set(record) == {
        "snapshot",
        "action",
        "name",
        "hostIdentifier",
        "calendarTime",
        "unixTime",
        "epoch",
        "counter",
        "numerics",
        "decorations",
    }
    assert record["action"] == "snapshot"
    assert len(record["snapshot"]) == 3 and _all_strings(record["snapshot"])  # Name_3 reports 3 rows
    assert record["hostIdentifier"] == host.identity.uuid
    assert record["decorations"] == {"host_uuid": host.identity.uuid, "hostname": host.identity.hostname}
    assert record["unixTime"] == 1738189037 and record["calendarTime"] == "Wed Jan 29 22:17:17 2025 UTC"
    for status in statuses.body["data"]:
        assert all(isinstance(v, str) for k, v in status.items() if k != "decorations")
        assert status["message"].startswith("Executing scheduled query pack/")
    # Nothing is due again until the interval passes.
    assert await host.send_logs() == 0
    clock.now += 600
    assert await host.send_logs() == 2
    assert fake.of("log")[-2].body["data"][0]["counter"] == 1


async def test_logs_go_in_batches_of_at_most_1024_lines(fake: FakeOsqueryServer, make_host: HostFactory) -> None:
    fake.config = {
        "packs": {"Big": {"queries": {f"q{i:04d}": {"query": "SELECT 1", "interval": 60} for i in range(1100)}}}
    }
    host = make_host()
    await host.fetch_config()
    assert await host.send_logs() == 2048
    assert [len(r.body["data"]) for r in fake.of("log")] == [1024, 1024]
    assert await host.send_logs() == 152
    assert [len(r.body["data"]) for r in fake.of("log")] == [1024, 1024, 76, 76]
    names = [rec["name"] for r in fake.of("log") if r.body["log_type"] == "result" for rec in r.body["data"]]
    assert names == sorted(names) and len(set(names)) == 1100


@pytest.mark.parametrize(("status", "body"), [(413, {"error": "log destination failed"}), (502, {})])
async def test_unacknowledged_logs_stay_buffered_and_are_retried(
    fake: FakeOsqueryServer, make_host: HostFactory, status: int, body: object
) -> None:
    host = make_host()
    await host.fetch_config()
    fake.queue_response("log", status, body)
    assert await host.send_logs() == 0
    assert len(host.result_buffer) == 2 and len(host.status_buffer) == 2
    assert await host.send_logs() == 4
    first_try, retry = fake.of("log")[0], fake.of("log")[1]
    assert first_try.body["data"] == retry.body["data"]
    assert not host.result_buffer and not host.status_buffer


async def test_gzip_logs_are_sent_compressed(fake: FakeOsqueryServer, make_host: HostFactory) -> None:
    seen: list[httpx.Request] = []
    inner = fake.transport()

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return inner.handle_request(request)

    host = make_host(options=SimOptions(seed=7, gzip_logs=True))
    async with make_client(transport=httpx.MockTransport(spy)) as client:
        host.wire = Wire(client, "https://fleet.test", "/api/osquery", host.stats)
        await host.fetch_config()
        assert await host.send_logs() == 4
    logs = [r for r in seen if r.url.path.endswith("/log")]
    assert logs and all(r.headers["content-encoding"] == "gzip" for r in logs)
    decoded = msgspec.json.decode(gzip.decompress(logs[0].content))
    assert decoded["log_type"] == "result" and decoded["node_key"] == host.node_key
    assert all("content-encoding" not in r.headers for r in seen if not r.url.path.endswith("/log"))


async def test_v1_api_prefix_is_used_when_asked(fake: FakeOsqueryServer, make_host: HostFactory) -> None:
    host = make_host(api_prefix="/api/v1/osquery")
    await host.fetch_config()
    assert {r.prefix for r in fake.received} == {"/api/v1/osquery"}


def test_calendar_time_matches_osquery_format() -> None:
    assert calendar_time(1646258574) == "Wed Mar  2 22:02:54 2022 UTC"


async def test_live_answers_are_timed_from_the_read_to_the_acknowledged_write(
    fake: FakeOsqueryServer, make_host: HostFactory
) -> None:
    # The scale bench splits a campaign's delivery time with these: only live queries count.
    host = make_host("macos_14")
    await host.enroll()
    fake.queue_queries(host.host_identifier, {"fleet_distributed_query_5": "SELECT 1",
                                              "fleet_label_query_7": "SELECT 1"})
    assert (await host.check_in()).write is Outcome.OK
    ((name, hostname, read_sent, read_done, written),) = host.stats.live_answers
    assert (name, hostname) == ("fleet_distributed_query_5", host.identity.hostname)
    assert read_sent <= read_done <= written
    # Every request's wait for a pooled connection is counted apart from its latency.
    assert len(host.stats.slot_waits_ms) == sum(len(s.latencies_ms) for s in host.stats.endpoints.values())
