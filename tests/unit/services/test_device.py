"""Fleet Desktop's device routes (fleet_core.services.device): the device token is the whole credential."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AuthFailed, MDMNotConfigured, NotFound, PermissionDenied
from fleet_core.model.policies import PolicyFields
from fleet_core.services.agents import POLICY_PREFIX, QueryResult
from fleet_core.services.device import DEFAULT_TRANSPARENCY_URL, AgentErrorReport
from tests.unit.services.support import Announcements, MakeUser, create_team, enroll_host

pytestmark = pytest.mark.anyio


async def test_a_device_token_names_its_host_until_a_new_one_is_issued(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    first = await kit.services.device.issue_token(admin, host.id)
    assert (await kit.services.device.authenticate(first)).id == host.id
    second = await kit.services.device.issue_token(admin, host.id)
    assert second != first
    assert (await kit.services.device.authenticate(second)).id == host.id
    with pytest.raises(AuthFailed):
        await kit.services.device.authenticate(first)


@pytest.mark.parametrize("token", ["", "not-a-token"])
async def test_an_unknown_token_fails_every_device_call_alike(kit: InMemoryKit, token: str) -> None:
    calls = [kit.services.device.authenticate, kit.services.device.host, kit.services.device.policies,
             kit.services.device.desktop, kit.services.device.refetch, kit.services.device.device_mapping,
             kit.services.device.macadmins, kit.services.device.transparency_url, kit.services.device.require_mdm]
    for call in calls:
        with pytest.raises(AuthFailed):
            await call(token)
    with pytest.raises(AuthFailed):
        await kit.services.device.report_error(token, AgentErrorReport())


async def test_a_deleted_hosts_token_stops_working(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await kit.services.device.issue_token(admin, host.id)
    await kit.services.hosts.delete(admin, host.id)
    with pytest.raises(AuthFailed):
        await kit.services.device.host(token)


async def test_issuing_a_token_needs_write_access_to_the_host(kit: InMemoryKit, admin: Viewer,
                                                              make_user: MakeUser) -> None:
    apples = await create_team(kit, admin, "Apples")
    apple = await enroll_host(kit, admin, "apple", team_id=apples)
    loose = await enroll_host(kit, admin, "loose")
    maintainer = await make_user(teams=[(apples, "maintainer")])
    observer = await make_user(global_role="observer")
    assert await kit.services.device.issue_token(maintainer, apple.id)
    for viewer, host_id in ((maintainer, loose.id), (observer, apple.id)):
        with pytest.raises(PermissionDenied):
            await kit.services.device.issue_token(viewer, host_id)
    with pytest.raises(NotFound):
        await kit.services.device.issue_token(admin, 999)


async def test_the_device_sees_its_host_its_policies_and_its_failing_count(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    other = await enroll_host(kit, admin, "other")
    token = await kit.services.device.issue_token(admin, host.id)
    passed = await kit.services.policies.create(admin, PolicyFields(name="Passed", query="SELECT 1;"))
    failed = await kit.services.policies.create(admin, PolicyFields(name="Failed", query="SELECT 1;"))
    await kit.services.policies.create(admin, PolicyFields(name="Unanswered", query="SELECT 1;"))
    await kit.services.agents.distributed_write(host, {
        f"{POLICY_PREFIX}{passed.id}": QueryResult(rows=[{"1": "1"}]),
        f"{POLICY_PREFIX}{failed.id}": QueryResult(rows=[])})
    await kit.services.agents.distributed_write(other, {f"{POLICY_PREFIX}{passed.id}": QueryResult(rows=[])})
    seen = await kit.services.device.host(token)
    assert (seen.details.host.id, seen.config.org_info.org_name) == (host.id, "Acme")
    responses = {p.policy.name: p.response for p in await kit.services.device.policies(token)}
    assert responses == {"Passed": "pass", "Failed": "fail", "Unanswered": ""}
    assert (await kit.services.device.desktop(token)).failing_policies_count == 1


async def test_a_device_refetch_flags_its_host_and_tells_the_caches(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await kit.services.device.issue_token(admin, host.id)
    heard = Announcements(kit)
    await kit.services.device.refetch(token)
    assert (await kit.services.hosts.get(admin, host.id)).host.refetch_requested
    assert heard.host_ids == {host.id}


async def test_a_host_without_reports_has_no_mapping_nor_mdm(kit: InMemoryKit, admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await kit.services.device.issue_token(admin, host.id)
    assert await kit.services.device.device_mapping(token) == (host.id, [])
    assert await kit.services.device.macadmins(token) == (None, None)
    assert await kit.services.device.transparency_url(token) == DEFAULT_TRANSPARENCY_URL
    with pytest.raises(MDMNotConfigured):
        await kit.services.device.require_mdm(token)


async def test_an_error_report_is_logged_without_the_token_or_the_additional_values(kit: InMemoryKit,
                                                                                   admin: Viewer) -> None:
    host = await enroll_host(kit, admin, "laptop")
    token = await kit.services.device.issue_token(admin, host.id)
    with capture_logs() as logs:
        reported = await kit.services.device.report_error(token, AgentErrorReport(
            error_source="orbit", error_message="x" * 5000,
            error_additional_info={"password": "hunter2", "path": "/etc"}))
    assert reported.id == host.id
    [entry] = [e for e in logs if e["event"] == "fleetd_error_reported"]
    assert (entry["host_id"], entry["error_source"], entry["additional_info_keys"]) == (host.id, "orbit",
                                                                                       ["password", "path"])
    assert len(entry["error_message"]) == 1000
    assert token not in repr(logs) and "hunter2" not in repr(logs)
