"""GET /activities: the documented shape, ordering, paging and list-option errors."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import assert_error, assert_timestamp

if TYPE_CHECKING:
    from tests.http.support import Fleet

pytestmark = pytest.mark.anyio

URL = "/api/v1/fleet/activities"
ACTIVITY_KEYS = {"created_at", "id", "actor_full_name", "actor_id", "actor_gravatar", "actor_email", "type", "details"}


async def activities(fleet: Fleet, **params: Any) -> list[dict[str, Any]]:
    response = await fleet.client.get(URL, headers=fleet.as_admin, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["activities"])


async def make_some(fleet: Fleet, count: int) -> None:
    for i in range(count):
        fleet.clock.advance(dt.timedelta(minutes=1))
        await fleet.create_user(global_role="observer", name=f"User {i}", login=False)


async def test_activities_have_the_documented_shape(fleet: Fleet) -> None:
    assert fleet.admin is not None
    found = await activities(fleet)
    assert found
    for activity in found:
        assert set(activity) == ACTIVITY_KEYS
        assert_timestamp(activity["created_at"])
    created = next(a for a in found if a["type"] == "created_user")
    assert (created["actor_id"], created["actor_full_name"], created["actor_email"]) == (
        fleet.admin.id, "Ada Admin", "admin@example.com")
    assert created["details"]["user_email"] == "admin@example.com"


async def test_activities_order_by_created_at_and_id(fleet: Fleet) -> None:
    await make_some(fleet, 4)
    ascending = await activities(fleet, order_key="created_at")
    times = [a["created_at"] for a in ascending]
    assert times == sorted(times)
    descending = await activities(fleet, order_key="id", order_direction="desc")
    ids = [a["id"] for a in descending]
    assert ids == sorted(ids, reverse=True)
    assert sorted(ids) == sorted(a["id"] for a in ascending)


async def test_activity_pages_do_not_overlap_and_cover_everything(fleet: Fleet) -> None:
    await make_some(fleet, 5)
    everything = [a["id"] for a in await activities(fleet, order_key="created_at", order_direction="desc")]
    paged: list[int] = []
    page = 0
    while True:
        chunk = await activities(fleet, order_key="created_at", order_direction="desc", per_page=3, page=page)
        if not chunk:
            break
        assert len(chunk) <= 3
        paged.extend(a["id"] for a in chunk)
        page += 1
    assert paged == everything
    assert len(everything) > 6


@pytest.mark.parametrize(("params", "name"), [
    ({"order_key": "nonsense"}, "order_key"),
    ({"order_key": "details"}, "order_key"),
    ({"order_key": "id", "order_direction": "up"}, "order_direction"),
    ({"order_direction": "asc"}, "order_direction"),
    ({"page": -1}, "page"),
    ({"per_page": -5}, "per_page"),
])
async def test_invalid_list_options_are_422_naming_the_parameter(
    fleet: Fleet, params: dict[str, Any], name: str
) -> None:
    assert_error(await fleet.client.get(URL, headers=fleet.as_admin, params=params), 422, name)


@pytest.mark.parametrize("params", [{"page": "two"}, {"per_page": "1.5"}])
async def test_non_integer_paging_is_400_naming_the_parameter(fleet: Fleet, params: dict[str, Any]) -> None:
    assert_error(await fleet.client.get(URL, headers=fleet.as_admin, params=params), 400, *params)


async def test_activities_under_the_latest_prefix(fleet: Fleet) -> None:
    response = await fleet.client.get("/api/latest/fleet/activities", headers=fleet.as_admin)
    assert response.status_code == 200
    assert response.json()["activities"] == await activities(fleet)
