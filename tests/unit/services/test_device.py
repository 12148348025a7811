"""Fleet Desktop's device routes (fleet_core.services.device): the device token is the whole
credential; it expires, is refreshed through the node key, and guessing is rate-limited."""

from __future__ import annotations

import datetime as dt

import pytest
from structlog.testing import capture_logs

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed, MDMNotConfigured, NotFound, PermissionDenied, RateLimited
from fleet_core.model.policies import PolicyFields
from fleet_core.services.agents import POLICY_PREFIX, QueryResult
from fleet_core.services.device import (
    DEFAULT_TRANSPARENCY_URL,
    DEVICE_CALLS_PER_TOKEN,
    DEVICE_FAILURE_WINDOW_SECONDS,
    DEVICE_FAILURES_PER_ADDRESS,
    AgentErrorReport,
    DeviceCredential,
)
from tests.unit.services.support import Announcements, MakeUser, create_team, enroll_host

pytestmark = pytest.mark.anyio


def cred(token: str, address: str = "192.0.2.1") -> DeviceCredential:
    return DeviceCredential(token=token, client_address=address)


async def issue(kit: InMemoryKit, admin: Viewer, host_id: int) -> str:
    return (await kit.services.device.issue_token(admin, host_id)).token


async def test_a_device_token_names_its_host_until_a_new_one_is_issued(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    first = await issue(kit, admin, host.id)
    assert (await kit.services.device.authenticate(cred(first))).id == host.id
    second = await issue(kit, admin, host.id)
    assert second != first
    assert (await kit.services.device.authenticate(cred(second))).id == host.id
    with pytest.raises(AuthFailed):
        await kit.services.device.authenticate(cred(first))


@pytest.mark.parametrize("token", ["", "not-a-token"])
async def test_an_unknown_token_fails_every_device_call_alike(kit: InMemoryKit, token: str) -> None:
    calls = [kit.services.device.authenticate, kit.services.device.host, kit.services.device.policies,
             kit.services.device.desktop, kit.services.device.refetch, kit.services.device.device_mapping,
             kit.services.device.macadmins, kit.services.device.transparency_url, kit.services.device.require_mdm]
    for call in calls:
        with pytest.raises(AuthFailed):
            await call(cred(token))
    with pytest.raises(AuthFailed):
        await kit.services.device.report_error(cred(token), AgentErrorReport())


async def test_a_deleted_hosts_token_stops_working(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await issue(kit, admin, host.id)
    await kit.services.hosts.delete(admin, host.id)
    with pytest.raises(AuthFailed):
        await kit.services.device.host(cred(token))


async def test_issuing_a_token_needs_write_access_to_the_host(kit: InMemoryKit, admin: Viewer,
                                                              make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    apple = await enroll_host(kit, admin, "apple", team_id=apples)
    loose = await enroll_host(kit, admin, "loose")
    maintainer = await make_user(teams=[(apples, "maintainer")])
    observer = await make_user(global_role="observer")
    assert (await kit.services.device.issue_token(maintainer, apple.id)).token
    for viewer, host_id in ((maintainer, loose.id), (observer, apple.id)):
        with pytest.raises(PermissionDenied):
            await kit.services.device.issue_token(viewer, host_id)
    with pytest.raises(NotFound):
        await kit.services.device.issue_token(admin, 999)


async def test_the_device_sees_its_host_its_policies_and_its_failing_count(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    other = await enroll_host(kit, admin, "other")
    token = await issue(kit, admin, host.id)
    passed = await kit.services.policies.create(admin, PolicyFields(name="Passed", query="SELECT 1;"))
    failed = await kit.services.policies.create(admin, PolicyFields(name="Failed", query="SELECT 1;"))
    await kit.services.policies.create(admin, PolicyFields(name="Unanswered", query="SELECT 1;"))
    await kit.services.agents.distributed_write(host, {
        f"{POLICY_PREFIX}{passed.id}": QueryResult(rows=[{"1": "1"}]),
        f"{POLICY_PREFIX}{failed.id}": QueryResult(rows=[])})
    await kit.services.agents.distributed_write(other, {f"{POLICY_PREFIX}{passed.id}": QueryResult(rows=[])})
    seen = await kit.services.device.host(cred(token))
    assert (seen.details.host.id, seen.config.org_info.org_name) == (host.id, "Acme")
    responses = {p.policy.name: p.response for p in await kit.services.device.policies(cred(token))}
    assert responses == {"Passed": "pass", "Failed": "fail", "Unanswered": ""}
    assert (await kit.services.device.desktop(cred(token))).failing_policies_count == 1


async def test_a_device_refetch_flags_its_host_and_tells_the_caches(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await issue(kit, admin, host.id)
    heard = Announcements(kit)
    await kit.services.device.refetch(cred(token))
    assert (await kit.services.hosts.get(admin, host.id)).host.refetch_requested
    assert heard.host_ids == {host.id}


async def test_a_host_without_reports_has_no_mapping_nor_mdm(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await issue(kit, admin, host.id)
    assert await kit.services.device.device_mapping(cred(token)) == (host.id, [])
    assert await kit.services.device.macadmins(cred(token)) == (None, None)
    assert await kit.services.device.transparency_url(cred(token)) == DEFAULT_TRANSPARENCY_URL
    with pytest.raises(MDMNotConfigured):
        await kit.services.device.require_mdm(cred(token))


async def test_an_error_report_is_logged_without_the_token_or_the_additional_values(kit: InMemoryKit,
                                                                                   admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await issue(kit, admin, host.id)
    with capture_logs() as logs:
        reported = await kit.services.device.report_error(cred(token), AgentErrorReport(
            error_source="orbit", error_message="x" * 5000,
            error_additional_info={"password": "hunter2", "path": "/etc"}))
    assert reported.id == host.id
    [entry] = [e for e in logs if e["event"] == "fleetd_error_reported"]
    assert (entry["host_id"], entry["error_source"], entry["additional_info_keys"]) == (host.id, "orbit",
                                                                                       ["password", "path"])
    assert len(entry["error_message"]) == 1000
    assert token not in repr(logs) and "hunter2" not in repr(logs)


# ---- lifetime, refresh through the node key, rate limits, kept error reports ----------------------

async def test_a_token_expires_after_the_configured_lifetime(kit: InMemoryKit, clock: MovableClock,
                                                             admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    issued = await kit.services.device.issue_token(admin, host.id)
    ttl = kit.services.device.token_ttl
    assert ttl == dt.timedelta(hours=1)
    assert issued.expires_at == clock.now() + ttl
    clock.advance(ttl - dt.timedelta(seconds=1))
    assert (await kit.services.device.authenticate(cred(issued.token))).id == host.id
    clock.advance(dt.timedelta(seconds=1))
    with pytest.raises(AuthFailed) as expired:
        await kit.services.device.authenticate(cred(issued.token))
    with pytest.raises(AuthFailed) as unknown:
        await kit.services.device.authenticate(cred("never-issued"))
    assert str(expired.value) == str(unknown.value)


async def test_a_host_refreshes_the_token_it_holds_or_gets_a_new_one(kit: InMemoryKit, clock: MovableClock,
                                                                     admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    other = await enroll_host(kit, admin, "other")
    first = await kit.services.device.host_token(host)
    assert first.expires_at == clock.now() + kit.services.device.token_ttl

    clock.advance(dt.timedelta(hours=2))
    # Presenting its own token, even expired, starts its lifetime again: the same token works.
    refreshed = await kit.services.device.host_token(host, first.token)
    assert refreshed.token == first.token
    assert refreshed.expires_at == clock.now() + kit.services.device.token_ttl
    assert (await kit.services.device.authenticate(cred(first.token))).id == host.id

    # Another host's token is never handed over: the caller gets a fresh one of its own.
    other_token = await kit.services.device.host_token(other)
    taken = await kit.services.device.host_token(host, other_token.token)
    assert taken.token not in (other_token.token, first.token)
    assert (await kit.services.device.authenticate(cred(other_token.token))).id == other.id
    assert (await kit.services.device.authenticate(cred(taken.token))).id == host.id
    with pytest.raises(AuthFailed):
        await kit.services.device.authenticate(cred(first.token))


async def test_failures_from_one_address_are_limited_without_locking_out_others(
        kit: InMemoryKit, clock: MovableClock, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await issue(kit, admin, host.id)
    for attempt in range(DEVICE_FAILURES_PER_ADDRESS):
        with pytest.raises(AuthFailed):
            await kit.services.device.authenticate(cred(f"guess-{attempt}", "203.0.113.9"))
    # Past the bound, even a valid token is refused from that address until the window ends.
    with pytest.raises(RateLimited) as limited:
        await kit.services.device.authenticate(cred(token, "203.0.113.9"))
    assert 0 < limited.value.retry_after <= DEVICE_FAILURE_WINDOW_SECONDS
    assert (await kit.services.device.authenticate(cred(token, "198.51.100.7"))).id == host.id
    clock.advance(dt.timedelta(seconds=DEVICE_FAILURE_WINDOW_SECONDS))
    assert (await kit.services.device.authenticate(cred(token, "203.0.113.9"))).id == host.id


async def test_calls_with_one_token_are_limited(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await issue(kit, admin, host.id)
    for _ in range(DEVICE_CALLS_PER_TOKEN):
        await kit.services.device.desktop(cred(token))
    with pytest.raises(RateLimited):
        await kit.services.device.desktop(cred(token, "198.51.100.7"))
    # Another host's token is counted on its own.
    other = await issue(kit, admin, (await enroll_host(kit, admin, "other")).id)
    assert (await kit.services.device.desktop(cred(other))).failing_policies_count == 0


async def test_an_error_report_is_kept_for_the_admins(kit: InMemoryKit, clock: MovableClock, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await issue(kit, admin, host.id)
    await kit.services.device.report_error(cred(token), AgentErrorReport(
        error_source="orbit", error_source_version="1.20.0", error_timestamp="2026-12-04T04:25:15+00:00",
        error_message="boom", error_additional_info={"attempt": 3}))
    [kept] = await kit.services.error_reports.list()
    assert kept == {
        "host_id": host.id, "hostname": host.hostname, "received_at": clock.now().isoformat(),
        "error_source": "orbit", "error_source_version": "1.20.0",
        "error_timestamp": "2026-12-04T04:25:15+00:00", "error_message": "boom",
        "error_additional_info": {"attempt": 3},
    }
    assert token not in repr(kept)
