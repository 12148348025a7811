"""The console's policies, software, labels, schedule/packs and carves pages over the in-memory
kit: forms through the core services, field errors, escaping, CSRF refusal, and what observers
are offered and refused. The browser tests (tests/browser/test_console_admin.py) drive the same
pages in Chromium against `fleet serve`."""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fleet_core.authz import Viewer
from fleet_core.model.hosts import HostFacts, SoftwareItem
from fleet_core.model.vulnerabilities import CVEMeta
from fleet_core.model.vulnerability_job import SoftwareCVE
from fleet_core.services.carves import CarveBegin
from tests.http.support import ADMIN_EMAIL, PASSWORD, Cast, Fleet
from tests.http.test_http_hosts import add_host
from tests.http.test_http_software import refresh_counts

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _no_redirects(client: AsyncTestClient[Litestar]) -> None:
    client.follow_redirects = False


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def console_login(client: AsyncTestClient[Litestar], email: str) -> None:
    page = await client.get("/login")
    response = await client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page)})
    assert response.status_code == 303, response.text


async def post_form(client: AsyncTestClient[Litestar], page_path: str, action: str,
                    data: dict[str, str | list[str]]) -> httpx.Response:
    """Submit a form as the browser would: the CSRF token from the page the form is on."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    return await client.post(action, data={**data, "csrf_token": csrf_of(page)})


async def test_admin_adds_edits_and_deletes_a_global_policy(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    bad = await post_form(client, "/policies/new", "/policies", {"name": "", "query": "SELECT 1;"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    made = await post_form(client, "/policies/new", "/policies", {
        "name": "Disk <encrypted>", "query": "SELECT 1 FROM disk_encryption;", "platform": ["darwin", "windows"],
        "critical": "on"})
    assert made.status_code == 303, made.text
    [policy] = await fleet.kit.services.policies.list(await _admin_viewer(fleet))
    assert (policy.name, policy.platform, policy.critical) == ("Disk <encrypted>", "darwin,windows", True)
    assert made.headers["location"] == f"/policies/{policy.id}"
    listing = await client.get("/policies")
    assert "Disk &lt;encrypted&gt;" in listing.text and "<encrypted>" not in listing.text
    assert f"/hosts?policy_id={policy.id}&amp;policy_response=failing" in listing.text
    edited = await post_form(client, f"/policies/{policy.id}", f"/policies/{policy.id}", {
        "name": "Disk encrypted", "query": "SELECT 2;"})
    assert edited.status_code == 303
    detail = await client.get(f"/policies/{policy.id}")
    assert "SELECT 2;" in detail.text and 'id="failing-count">0<' in detail.text
    gone = await post_form(client, f"/policies/{policy.id}", f"/policies/{policy.id}/delete", {})
    assert gone.status_code == 303
    assert await fleet.kit.services.policies.list(await _admin_viewer(fleet)) == []
    assert (await client.get(f"/policies/{policy.id}")).status_code == 404


async def _admin_viewer(fleet: Fleet) -> Viewer:
    assert fleet.admin is not None
    return await fleet.kit.services.auth.authenticate(fleet.admin.token)


async def test_team_policies_and_the_failing_policies_automation(cast: Cast) -> None:
    client = cast.fleet.client
    await console_login(client, ADMIN_EMAIL)
    made = await post_form(client, f"/policies/new?team_id={cast.team_one}", f"/policies?team_id={cast.team_one}",
                           {"name": "Team check", "query": "SELECT 1;"})
    assert made.status_code == 303 and made.headers["location"].endswith(f"?team_id={cast.team_one}")
    team_page = await client.get(f"/policies?team_id={cast.team_one}")
    assert "Team check" in team_page.text and "Team policies" in team_page.text
    assert "Team check" not in (await client.get("/policies")).text
    assert "<dd>Team Team One</dd>" in (await client.get(made.headers["location"])).text
    global_made = await post_form(client, "/policies/new", "/policies", {"name": "Global check", "query": "SELECT 1;"})
    global_id = global_made.headers["location"].rsplit("/", 1)[-1]
    automations = await client.get("/policies/automations")
    assert f'name="policy_ids" value="{global_id}"' in automations.text and "Team check" not in automations.text
    saved = await client.post("/policies/automations", data={
        "enabled": "on", "destination_url": "https://hooks.example.com/failing", "host_batch_size": "10",
        "policy_ids": [global_id], "csrf_token": csrf_of(automations)})
    assert saved.status_code == 303, saved.text
    config = await cast.fleet.kit.services.config.current()
    webhook = config.webhook_settings.failing_policies_webhook
    assert webhook.enable_failing_policies_webhook and webhook.destination_url == "https://hooks.example.com/failing"
    assert (webhook.policy_ids, webhook.host_batch_size) == ([int(global_id)], 10)
    shown = await client.get("/policies/automations")
    assert f'value="{global_id}" checked' in shown.text


async def test_an_observer_is_offered_no_edits_and_crafted_posts_are_refused(cast: Cast) -> None:
    client = cast.fleet.client
    await console_login(client, cast["observer"].email)
    for path, forbidden in [("/policies", "Add policy"), ("/labels", "Add dynamic label"), ("/packs", "Add pack"),
                            ("/packs", "Schedule a query")]:
        page = await client.get(path)
        assert page.status_code == 200, (path, page.text)
        assert forbidden not in page.text, path
    page = await client.get("/policies")
    refused = await client.post("/policies", data={"name": "Sneaky", "query": "SELECT 1;", "csrf_token": csrf_of(page)})
    assert refused.status_code == 403 and "You do not have permission" in refused.text
    refused_label = await client.post("/labels", data={"name": "Sneaky", "query": "SELECT 1;",
                                                       "csrf_token": csrf_of(page)})
    assert refused_label.status_code == 403
    refused_pack = await client.post("/packs", data={"name": "Sneaky", "csrf_token": csrf_of(page)})
    assert refused_pack.status_code == 403
    # Observers read no carves at all (the core refuses the listing).
    assert (await client.get("/carves")).status_code == 403


async def test_a_post_without_the_csrf_token_changes_nothing(fleet: Fleet) -> None:
    await console_login(fleet.client, ADMIN_EMAIL)
    refused = await fleet.client.post("/labels", data={"name": "No token", "query": "SELECT 1;"})
    assert refused.status_code == 403
    assert "No token" not in (await fleet.client.get("/labels")).text


async def test_labels_dynamic_and_manual_with_their_hosts(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    async with fleet.kit.store.unit_of_work() as uow:
        host = (await uow.hosts.enroll(osquery_host_id="h-1", node_key_hash="k-1", team_id=None,
                                       at=fleet.clock.now(), fields={"hostname": "<b>web-1</b>"})).host
        await uow.commit()
    dynamic = await post_form(client, "/labels/new", "/labels", {
        "membership": "dynamic", "name": "Ubuntu boxes", "query": "SELECT 1 FROM os_version;", "platform": "ubuntu"})
    assert dynamic.status_code == 303, dynamic.text
    manual_form = await client.get("/labels/new?membership=manual")
    assert "&lt;b&gt;web-1&lt;/b&gt;" in manual_form.text
    manual = await client.post("/labels", data={"membership": "manual", "name": "Hand picked",
                                                "host_ids": [str(host.id)], "csrf_token": csrf_of(manual_form)})
    assert manual.status_code == 303, manual.text
    detail = await client.get(manual.headers["location"])
    assert 'id="label-host-count">1<' in detail.text and "&lt;b&gt;web-1&lt;/b&gt;" in detail.text
    listing = await client.get("/labels")
    assert "Ubuntu boxes" in listing.text and "Hand picked" in listing.text
    duplicate = await post_form(client, "/labels/new", "/labels", {
        "membership": "dynamic", "name": "Ubuntu boxes", "query": "SELECT 1;"})
    assert duplicate.status_code == 409
    builtin = re.search(r'href="/labels/(\d+)">All Hosts<', listing.text)
    assert builtin
    builtin_page = await client.get(f"/labels/{builtin.group(1)}")
    assert "Built-in (read-only)" in builtin_page.text and "Edit label" not in builtin_page.text
    refused = await client.post(f"/labels/{builtin.group(1)}/delete", data={"csrf_token": csrf_of(builtin_page)})
    assert refused.status_code == 422


async def test_software_list_filters(fleet: Fleet) -> None:
    await console_login(fleet.client, ADMIN_EMAIL)
    page = await fleet.client.get("/software?query=zzz&vulnerable=true")
    assert page.status_code == 200
    assert 'value="zzz"' in page.text and "No software matches." in page.text


async def test_vulnerable_software_shows_its_cves_with_scores_and_nvd_links(fleet: Fleet) -> None:
    await add_host(fleet, "web-1", facts=HostFacts(software=(SoftwareItem("openssl", "1.1.1k", "deb_packages"),
                                                             SoftwareItem("vim", "9.1", "deb_packages"))))
    await refresh_counts(fleet)
    now = fleet.clock.now()
    async with fleet.kit.store.unit_of_work() as uow:
        [openssl] = [row for row in await uow.vulnerabilities.software_batch(0, 10) if row.software.name == "openssl"]
        await uow.vulnerabilities.replace_cves([openssl.software.id],
                                               [SoftwareCVE(openssl.software.id, "CVE-2021-3711", "1.1.1l")], now)
        await uow.vulnerabilities.upsert_cve_meta([CVEMeta(cve="CVE-2021-3711", cvss_score=9.8,
                                                           epss_probability=0.25, cisa_known_exploit=True)])
        await uow.commit()
    await console_login(fleet.client, ADMIN_EMAIL)
    everything = (await fleet.client.get("/software")).text
    assert "openssl" in everything and "vim" in everything
    vulnerable = (await fleet.client.get("/software?vulnerable=true")).text
    assert "openssl" in vulnerable and "vim" not in vulnerable
    assert 'href="https://nvd.nist.gov/vuln/detail/CVE-2021-3711"' in vulnerable
    assert "CVSS 9.8" in vulnerable and "EPSS 25.0%" in vulnerable and "CISA KEV" in vulnerable
    assert "fixed in 1.1.1l" in vulnerable
    searched = (await fleet.client.get("/software?query=vim")).text
    assert "vim" in searched and "openssl" not in searched


async def test_packs_and_the_global_schedule(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    query = await client.post("/api/v1/fleet/queries", headers=fleet.as_admin,
                              json={"name": "uptime", "query": "SELECT * FROM uptime;"})
    assert query.status_code == 200, query.text
    query_id = str(query.json()["query"]["id"])
    bad = await post_form(client, "/packs", "/packs/schedule", {"query_id": query_id, "interval": "0"})
    assert bad.status_code == 422 and 'id="field-interval-error"' in bad.text
    scheduled = await post_form(client, "/packs", "/packs/schedule", {
        "query_id": query_id, "interval": "600", "logging": "snapshot", "platform": "linux"})
    assert scheduled.status_code == 303, scheduled.text
    schedule_page = await client.get("/packs")
    assert "600 s" in schedule_page.text and "snapshot" in schedule_page.text
    made = await post_form(client, "/packs/new", "/packs", {"name": "Compliance", "description": "CIS"})
    assert made.status_code == 303, made.text
    pack_path = made.headers["location"]
    added = await post_form(client, pack_path, pack_path + "/queries", {"query_id": query_id, "interval": "120"})
    assert added.status_code == 303, added.text
    disabled = await post_form(client, pack_path, pack_path + "/toggle", {"disabled": "true"})
    assert disabled.status_code == 303
    detail = await client.get(pack_path)
    assert 'id="pack-status">Disabled<' in detail.text and "120 s" in detail.text
    deleted = await post_form(client, pack_path, pack_path + "/delete", {})
    assert deleted.status_code == 303
    assert (await client.get(pack_path)).status_code == 404


async def test_carves_list_and_download(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    async with fleet.kit.store.unit_of_work() as uow:
        host = (await uow.hosts.enroll(osquery_host_id="c-1", node_key_hash="k-c1", team_id=None,
                                       at=fleet.clock.now(), fields={"hostname": "carved-host"})).host
        await uow.commit()
    made = await fleet.kit.services.carves.begin(host, CarveBegin(2, 4, 6, "guid", "fleet_distributed_query_1"))
    listing = await client.get("/carves")
    assert "carved-host" in listing.text and "1 of 2" not in listing.text and "in progress" in listing.text
    assert (await client.get(f"/carves/{made.id}/download")).status_code == 400
    for block_id, data in enumerate([b"abcd", b"ef"]):
        await fleet.kit.services.carves.block(session_id=made.session_id, request_id="fleet_distributed_query_1",
                                              block_id=block_id, data=base64.b64encode(data).decode())
    listing = await client.get("/carves")
    assert "2 of 2" in listing.text and f"/carves/{made.id}/download" in listing.text
    download = await client.get(f"/carves/{made.id}/download")
    assert download.status_code == 200 and download.content == b"abcdef"
    assert "attachment" in download.headers["content-disposition"]


async def test_a_team_admin_manages_their_teams_policies_only(cast: Cast) -> None:
    client = cast.fleet.client
    await console_login(client, cast["team_admin"].email)
    own = await client.get("/policies")
    assert own.status_code == 200 and "Team policies" in own.text
    assert f'href="/policies/new?team_id={cast.team_one}"' in own.text
    made = await post_form(client, "/policies", f"/policies?team_id={cast.team_one}",
                           {"name": "Team one check", "query": "SELECT 1;"})
    assert made.status_code == 303, made.text
    assert (await client.get(f"/policies?team_id={cast.team_two}")).status_code == 403
    refused = await post_form(client, "/policies", "/policies", {"name": "Global attempt", "query": "SELECT 1;"})
    assert refused.status_code == 403


async def test_editing_a_label_checks_its_fields(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    made = await post_form(client, "/labels/new", "/labels", {
        "membership": "dynamic", "name": "Before", "query": "SELECT 1;", "platform": ""})
    path = made.headers["location"]
    bad = await post_form(client, path, path, {"name": "  ", "query": "SELECT 1;", "platform": ""})
    assert bad.status_code == 422 and 'id="field-name-error"' in bad.text
    good = await post_form(client, path, path, {"name": "After", "query": "SELECT 2;", "platform": "darwin"})
    assert good.status_code == 303
    page = await client.get(path)
    assert "<h1>After</h1>" in page.text and "SELECT 2;" in page.text


async def test_a_team_maintainer_schedules_for_their_team_and_sees_no_packs(cast: Cast) -> None:
    fleet = cast.fleet
    query = await fleet.client.post("/api/v1/fleet/queries", headers=fleet.as_admin,
                                    json={"name": "team uptime", "query": "SELECT * FROM uptime;",
                                          "team_id": cast.team_one})
    assert query.status_code == 200, query.text
    client = fleet.client
    await console_login(client, cast["team_maintainer"].email)
    page = await client.get("/packs")
    assert page.status_code == 200 and "Team schedule" in page.text
    assert "team uptime (team)" in page.text and "<h2 id=\"packs-title\">" not in page.text
    added = await client.post(f"/packs/schedule?team_id={cast.team_one}", data={
        "query_id": str(query.json()["query"]["id"]), "interval": "300", "logging": "differential_ignore_removals",
        "csrf_token": csrf_of(page)})
    assert added.status_code == 303, added.text
    schedule = await client.get(f"/packs?team_id={cast.team_one}")
    assert "300 s" in schedule.text and "differential ignore removals" in schedule.text
    refused = await client.post("/packs/schedule", data={
        "query_id": str(query.json()["query"]["id"]), "interval": "300", "csrf_token": csrf_of(page)})
    assert refused.status_code == 403


async def test_editing_a_pack_sets_its_targets(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    made = await post_form(client, "/packs/new", "/packs", {"name": "Targets"})
    path = made.headers["location"]
    pack_id = int(path.rsplit("/", 1)[-1])
    labels = await fleet.kit.services.labels.summary(await _admin_viewer(fleet))
    all_hosts = next(label for label in labels if label.name == "All Hosts")
    saved = await post_form(client, path, path, {"name": "Targets renamed", "label_ids": [str(all_hosts.id)]})
    assert saved.status_code == 303, saved.text
    pack = await fleet.kit.services.packs.get(await _admin_viewer(fleet), pack_id)
    assert (pack.name, pack.targets.label_ids) == ("Targets renamed", (all_hosts.id,))
    page = await client.get(path)
    assert f'name="label_ids" value="{all_hosts.id}" checked' in page.text
    # The global schedule's name is reserved: a field error, and the pack keeps its name.
    reserved = await post_form(client, path, path, {"name": "Global"})
    assert reserved.status_code == 422 and 'id="field-name-error"' in reserved.text
    assert (await fleet.kit.services.packs.get(await _admin_viewer(fleet), pack_id)).name == "Targets renamed"
