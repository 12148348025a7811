"""GET /carves, /carves/{id} and /carves/{id}/block/{block_id}: who reads them, unknown ids, expired
carves, blocks not yet available."""

from __future__ import annotations

import base64
import datetime as dt

import httpx
import pytest

from fleet_core.services.carves import CarveBegin, CarveBlockRejected
from tests.http.support import ROLES, Cast, Fleet, assert_error, assert_timestamp

pytestmark = pytest.mark.anyio
PREFIXES = ["/api/v1/fleet", "/api/latest/fleet"]
KEYS = {"id", "created_at", "host_id", "name", "block_count", "block_size", "carve_size", "carve_id",
        "request_id", "session_id", "expired", "max_block"}


async def carve(fleet: Fleet, name: str = "h1", team_id: int | None = None) -> tuple[int, str]:
    """A host (of the team) with a begun carve of 2 blocks of 4 bytes; (carve id, session id)."""
    async with fleet.kit.store.unit_of_work() as uow:
        host = (await uow.hosts.enroll(osquery_host_id=name, node_key_hash=f"k-{name}", team_id=team_id,
                                       at=fleet.clock.now(), fields={"hostname": name})).host
        await uow.commit()
    made = await fleet.kit.services.carves.begin(host, CarveBegin(2, 4, 6, "guid", "fleet_distributed_query_1"))
    return made.id, made.session_id


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_admin_lists_gets_and_downloads(fleet: Fleet, prefix: str) -> None:
    carve_id, session = await carve(fleet)
    await fleet.kit.services.carves.block(session_id=session, request_id="fleet_distributed_query_1", block_id=0,
                                          data=base64.b64encode(b"\x00\x01ab").decode())
    listed = await fleet.client.get(f"{prefix}/carves", headers=fleet.as_admin)
    assert listed.status_code == 200, listed.text
    [body] = listed.json()["carves"]
    assert set(body) == KEYS
    assert_timestamp(body["created_at"])
    assert (body["id"], body["max_block"], body["expired"], body["block_count"]) == (carve_id, 0, False, 2)
    one = await fleet.client.get(f"{prefix}/carves/{carve_id}", headers=fleet.as_admin)
    assert one.json() == {"carve": body}
    data = await fleet.client.get(f"{prefix}/carves/{carve_id}/block/0", headers=fleet.as_admin)
    assert data.status_code == 200 and base64.b64decode(data.json()["data"]) == b"\x00\x01ab"


async def test_block_not_yet_available_and_unknown_ids(fleet: Fleet) -> None:
    carve_id, _ = await carve(fleet)
    response = await fleet.client.get(f"/api/v1/fleet/carves/{carve_id}/block/1", headers=fleet.as_admin)
    assert "block 1 not yet available" in assert_error(response, 400, "block_id")["errors"][0]["reason"]
    assert_error(await fleet.client.get(f"/api/v1/fleet/carves/{carve_id}/block/7", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get("/api/v1/fleet/carves/999", headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get("/api/v1/fleet/carves/999/block/0", headers=fleet.as_admin), 404)


async def test_out_of_order_block_shows_as_the_carves_error(fleet: Fleet) -> None:
    carve_id, session = await carve(fleet)
    with pytest.raises(CarveBlockRejected, match="expected block"):
        await fleet.kit.services.carves.block(session_id=session, request_id="fleet_distributed_query_1",
                                              block_id=1, data="YWJj")
    body = (await fleet.client.get(f"/api/v1/fleet/carves/{carve_id}", headers=fleet.as_admin)).json()["carve"]
    assert "expected block (0): 1" in body["error"] and body["max_block"] == -1


async def test_expired_carves_are_hidden_and_their_blocks_refused(fleet: Fleet) -> None:
    carve_id, session = await carve(fleet)
    await fleet.kit.services.carves.block(session_id=session, request_id="fleet_distributed_query_1", block_id=0,
                                          data="YWJjZA==")
    fleet.clock.advance(dt.timedelta(hours=25))
    assert await fleet.kit.services.carves.expire() == 1
    listed = await fleet.client.get("/api/v1/fleet/carves", headers=fleet.as_admin)
    assert listed.json() == {"carves": []}
    with_expired = await fleet.client.get("/api/v1/fleet/carves?expired=true", headers=fleet.as_admin)
    assert [c["expired"] for c in with_expired.json()["carves"]] == [True]
    assert_error(await fleet.client.get(f"/api/v1/fleet/carves/{carve_id}/block/0", headers=fleet.as_admin), 400)


async def test_list_parameters(fleet: Fleet) -> None:
    first, _ = await carve(fleet, "a")
    second, _ = await carve(fleet, "b")
    ordered = await fleet.client.get("/api/v1/fleet/carves?order_key=id&order_direction=desc", headers=fleet.as_admin)
    assert [c["id"] for c in ordered.json()["carves"]] == [second, first]
    after = await fleet.client.get(f"/api/v1/fleet/carves?order_key=id&after={first}", headers=fleet.as_admin)
    assert [c["id"] for c in after.json()["carves"]] == [second]
    paged = await fleet.client.get("/api/v1/fleet/carves?page=1&per_page=1", headers=fleet.as_admin)
    assert [c["id"] for c in paged.json()["carves"]] == [second]
    assert_error(await fleet.client.get("/api/v1/fleet/carves?order_key=bogus", headers=fleet.as_admin), 422,
                 "order_key")
    assert_error(await fleet.client.get("/api/v1/fleet/carves?order_key=id&after=x", headers=fleet.as_admin), 422,
                 "after")
    assert_error(await fleet.client.get("/api/v1/fleet/carves?expired=maybe", headers=fleet.as_admin), 400)


async def with_block(fleet: Fleet, name: str, team_id: int | None) -> int:
    carve_id, session = await carve(fleet, name, team_id)
    await fleet.kit.services.carves.block(session_id=session, request_id="fleet_distributed_query_1", block_id=0,
                                          data=base64.b64encode(name.encode().ljust(4, b"-")).decode())
    return carve_id


@pytest.mark.parametrize("role", ROLES)
async def test_admins_and_maintainers_read_carves_team_roles_their_teams_only(cast: Cast, role: str) -> None:
    ours = await with_block(cast.fleet, "ours", cast.team_one)
    theirs = await with_block(cast.fleet, "thrs", cast.team_two)
    loose = await with_block(cast.fleet, "lose", None)
    headers = cast[role].headers

    async def get(path: str) -> httpx.Response:
        return await cast.fleet.client.get(f"/api/v1/fleet{path}", headers=headers)

    if role.endswith("observer"):
        for path in ("/carves", f"/carves/{ours}", f"/carves/{ours}/block/0", "/carves/999"):
            assert_error(await get(path), 403)
        return
    readable = [ours, theirs, loose] if role in ("admin", "maintainer") else [ours]
    assert [c["id"] for c in (await get("/carves")).json()["carves"]] == readable
    for carve_id in (ours, theirs, loose):
        if carve_id in readable:
            assert (await get(f"/carves/{carve_id}")).json()["carve"]["id"] == carve_id
            assert (await get(f"/carves/{carve_id}/block/0")).json()["data"]
        else:
            assert_error(await get(f"/carves/{carve_id}"), 403)
            assert_error(await get(f"/carves/{carve_id}/block/0"), 403)
    assert_error(await get("/carves/999"), 404)


async def test_anonymous_is_401(fleet: Fleet) -> None:
    assert (await fleet.client.get("/api/v1/fleet/carves")).status_code == 401


