"""Users: list (paging, ordering, search, team filter), create with and without invite, get,
modify, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.http.support import OTHER_PASSWORD, PASSWORD, USER_KEYS, assert_error, assert_timestamp, bearer

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"


async def create(fleet: Fleet, **fields: Any) -> Any:
    body = {"name": "Jane Doe", "email": "jane@example.com", "password": PASSWORD, **fields}
    return await fleet.client.post(f"{V1}/users/admin", headers=fleet.as_admin, json=body)


# ---- create without invite --------------------------------------------------------------------

async def test_create_user_with_a_global_role_returns_the_documented_user(fleet: Fleet) -> None:
    response = await create(fleet, global_role="maintainer", position="SRE", admin_forced_password_reset=False)
    assert response.status_code == 200, response.text
    user = response.json()["user"]
    assert USER_KEYS <= set(user)
    assert user["name"] == "Jane Doe"
    assert user["email"] == "jane@example.com"
    assert user["global_role"] == "maintainer"
    assert user["teams"] == []
    assert user["force_password_reset"] is False
    assert user["api_only"] is False
    assert user["sso_enabled"] is False
    assert_timestamp(user["created_at"])
    assert_timestamp(user["updated_at"])
    assert (await fleet.client.post(f"{V1}/login", json={"email": "jane@example.com", "password": PASSWORD})
            ).status_code == 200


async def test_create_user_with_team_roles(cast: Cast) -> None:
    response = await create(cast.fleet, teams=[{"id": cast.team_one, "role": "observer"},
                                               {"id": cast.team_two, "role": "maintainer"}])
    assert response.status_code == 200, response.text
    user = response.json()["user"]
    assert user["global_role"] is None
    assert [(t["id"], t["role"]) for t in user["teams"]] == [(cast.team_one, "observer"), (cast.team_two, "maintainer")]
    assert [t["name"] for t in user["teams"]] == ["Team One", "Team Two"]


async def test_an_api_only_user_is_not_forced_to_reset(fleet: Fleet) -> None:
    response = await create(fleet, global_role="observer", api_only=True)
    assert response.status_code == 200
    assert response.json()["user"]["api_only"] is True
    token = await fleet.login("jane@example.com")
    assert (await fleet.client.get(f"{V1}/config", headers=bearer(token))).status_code == 200


async def test_create_user_with_a_taken_email_is_409(fleet: Fleet) -> None:
    assert (await create(fleet, global_role="observer")).status_code == 200
    body = assert_error(await create(fleet, global_role="admin", email="JANE@example.com"), 409, "base")
    assert body["message"] == "Resource Already Exists"


@pytest.mark.parametrize(("fields", "names"), [
    ({"name": "", "global_role": "observer"}, ["name"]),
    ({"email": "", "global_role": "observer"}, ["email"]),
    ({"email": "not-an-email", "global_role": "observer"}, ["email"]),
    ({"password": None, "global_role": "observer"}, ["password"]),
    ({"password": "weakpassword", "global_role": "observer"}, ["password"]),
    ({}, ["global_role"]),
    ({"global_role": "superuser"}, ["global_role"]),
    ({"global_role": "observer", "teams": [{"id": 1, "role": "observer"}]}, ["global_role"]),
    ({"teams": [{"id": 1, "role": "owner"}]}, ["teams"]),
])
async def test_create_user_validation_is_422_naming_the_field(
    fleet: Fleet, fields: dict[str, Any], names: list[str]
) -> None:
    await fleet.add_team("Team One")
    body = assert_error(await create(fleet, **fields), 422, *names)
    assert body["message"] == "Validation Failed"


async def test_create_user_with_missing_name_and_email_reports_both(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/users/admin", headers=fleet.as_admin,
                                       json={"password": PASSWORD, "global_role": "observer"})
    assert_error(response, 422, "name", "email")


async def test_create_user_on_an_unknown_team_is_404(fleet: Fleet) -> None:
    assert_error(await create(fleet, teams=[{"id": 9999, "role": "observer"}]), 404, "base")


@pytest.mark.parametrize("fields", [
    {"name": 5, "global_role": "observer"},
    {"global_role": 1},
    {"teams": "observer"},
    {"teams": [{"id": "one", "role": "observer"}]},
    {"teams": [{"role": "observer"}]},
    {"api_only": "yes", "global_role": "observer"},
])
async def test_create_user_with_wrong_types_is_400(fleet: Fleet, fields: dict[str, Any]) -> None:
    assert_error(await create(fleet, **fields), 400)


async def test_a_team_admin_creates_users_only_on_their_own_team(cast: Cast) -> None:
    client, team_admin = cast.fleet.client, cast["team_admin"].headers
    mine = await client.post(f"{V1}/users/admin", headers=team_admin, json={
        "name": "Mine", "email": "mine@example.com", "password": PASSWORD,
        "teams": [{"id": cast.team_one, "role": "maintainer"}]})
    assert mine.status_code == 200, mine.text
    both = await client.post(f"{V1}/users/admin", headers=team_admin, json={
        "name": "Both", "email": "both@example.com", "password": PASSWORD,
        "teams": [{"id": cast.team_one, "role": "observer"}, {"id": cast.team_two, "role": "observer"}]})
    assert_error(both, 403)


# ---- list ---------------------------------------------------------------------------------------

async def test_list_users_returns_every_user(cast: Cast) -> None:
    response = await cast.fleet.client.get(f"{V1}/users", headers=cast["admin"].headers)
    assert response.status_code == 200
    users = response.json()["users"]
    assert {u["email"] for u in users} == {a.email for a in cast.actors.values()}
    for user in users:
        assert USER_KEYS <= set(user)


async def test_list_users_searches_name_and_email(cast: Cast) -> None:
    client, admin = cast.fleet.client, cast["admin"].headers
    response = await client.get(f"{V1}/users", headers=admin, params={"query": "team-"})
    assert {u["email"] for u in response.json()["users"]} == {
        "team-admin@example.com", "team-maintainer@example.com", "team-observer@example.com"}
    response = await client.get(f"{V1}/users", headers=admin, params={"query": "Ada"})
    assert [u["name"] for u in response.json()["users"]] == ["Ada Admin"]


async def test_list_users_orders_and_pages(cast: Cast) -> None:
    client, admin = cast.fleet.client, cast["admin"].headers
    everyone = (await client.get(f"{V1}/users", headers=admin,
                                 params={"order_key": "email", "order_direction": "desc"})).json()["users"]
    emails = [u["email"] for u in everyone]
    assert emails == sorted(emails, reverse=True)
    pages: list[str] = []
    for page in range(3):
        response = await client.get(f"{V1}/users", headers=admin, params={
            "order_key": "email", "order_direction": "desc", "per_page": 2, "page": page})
        assert response.status_code == 200
        pages.extend(u["email"] for u in response.json()["users"])
    assert pages == emails
    past_the_end = await client.get(f"{V1}/users", headers=admin, params={"per_page": 2, "page": 10})
    assert past_the_end.json() == {"users": []}


async def test_list_users_filters_by_team(cast: Cast) -> None:
    response = await cast.fleet.client.get(f"{V1}/users", headers=cast["admin"].headers,
                                           params={"team_id": cast.team_one})
    assert {u["email"] for u in response.json()["users"]} == {
        "team-admin@example.com", "team-maintainer@example.com", "team-observer@example.com"}


async def test_a_team_admin_lists_only_users_of_their_teams(cast: Cast) -> None:
    response = await cast.fleet.client.get(f"{V1}/users", headers=cast["team_admin"].headers)
    assert response.status_code == 200
    assert {u["email"] for u in response.json()["users"]} == {
        "team-admin@example.com", "team-maintainer@example.com", "team-observer@example.com"}


@pytest.mark.parametrize(("params", "name"), [
    ({"order_key": "password_hash"}, "order_key"),
    ({"order_key": "nonsense"}, "order_key"),
    ({"order_key": "name", "order_direction": "sideways"}, "order_direction"),
    ({"order_direction": "desc"}, "order_direction"),
    ({"page": -1}, "page"),
    ({"per_page": 0}, "per_page"),
])
async def test_list_users_with_invalid_list_options_is_422(fleet: Fleet, params: dict[str, Any], name: str) -> None:
    assert_error(await fleet.client.get(f"{V1}/users", headers=fleet.as_admin, params=params), 422, name)


@pytest.mark.parametrize("params", [{"page": "first"}, {"per_page": "ten"}, {"team_id": "one"}])
async def test_list_users_with_non_numeric_numbers_is_400(fleet: Fleet, params: dict[str, Any]) -> None:
    assert_error(await fleet.client.get(f"{V1}/users", headers=fleet.as_admin, params=params), 400)


# ---- get ----------------------------------------------------------------------------------------

async def test_get_user(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer", name="Olive Observer")
    response = await fleet.client.get(f"{V1}/users/{user.id}", headers=fleet.as_admin)
    assert response.status_code == 200
    body = response.json()["user"]
    assert USER_KEYS <= set(body)
    assert (body["id"], body["name"], body["global_role"]) == (user.id, "Olive Observer", "observer")


async def test_get_unknown_user_is_the_documented_404(fleet: Fleet) -> None:
    response = await fleet.client.get(f"{V1}/users/5", headers=fleet.as_admin)
    body = assert_error(response, 404)
    assert body["errors"] == [{"name": "base", "reason": "User with id=5 was not found in the datastore"}]


@pytest.mark.parametrize("role", ["observer", "maintainer"])
async def test_every_user_may_read_and_rename_themselves(fleet: Fleet, role: str) -> None:
    user = await fleet.create_user(global_role=role)
    assert (await fleet.client.get(f"{V1}/users/{user.id}", headers=user.headers)).status_code == 200
    response = await fleet.client.patch(f"{V1}/users/{user.id}", headers=user.headers, json={"name": "New Name"})
    assert response.status_code == 200, response.text
    assert response.json()["user"]["name"] == "New Name"


async def test_a_path_id_that_is_not_a_number_names_no_resource(fleet: Fleet) -> None:
    assert_error(await fleet.client.get(f"{V1}/users/abc", headers=fleet.as_admin), 404)


# ---- modify -------------------------------------------------------------------------------------

async def test_modify_user_changes_only_the_fields_sent(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer", name="Before")
    response = await fleet.client.patch(f"{V1}/users/{user.id}", headers=fleet.as_admin,
                                        json={"name": "Jane Doe", "global_role": "admin"})
    assert response.status_code == 200, response.text
    body = response.json()["user"]
    assert (body["name"], body["global_role"], body["email"]) == ("Jane Doe", "admin", user.email)
    again = await fleet.client.patch(f"{V1}/users/{user.id}", headers=fleet.as_admin, json={"position": "CTO"})
    body = again.json()["user"]
    assert (body["name"], body["global_role"], body["position"]) == ("Jane Doe", "admin", "CTO")


async def test_modify_user_moves_a_user_from_a_global_role_to_teams(cast: Cast) -> None:
    fleet = cast.fleet
    user = await fleet.create_user(global_role="observer")
    response = await fleet.client.patch(f"{V1}/users/{user.id}", headers=fleet.as_admin, json={
        "global_role": None, "teams": [{"id": cast.team_one, "role": "observer"},
                                       {"id": cast.team_two, "role": "maintainer"}]})
    assert response.status_code == 200, response.text
    body = response.json()["user"]
    assert body["global_role"] is None
    assert [(t["id"], t["role"]) for t in body["teams"]] == [(cast.team_one, "observer"), (cast.team_two, "maintainer")]


async def test_modify_user_leaves_absent_roles_alone_and_reads_null_teams_as_none(cast: Cast) -> None:
    fleet = cast.fleet
    created = await create(fleet, teams=[{"id": cast.team_one, "role": "observer"}])
    user_id = created.json()["user"]["id"]
    kept = await fleet.client.patch(f"{V1}/users/{user_id}", headers=fleet.as_admin, json={"position": "SRE"})
    assert [(t["id"], t["role"]) for t in kept.json()["user"]["teams"]] == [(cast.team_one, "observer")]
    moved = await fleet.client.patch(f"{V1}/users/{user_id}", headers=fleet.as_admin,
                                     json={"global_role": "observer", "teams": None})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["user"]["global_role"], moved.json()["user"]["teams"]) == ("observer", [])


async def test_modify_user_to_both_a_global_role_and_teams_is_422(cast: Cast) -> None:
    user = await cast.fleet.create_user(global_role="observer")
    response = await cast.fleet.client.patch(f"{V1}/users/{user.id}", headers=cast.fleet.as_admin, json={
        "global_role": "observer", "teams": [{"id": cast.team_one, "role": "observer"}]})
    assert_error(response, 422, "global_role")


@pytest.mark.parametrize(("fields", "name"), [
    ({"name": ""}, "name"),
    ({"email": "nope"}, "email"),
    ({"global_role": "root"}, "global_role"),
    ({"new_password": "weak"}, "new_password"),
])
async def test_modify_user_validation_is_422(fleet: Fleet, fields: dict[str, Any], name: str) -> None:
    user = await fleet.create_user(global_role="observer", login=False)
    response = await fleet.client.patch(f"{V1}/users/{user.id}", headers=fleet.as_admin, json=fields)
    assert_error(response, 422, name)


@pytest.mark.parametrize("fields", [{"name": 1}, {"sso_enabled": "no"}, {"teams": {"id": 1}}, {"global_role": 3}])
async def test_modify_user_with_wrong_types_is_400(fleet: Fleet, fields: dict[str, Any]) -> None:
    user = await fleet.create_user(global_role="observer", login=False)
    response = await fleet.client.patch(f"{V1}/users/{user.id}", headers=fleet.as_admin, json=fields)
    assert_error(response, 400)


async def test_modify_user_to_another_users_email_is_409(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer", login=False)
    response = await fleet.client.patch(f"{V1}/users/{user.id}", headers=fleet.as_admin,
                                        json={"email": "admin@example.com"})
    assert_error(response, 409, "base")


async def test_changing_own_email_or_password_needs_the_current_password(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    url = f"{V1}/users/{user.id}"
    assert_error(await fleet.client.patch(url, headers=user.headers, json={"email": "new@example.com"}),
                 422, "password")
    assert_error(await fleet.client.patch(url, headers=user.headers,
                                          json={"email": "new@example.com", "password": "wrong-pass-1!"}),
                 422, "password")
    assert_error(await fleet.client.patch(url, headers=user.headers, json={"new_password": OTHER_PASSWORD}),
                 422, "password")
    done = await fleet.client.patch(url, headers=user.headers, json={
        "email": "new@example.com", "password": PASSWORD, "new_password": OTHER_PASSWORD})
    assert done.status_code == 200, done.text
    assert done.json()["user"]["email"] == "new@example.com"
    await fleet.login("new@example.com", OTHER_PASSWORD)


async def test_an_admin_setting_another_users_password_forces_a_reset_and_logs_them_out(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    response = await fleet.client.patch(f"{V1}/users/{user.id}", headers=fleet.as_admin,
                                        json={"new_password": OTHER_PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["user"]["force_password_reset"] is True
    assert_error(await fleet.client.get(f"{V1}/me", headers=user.headers), 401)
    await fleet.login(user.email, OTHER_PASSWORD)


async def test_a_user_cannot_promote_themselves(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    response = await fleet.client.patch(f"{V1}/users/{user.id}", headers=user.headers, json={"global_role": "admin"})
    assert_error(response, 403)
    assert (await fleet.client.get(f"{V1}/me", headers=user.headers)).json()["user"]["global_role"] == "observer"


async def test_a_team_admin_cannot_move_a_member_onto_a_team_they_do_not_administer(cast: Cast) -> None:
    member = cast["team_observer"]
    response = await cast.fleet.client.patch(f"{V1}/users/{member.id}", headers=cast["team_admin"].headers, json={
        "teams": [{"id": cast.team_one, "role": "observer"}, {"id": cast.team_two, "role": "observer"}]})
    assert_error(response, 403)


async def test_demoting_the_last_admin_is_refused(fleet: Fleet) -> None:
    assert fleet.admin is not None
    response = await fleet.client.patch(f"{V1}/users/{fleet.admin.id}", headers=fleet.as_admin,
                                        json={"global_role": "observer"})
    assert_error(response, 422, "global_role")


# ---- delete -------------------------------------------------------------------------------------

async def test_delete_user(fleet: Fleet) -> None:
    user = await fleet.create_user(global_role="observer")
    response = await fleet.client.delete(f"{V1}/users/{user.id}", headers=fleet.as_admin)
    assert response.status_code == 200
    assert_error(await fleet.client.get(f"{V1}/users/{user.id}", headers=fleet.as_admin), 404)
    assert (await fleet.client.post(f"{V1}/login", json={"email": user.email, "password": PASSWORD})
            ).status_code == 401


async def test_deleting_the_last_admin_is_refused(fleet: Fleet) -> None:
    assert fleet.admin is not None
    response = await fleet.client.delete(f"{V1}/users/{fleet.admin.id}", headers=fleet.as_admin)
    assert_error(response, 422)
    assert (await fleet.client.get(f"{V1}/me", headers=fleet.as_admin)).status_code == 200


# ---- create with an invite: see test_http_invites.py ---------------------------------------------

async def test_create_user_with_an_unknown_invite_token_is_the_documented_404(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/users", json={
        "email": "janedoe@example.com", "invite_token": "SjdReDNuZW5jd3dCbTJtQTQ5WjJTc2txWWlEcGpiM3c=",
        "name": "janedoe", "password": PASSWORD, "password_confirmation": PASSWORD})
    body = assert_error(response, 404)
    reason = "Invite with token SjdReDNuZW5jd3dCbTJtQTQ5WjJTc2txWWlEcGpiM3c= was not found in the datastore"
    assert body["errors"] == [{"name": "base", "reason": reason}]


async def test_create_user_with_invite_validates_required_fields(fleet: Fleet) -> None:
    response = await fleet.client.post(f"{V1}/users", json={"password": PASSWORD, "password_confirmation": PASSWORD})
    assert_error(response, 422, "name", "email", "invite_token")
