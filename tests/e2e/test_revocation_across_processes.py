"""Revocations made through one `fleet serve` process hold on the very next request to another
process sharing the same Postgres and Redis: enroll secrets (global and team), sessions, and node
keys of deleted hosts, although the agent's process serves known node keys from its own cache."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from test_serve import log_in, set_up

if TYPE_CHECKING:
    from fleet_process import FleetCLI

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

API = "/api/v1/fleet"


def shared(pg_dsn: str, redis_url: str) -> list[str]:
    return ["--database-url", pg_dsn, "--redis-url", redis_url]


def enroll(client: httpx.Client, secret: str, identifier: str) -> httpx.Response:
    return client.post("/api/osquery/enroll", json={
        "enroll_secret": secret, "host_identifier": identifier,
        "host_details": {"system_info": {"hostname": identifier, "uuid": f"uuid-{identifier}"},
                         "os_version": {"platform": "ubuntu", "name": "Ubuntu", "version": "22.04"}}})


def enrolled(client: httpx.Client, secret: str, identifier: str) -> str:
    response = enroll(client, secret, identifier)
    assert response.status_code == 200, response.text
    node_key: str = response.json()["node_key"]
    return node_key


def refused(response: httpx.Response) -> bool:
    # What osquery needs to see to stop using the credential (and re-enroll, for a node key).
    return response.status_code == 401 and response.json().get("node_invalid") is True


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_revocations_on_one_process_hold_on_the_next_request_to_another(
    fleet: FleetCLI, tmp_path: Path, pg_dsn: str, redis_url: str,
) -> None:
    first = fleet.serve(tmp_path / "a", tls=False, extra=shared(pg_dsn, redis_url))
    second = fleet.serve(tmp_path / "b", tls=False, extra=shared(pg_dsn, redis_url))
    with first.client() as a, second.client() as b:
        assert set_up(a, first.base_url).status_code == 200
        auth = {"Authorization": f"Bearer {log_in(a)}"}

        # Global secrets: the second process enrolls with the old one, then must refuse it and
        # accept its replacement as soon as the first process has answered the change.
        ok(a.post(f"{API}/spec/enroll_secret", headers=auth, json={"spec": {"secrets": [{"secret": "old"}]}}))
        node_key = enrolled(b, "old", "laptop")
        ok(a.post(f"{API}/spec/enroll_secret", headers=auth, json={"spec": {"secrets": [{"secret": "new"}]}}))
        assert refused(enroll(b, "old", "desktop"))
        enrolled(b, "new", "desktop")

        # Team secrets, through PATCH /teams/{id}/secrets.
        team_id = ok(a.post(f"{API}/teams", headers=auth, json={"name": "Servers"}))["team"]["id"]
        ok(a.patch(f"{API}/teams/{team_id}/secrets", headers=auth, json={"secrets": [{"secret": "team-old"}]}))
        enrolled(b, "team-old", "server-1")
        ok(a.patch(f"{API}/teams/{team_id}/secrets", headers=auth, json={"secrets": [{"secret": "team-new"}]}))
        assert refused(enroll(b, "team-old", "server-2"))
        enrolled(b, "team-new", "server-2")

        # A node key the second process has just served (so holds in its cache) stops working
        # there once the first process has answered the host's deletion.
        ok(b.post("/api/osquery/config", json={"node_key": node_key}))
        ok(b.post("/api/osquery/config", json={"node_key": node_key}))
        hosts = ok(a.get(f"{API}/hosts", headers=auth, params={"query": "laptop"}))["hosts"]
        assert len(hosts) == 1
        ok(a.delete(f"{API}/hosts/{hosts[0]['id']}", headers=auth))
        assert refused(b.post("/api/osquery/config", json={"node_key": node_key}))

        # A session logged out on one process is refused by the other; the admin's other session
        # is untouched.
        other_auth = {"Authorization": f"Bearer {log_in(b)}"}
        ok(b.get(f"{API}/me", headers=other_auth))
        ok(a.post(f"{API}/logout", headers=other_auth))
        assert b.get(f"{API}/me", headers=other_auth).status_code == 401
        ok(b.get(f"{API}/me", headers=auth))
    assert first.terminate() == 0
    assert second.terminate() == 0
