"""The translator (POST /translate): user emails, label and team names and host identifiers to
ids, with validation, unknown identifiers and authorization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import assert_error
from tests.http.test_http_hosts import add_host

if TYPE_CHECKING:
    from tests.http.support import Cast

pytestmark = pytest.mark.anyio

TRANSLATE = "/api/v1/fleet/translate"


def item(kind: Any, identifier: Any) -> dict[str, Any]:
    return {"type": kind, "payload": {"identifier": identifier}}


async def translate(cast: Cast, items: list[dict[str, Any]], role: str = "admin") -> list[dict[str, Any]]:
    response = await cast.fleet.client.post(TRANSLATE, json={"list": items}, headers=cast[role].headers)
    assert response.status_code == 200, response.text
    return list(response.json()["list"])


async def label_id(cast: Cast, name: str) -> int:
    response = await cast.fleet.client.get("/api/v1/fleet/labels", params={"query": name},
                                           headers=cast.fleet.as_admin)
    [found] = [lb["id"] for lb in response.json()["labels"] if lb["name"] == name]
    return int(found)


async def test_translate_adds_the_id_of_each_item_in_order(cast: Cast) -> None:
    host = await add_host(cast.fleet, "host-abc", team_id=cast.team_one)
    items = [item("user", "observer@example.com"), item("label", "All Hosts"), item("team", "Team Two"),
             item("host", "host-abc.local")]

    translated = await translate(cast, items)

    assert translated == [
        {"type": "user", "payload": {"identifier": "observer@example.com", "id": cast["observer"].id}},
        {"type": "label", "payload": {"identifier": "All Hosts", "id": await label_id(cast, "All Hosts")}},
        {"type": "team", "payload": {"identifier": "Team Two", "id": cast.team_two}},
        {"type": "host", "payload": {"identifier": "host-abc.local", "id": host}},
    ]


async def test_hosts_are_found_by_any_identifier(cast: Cast) -> None:
    host = await add_host(cast.fleet, "box")
    for identifier in ("box.local", "uuid-box", "serial-box", "osquery-box"):
        [found] = await translate(cast, [item("host", identifier)])
        assert found["payload"]["id"] == host


async def test_an_empty_list_translates_to_an_empty_list(cast: Cast) -> None:
    assert await translate(cast, []) == []


@pytest.mark.parametrize(("kind", "identifier"), [
    ("user", "nobody@example.com"), ("label", "No such label"), ("team", "No such team"), ("host", "no-such-host"),
])
async def test_an_identifier_naming_nothing_is_not_found(cast: Cast, kind: str, identifier: str) -> None:
    response = await cast.fleet.client.post(TRANSLATE, json={"list": [item("team", "Team One"),
                                                                      item(kind, identifier)]},
                                            headers=cast.fleet.as_admin)
    assert_error(response, 404)


async def test_an_unknown_type_is_a_bad_request_naming_type(cast: Cast) -> None:
    response = await cast.fleet.client.post(TRANSLATE, json={"list": [item("team", "Team One"),
                                                                      item("planet", "Mars")]},
                                            headers=cast.fleet.as_admin)
    body = assert_error(response, 400, "type")
    assert "planet" in body["errors"][0]["reason"]


@pytest.mark.parametrize(("body", "status", "field"), [
    ({}, 422, "list"),
    ({"list": None}, 422, "list"),
    ({"list": [{"payload": {"identifier": "x"}}]}, 422, "type"),
    ({"list": [{"type": "team"}]}, 422, "identifier"),
    ({"list": [{"type": "team", "payload": {}}]}, 422, "identifier"),
    ({"list": [item("team", "  ")]}, 422, "identifier"),
    ({"list": "team"}, 400, "list"),
    ({"list": [item(5, "x")]}, 400, "list[0].type"),
    ({"list": [item("host", 42)]}, 400, "list[0].payload.identifier"),
    ({"list": [{"type": "host", "payload": "h"}]}, 400, "list[0].payload"),
])
async def test_malformed_items_are_refused_naming_the_field(cast: Cast, body: dict[str, Any], status: int,
                                                           field: str) -> None:
    assert_error(await cast.fleet.client.post(TRANSLATE, json=body, headers=cast.fleet.as_admin), status, field)


async def test_translate_needs_a_login(cast: Cast) -> None:
    assert_error(await cast.fleet.client.post(TRANSLATE, json={"list": []}), 401)


async def test_every_role_translates_what_it_may_read(cast: Cast) -> None:
    host = await add_host(cast.fleet, "mine", team_id=cast.team_one)
    for role in ("maintainer", "observer", "team_admin", "team_maintainer", "team_observer"):
        translated = await translate(cast, [item("host", "mine.local"), item("team", "Team One"),
                                            item("label", "All Hosts")], role)
        assert [t["payload"]["id"] for t in translated] == [host, cast.team_one, await label_id(cast, "All Hosts")]
    # Global roles read every user; a team user reads itself (and a team admin its team's users).
    [me] = await translate(cast, [item("user", "team-observer@example.com")], "team_observer")
    assert me["payload"]["id"] == cast["team_observer"].id
    [member] = await translate(cast, [item("user", "team-maintainer@example.com")], "team_admin")
    assert member["payload"]["id"] == cast["team_maintainer"].id


@pytest.mark.parametrize("role", ["team_admin", "team_maintainer", "team_observer"])
async def test_team_users_cannot_translate_what_lies_outside_their_teams(cast: Cast, role: str) -> None:
    await add_host(cast.fleet, "theirs", team_id=cast.team_two)
    await add_host(cast.fleet, "teamless")
    headers = cast[role].headers
    for items in ([item("host", "theirs.local")], [item("host", "teamless.local")], [item("team", "Team Two")],
                  [item("user", "observer@example.com")]):
        assert_error(await cast.fleet.client.post(TRANSLATE, json={"list": items}, headers=headers), 403)
