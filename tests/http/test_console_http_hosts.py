"""The console's hosts, "Add hosts", queries and live query pages over the in-memory kit: status,
escaping of agent data, filters, CSV export, CSRF refusal and what each role is offered or
refused. The browser tests (tests/browser/test_console_hosts.py) drive them in Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fleet_core.model.hosts import HostFacts
from tests.http.support import ADMIN_EMAIL, Cast, Fleet

pytestmark = pytest.mark.anyio

EVIL = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def _no_redirects(client: AsyncTestClient[Litestar]) -> None:
    client.follow_redirects = False


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def console_login(client: AsyncTestClient[Litestar], email: str) -> None:
    from tests.http.support import PASSWORD

    page = await client.get("/login")
    response = await client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page)})
    assert response.status_code == 303, response.text


async def put_host(fleet: Fleet, name: str, *, team_id: int | None = None, **fields: Any) -> int:
    now = fleet.clock.now()
    values: dict[str, Any] = {
        "hostname": name, "uuid": f"uuid-{name}", "platform": "ubuntu", "os_version": "Ubuntu 22.04.1 LTS",
        "osquery_version": "5.9.1", "hardware_serial": f"serial-{name}", "distributed_interval": 10,
        "config_tls_refresh": 10, "logger_tls_period": 10}
    values.update(fields)
    async with fleet.kit.store.unit_of_work() as uow:
        enrollment = await uow.hosts.enroll(osquery_host_id=f"osquery-{name}",
                                            node_key_hash=fleet.kit.services.hosts.tokens.digest(name),
                                            team_id=team_id, at=now, fields=values)
        await uow.hosts.apply_facts(enrollment.host.id, HostFacts(), at=now, details_updated=True,
                                    labels_updated=True, clear_refetch=True)
        await uow.commit()
    return enrollment.host.id


async def test_the_host_list_filters_pages_and_escapes_agent_data(fleet: Fleet) -> None:
    client = fleet.client
    await put_host(fleet, EVIL)
    await put_host(fleet, "web-1", platform="darwin", os_version="macOS 14.1")
    for n in range(3):
        await put_host(fleet, f"db-{n}")
    await console_login(client, ADMIN_EMAIL)
    page = await client.get("/hosts")
    assert page.status_code == 200
    assert EVIL not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "5 hosts" in page.text
    searched = await client.get("/hosts", params={"query": "db-"})
    assert "3 hosts" in searched.text and "web-1" not in searched.text
    paged = await client.get("/hosts", params={"query": "db-", "per_page": "2", "page": "1"})
    assert "db-2" in paged.text and "db-0" not in paged.text and 'rel="prev"' in paged.text
    by_os = await client.get("/hosts", params={"os_name": "macOS", "os_version": "14.1"})
    assert by_os.status_code == 200
    online = await client.get("/hosts", params={"status": "online"})
    assert "5 hosts" in online.text
    # The service's own validation, as a visible error page rather than a 500.
    bad = await client.get("/hosts", params={"status": "sideways"})
    assert bad.status_code == 422
    assert (await client.get("/hosts", params={"label_id": "x"})).status_code == 422
    # Columns are chosen in the URL.
    narrow = await client.get("/hosts", params={"columns": "hostname,hardware_serial"})
    assert "serial-db-0" in narrow.text and ">Platform<" not in narrow.text


async def test_csv_export_is_the_api_report(fleet: Fleet) -> None:
    await put_host(fleet, "csv-1")
    await put_host(fleet, "csv-2")
    await console_login(fleet.client, ADMIN_EMAIL)
    mine = await fleet.client.get("/hosts/export", params={"query": "csv-1"})
    api = await fleet.client.get("/api/v1/fleet/hosts/report", params={"format": "csv", "query": "csv-1"},
                                 headers=fleet.as_admin)
    assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/csv")
    assert mine.text == api.text
    assert "csv-1" in mine.text and "csv-2" not in mine.text


async def test_host_details_and_actions(fleet: Fleet) -> None:
    client = fleet.client
    team = await fleet.add_team("Servers")
    host_id = await put_host(fleet, EVIL)
    await console_login(client, ADMIN_EMAIL)
    page = await client.get(f"/hosts/{host_id}")
    assert page.status_code == 200
    assert EVIL not in page.text and "Vitals" in page.text and "Query this host" in page.text
    assert f'href="/live?host_id={host_id}"' in page.text
    token = csrf_of(page)
    refetch = await client.post(f"/hosts/{host_id}/refetch", data={"csrf_token": token})
    assert refetch.status_code == 303
    moved = await client.post(f"/hosts/{host_id}/transfer", data={"csrf_token": token, "team_id": str(team)})
    assert moved.status_code == 303
    detail = await client.get(f"/api/v1/fleet/hosts/{host_id}", headers=fleet.as_admin)
    assert detail.json()["host"]["team_id"] == team and detail.json()["host"]["refetch_requested"] is True
    bad_team = await client.post(f"/hosts/{host_id}/transfer", data={"csrf_token": token, "team_id": "999"})
    assert bad_team.status_code in (404, 422)
    refused = await client.post(f"/hosts/{host_id}/delete", data={})
    assert refused.status_code == 403
    deleted = await client.post(f"/hosts/{host_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/hosts"
    assert (await client.get(f"/hosts/{host_id}")).status_code == 404


async def test_an_observer_sees_no_edit_buttons_and_a_crafted_post_is_refused(cast: Cast) -> None:
    fleet = cast.fleet
    client = fleet.client
    host_id = await put_host(fleet, "observed")
    saved = await client.post("/api/v1/fleet/queries", json={"name": "uptime", "query": "SELECT * FROM uptime;"},
                              headers=fleet.as_admin)
    query_id = saved.json()["query"]["id"]
    await console_login(client, cast["observer"].email)
    page = await client.get(f"/hosts/{host_id}")
    assert page.status_code == 200
    # Observers may refetch (as in Fleet), not transfer or delete.
    assert "Transfer" not in page.text and "Delete" not in page.text and ">Refetch<" in page.text
    token = csrf_of(page)
    refused = await client.post(f"/hosts/{host_id}/delete", data={"csrf_token": token})
    assert refused.status_code == 403 and "permission" in refused.text
    queries = await client.get("/queries")
    assert "uptime" in queries.text and "Create query" not in queries.text and "Delete" not in queries.text
    edit = await client.get(f"/queries/{query_id}")
    assert edit.status_code == 200 and ">Save<" not in edit.text
    crafted = await client.post(f"/queries/{query_id}/delete", data={"csrf_token": token})
    assert crafted.status_code == 403
    assert (await client.get(f"/api/v1/fleet/queries/{query_id}", headers=fleet.as_admin)).status_code == 200


async def test_add_hosts_shows_the_secret_and_the_osqueryd_flags(fleet: Fleet) -> None:
    secret = "sekrit-" + "x" * 20
    applied = await fleet.client.post("/api/v1/fleet/spec/enroll_secret",
                                      json={"spec": {"secrets": [{"secret": secret}]}}, headers=fleet.as_admin)
    assert applied.status_code == 200
    await console_login(fleet.client, ADMIN_EMAIL)
    page = await fleet.client.get("/hosts/add")
    assert page.status_code == 200
    assert f'value="{secret}"' in page.text
    for flag in ("--tls_hostname=", "--enroll_secret_path=", "--host_identifier=uuid",
                 "--enroll_tls_endpoint=/api/osquery/enroll", "--config_tls_endpoint=/api/osquery/config",
                 "--distributed_tls_read_endpoint=/api/osquery/distributed/read",
                 "--logger_tls_endpoint=/api/osquery/log", "--distributed_interval="):
        assert flag in page.text
    assert "fleet-sim --server-url" in page.text
    # Plain HTTP here: no certificate to offer.
    assert "/hosts/add/certificate" not in page.text
    assert (await fleet.client.get("/hosts/add/certificate")).status_code == 404


async def test_queries_create_edit_validate_and_delete(fleet: Fleet) -> None:
    client = fleet.client
    await console_login(client, ADMIN_EMAIL)
    form = await client.get("/queries/new")
    token = csrf_of(form)
    empty = await client.post("/queries/new", data={"csrf_token": token, "name": "", "query": ""})
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.text
    created = await client.post("/queries/new", data={"csrf_token": token, "name": f"q {EVIL}",
                                                      "query": "SELECT * FROM osquery_info;", "platform": "linux",
                                                      "interval": "60"})
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    query_id = int(location.rsplit("/", 1)[1])
    page = await client.get(location)
    assert EVIL not in page.text and "SELECT * FROM osquery_info;" in page.text
    edited = await client.post(location, data={"csrf_token": token, "name": "renamed", "query": "SELECT 1;",
                                               "platform": ["darwin", "windows"]})
    assert edited.status_code == 303
    api = (await client.get(f"/api/v1/fleet/queries/{query_id}", headers=fleet.as_admin)).json()["query"]
    assert api["name"] == "renamed" and api["platform"] == "darwin,windows"
    bad_interval = await client.post(location, data={"csrf_token": token, "name": "renamed", "query": "SELECT 1;",
                                                     "interval": "soon"})
    assert bad_interval.status_code == 422
    listed = await client.get("/queries")
    assert "renamed" in listed.text
    deleted = await client.post(f"/queries/{query_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert (await client.get(location)).status_code == 404


async def test_live_query_page_counts_targets_and_starts_a_campaign(fleet: Fleet) -> None:
    client = fleet.client
    first = await put_host(fleet, "live-1")
    await put_host(fleet, "live-2")
    await console_login(client, ADMIN_EMAIL)
    page = await client.get("/live", params={"host_id": str(first)})
    assert page.status_code == 200 and "live-1" in page.text
    count = await client.get("/live/count", params={"host_id": str(first)})
    assert count.json()["total"] == 1
    token = csrf_of(page)
    none = await client.post("/live/start", data={"csrf_token": token, "query": "SELECT 1;"})
    assert none.status_code == 422
    started = await client.post("/live/start", data={"csrf_token": token, "query": "SELECT 1;",
                                                     "host_id": str(first)})
    assert started.status_code == 200, started.text
    assert re.search(r'data-live-campaign="\d+"', started.text)
    assert "/api/v1/fleet/results/websocket" in started.text
