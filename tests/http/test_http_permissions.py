"""Tables over every management endpoint: who may call it (403), no or bad token (401),
unknown ids (404) and bodies that are not JSON objects (400)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from tests.http.support import ROLES, assert_error, bearer

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"


@attrs.frozen
class Call:
    method: str
    path: str
    json: Any = None


Build = Callable[["Cast"], Awaitable[Call]]


async def _target(cast: Cast, teams: list[dict[str, Any]] | None = None) -> tuple[int, int]:
    """A user to act on (global observer, or member of the given teams) and one of their session ids."""
    fleet = cast.fleet
    actor = await fleet.create_user(global_role=None if teams else "observer", teams=teams,
                                    email=fleet.next_email("target"))
    sessions = await fleet.client.get(f"{V1}/users/{actor.id}/sessions", headers=fleet.as_admin)
    return actor.id, sessions.json()["sessions"][0]["session_id"]


async def _global_invite(cast: Cast) -> int:
    response = await cast.fleet.client.post(f"{V1}/invites", headers=cast.fleet.as_admin, json={
        "email": "invited@example.com", "name": "Invited", "sso_enabled": False, "global_role": "observer"})
    assert response.status_code == 200, response.text
    return int(response.json()["invite"]["id"])


def fixed(method: str, path: str, json: Any = None) -> Build:
    async def build(cast: Cast) -> Call:
        return Call(method, path, json)

    return build


def team_path(method: str, template: str, json: Any = None, *, team: str = "team_one") -> Build:
    async def build(cast: Cast) -> Call:
        return Call(method, template.format(team=getattr(cast, team)), json)

    return build


def on_user(method: str, suffix: str = "", json: Any = None, *, team_member: bool = False) -> Build:
    async def build(cast: Cast) -> Call:
        teams = [{"id": cast.team_one, "role": "observer"}] if team_member else None
        user_id, _ = await _target(cast, teams)
        return Call(method, f"{V1}/users/{user_id}{suffix}", json)

    return build


def on_session(method: str) -> Build:
    async def build(cast: Cast) -> Call:
        _, session_id = await _target(cast)
        return Call(method, f"{V1}/sessions/{session_id}")

    return build


def on_invite(method: str, json: Any = None) -> Build:
    async def build(cast: Cast) -> Call:
        return Call(method, f"{V1}/invites/{await _global_invite(cast)}", json)

    return build


def on_team_invite(method: str, json: Any = None) -> Build:
    async def build(cast: Cast) -> Call:
        response = await cast.fleet.client.post(f"{V1}/invites", headers=cast.fleet.as_admin, json={
            "email": "team-invited@example.com", "name": "Invited", "sso_enabled": False,
            "teams": [{"id": cast.team_one, "role": "observer"}]})
        assert response.status_code == 200, response.text
        return Call(method, f"{V1}/invites/{response.json()['invite']['id']}", json)

    return build


def team_invite(cast_team: str) -> Build:
    async def build(cast: Cast) -> Call:
        return Call("POST", f"{V1}/invites", {
            "email": "team-invite@example.com", "name": "Team Invitee", "sso_enabled": False,
            "teams": [{"id": getattr(cast, cast_team), "role": "observer"}]})

    return build


def team_user(cast_team: str) -> Build:
    async def build(cast: Cast) -> Call:
        return Call("POST", f"{V1}/users/admin", {
            "email": "team-made@example.com", "name": "Team Made", "password": "correct-horse-9!battery",
            "teams": [{"id": getattr(cast, cast_team), "role": "observer"}]})

    return build


EVERYONE = set(ROLES)
GLOBAL = {"admin", "maintainer", "observer"}
ADMIN_ONLY = {"admin"}
WRITERS = {"admin", "maintainer"}
TEAM_WRITERS = {"admin", "maintainer", "team_admin", "team_maintainer"}

# name -> (request builder, roles that get 200, roles that get 403). A role in neither set is a
# case the spec leaves open, so it is not asserted.
MATRIX: dict[str, tuple[Build, set[str], set[str]]] = {
    "get config": (fixed("GET", f"{V1}/config"), EVERYONE, set()),
    "modify config": (fixed("PATCH", f"{V1}/config", {"org_info": {"org_name": "Renamed"}}),
                      ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "version": (fixed("GET", f"{V1}/version"), EVERYONE, set()),
    "me": (fixed("GET", f"{V1}/me"), EVERYONE, set()),
    "get global enroll secrets": (fixed("GET", f"{V1}/spec/enroll_secret"), WRITERS, EVERYONE - WRITERS),
    "apply global enroll secrets": (
        fixed("POST", f"{V1}/spec/enroll_secret", {"spec": {"secrets": [{"secret": "s3cr3t-global"}]}}),
        WRITERS, EVERYONE - WRITERS),
    "get own team's secrets": (team_path("GET", V1 + "/teams/{team}/secrets"),
                               TEAM_WRITERS, EVERYONE - TEAM_WRITERS),
    "modify own team's secrets": (
        team_path("PATCH", V1 + "/teams/{team}/secrets", {"secrets": [{"secret": "s3cr3t-team"}]}),
        TEAM_WRITERS, EVERYONE - TEAM_WRITERS),
    "get another team's secrets": (team_path("GET", V1 + "/teams/{team}/secrets", team="team_two"),
                                   WRITERS, EVERYONE - WRITERS),
    "modify another team's secrets": (
        team_path("PATCH", V1 + "/teams/{team}/secrets", {"secrets": [{"secret": "s3cr3t-two"}]}, team="team_two"),
        WRITERS, EVERYONE - WRITERS),
    "invite with a global role": (
        fixed("POST", f"{V1}/invites", {"email": "new@example.com", "name": "New", "sso_enabled": False,
                                         "global_role": "observer"}),
        ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "invite to own team": (team_invite("team_one"), {"admin", "team_admin"},
                           EVERYONE - {"admin", "team_admin"}),
    "invite to another team": (team_invite("team_two"), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "list invites": (fixed("GET", f"{V1}/invites"), ADMIN_ONLY,
                     {"maintainer", "observer", "team_maintainer", "team_observer"}),
    "delete a global invite": (on_invite("DELETE"), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "modify a global invite": (on_invite("PATCH", {"name": "Renamed"}), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "delete an invite to own team": (on_team_invite("DELETE"), {"admin", "team_admin"},
                                     EVERYONE - {"admin", "team_admin"}),
    "rename an invite to own team": (on_team_invite("PATCH", {"name": "Renamed"}), {"admin", "team_admin"},
                                     EVERYONE - {"admin", "team_admin"}),
    "make an invite to own team global": (on_team_invite("PATCH", {"global_role": "observer", "teams": []}),
                                          ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "list users": (fixed("GET", f"{V1}/users"), GLOBAL | {"team_admin"}, {"team_maintainer", "team_observer"}),
    "create a global user": (
        fixed("POST", f"{V1}/users/admin", {"email": "made@example.com", "name": "Made",
                                             "password": "correct-horse-9!battery", "global_role": "observer"}),
        ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "create a user on own team": (team_user("team_one"), {"admin", "team_admin"},
                                  EVERYONE - {"admin", "team_admin"}),
    "create a user on another team": (team_user("team_two"), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "get a global user": (on_user("GET"), GLOBAL, set()),
    "modify a global user": (on_user("PATCH", json={"name": "Renamed"}), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "modify a member of own team": (on_user("PATCH", json={"name": "Renamed"}, team_member=True),
                                    {"admin", "team_admin"}, EVERYONE - {"admin", "team_admin"}),
    "delete a global user": (on_user("DELETE"), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "delete a member of own team": (on_user("DELETE", team_member=True), {"admin", "team_admin"},
                                    EVERYONE - {"admin", "team_admin"}),
    "require a password reset": (on_user("POST", "/require_password_reset", {"require": True}),
                                 ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "require a password reset of a member of own team": (
        on_user("POST", "/require_password_reset", {"require": True}, team_member=True),
        {"admin", "team_admin"}, EVERYONE - {"admin", "team_admin"}),
    "list a user's sessions": (on_user("GET", "/sessions"), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "delete a user's sessions": (on_user("DELETE", "/sessions"), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "get a session": (on_session("GET"), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "delete a session": (on_session("DELETE"), ADMIN_ONLY, EVERYONE - ADMIN_ONLY),
    "list activities": (fixed("GET", f"{V1}/activities"), GLOBAL, set()),
}

CASES = [
    pytest.param(name, role, 200 if role in allowed else 403, id=f"{name}-{role}")
    for name, (_, allowed, forbidden) in MATRIX.items()
    for role in ROLES
    if role in allowed or role in forbidden
]


async def send(fleet: Fleet, call: Call, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    if call.json is not None and "content" not in kwargs:
        kwargs["json"] = call.json
    return await fleet.client.request(call.method, call.path, headers=headers or {}, **kwargs)


@pytest.mark.parametrize(("name", "role", "status"), CASES)
async def test_each_role_is_allowed_or_forbidden_as_fleet_documents(
    cast: Cast, name: str, role: str, status: int
) -> None:
    build, _, _ = MATRIX[name]
    call = await build(cast)
    response = await send(cast.fleet, call, cast[role].headers)
    if status == 403:
        body = assert_error(response, 403, "base")
        assert body["message"] == "Permission Denied"
    else:
        assert response.status_code == status, response.text


# Every endpoint that needs a session, with a body good enough to get past decoding.
AUTHENTICATED: list[tuple[str, str, Any]] = [
    ("GET", f"{V1}/me", None),
    ("POST", f"{V1}/logout", None),
    ("POST", f"{V1}/change_password", {"old_password": "x", "new_password": "y"}),
    ("POST", f"{V1}/perform_required_password_reset", {"new_password": "correct-horse-9!battery"}),
    ("GET", f"{V1}/config", None),
    ("PATCH", f"{V1}/config", {"org_info": {"org_name": "x"}}),
    ("GET", f"{V1}/config/certificate", None),
    ("GET", f"{V1}/version", None),
    ("GET", f"{V1}/spec/enroll_secret", None),
    ("POST", f"{V1}/spec/enroll_secret", {"spec": {"secrets": []}}),
    ("GET", f"{V1}/teams/1/secrets", None),
    ("PATCH", f"{V1}/teams/1/secrets", {"secrets": []}),
    ("GET", f"{V1}/invites", None),
    ("POST", f"{V1}/invites", {"email": "a@example.com", "name": "A", "global_role": "observer"}),
    ("PATCH", f"{V1}/invites/1", {"name": "A"}),
    ("DELETE", f"{V1}/invites/1", None),
    ("GET", f"{V1}/users", None),
    ("POST", f"{V1}/users/admin", {"email": "a@example.com", "name": "A", "global_role": "observer"}),
    ("GET", f"{V1}/users/1", None),
    ("PATCH", f"{V1}/users/1", {"name": "A"}),
    ("DELETE", f"{V1}/users/1", None),
    ("POST", f"{V1}/users/1/require_password_reset", {"require": True}),
    ("GET", f"{V1}/users/1/sessions", None),
    ("DELETE", f"{V1}/users/1/sessions", None),
    ("GET", f"{V1}/sessions/1", None),
    ("DELETE", f"{V1}/sessions/1", None),
    ("GET", f"{V1}/activities", None),
]

BAD_CREDENTIALS = {
    "no header": {},
    "unknown token": bearer("not-a-real-token"),
    "empty bearer": {"Authorization": "Bearer "},
    "wrong scheme": {"Authorization": "Basic YWRtaW46cGFzc3dvcmQ="},
}


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
@pytest.mark.parametrize(("method", "path", "json"), AUTHENTICATED, ids=[f"{m} {p}" for m, p, _ in AUTHENTICATED])
async def test_an_endpoint_that_needs_a_session_answers_401_without_a_valid_token(
    fleet: Fleet, method: str, path: str, json: Any, credentials: str
) -> None:
    response = await send(fleet, Call(method, path, json), BAD_CREDENTIALS[credentials])
    body = assert_error(response, 401, "base")
    assert body["message"] == "Authentication Failed"


@pytest.mark.parametrize(("method", "path", "json"), AUTHENTICATED, ids=[f"{m} {p}" for m, p, _ in AUTHENTICATED])
async def test_the_latest_prefix_serves_the_same_endpoints(fleet: Fleet, method: str, path: str, json: Any) -> None:
    latest = path.replace("/api/v1/", "/api/latest/")
    response = await send(fleet, Call(method, latest, json))
    assert_error(response, 401, "base")


UNKNOWN_IDS: list[tuple[str, str, Any]] = [
    ("GET", f"{V1}/users/9999", None),
    ("PATCH", f"{V1}/users/9999", {"name": "Nobody"}),
    ("DELETE", f"{V1}/users/9999", None),
    ("POST", f"{V1}/users/9999/require_password_reset", {"require": True}),
    ("GET", f"{V1}/users/9999/sessions", None),
    ("DELETE", f"{V1}/users/9999/sessions", None),
    ("GET", f"{V1}/sessions/9999", None),
    ("DELETE", f"{V1}/sessions/9999", None),
    ("PATCH", f"{V1}/invites/9999", {"name": "Nobody"}),
    ("DELETE", f"{V1}/invites/9999", None),
    ("GET", f"{V1}/invites/no-such-invite-token", None),
    ("GET", f"{V1}/teams/9999/secrets", None),
    ("PATCH", f"{V1}/teams/9999/secrets", {"secrets": [{"secret": "abc"}]}),
]


@pytest.mark.parametrize(("method", "path", "json"), UNKNOWN_IDS, ids=[f"{m} {p}" for m, p, _ in UNKNOWN_IDS])
async def test_an_unknown_id_is_404_resource_not_found(fleet: Fleet, method: str, path: str, json: Any) -> None:
    response = await send(fleet, Call(method, path, json), fleet.as_admin)
    body = assert_error(response, 404, "base")
    assert body["message"] == "Resource Not Found"
    assert "was not found in the datastore" in body["errors"][0]["reason"]


async def test_a_route_that_does_not_exist_is_404_in_fleet_shape(fleet: Fleet) -> None:
    response = await fleet.client.get(f"{V1}/no_such_thing", headers=fleet.as_admin)
    assert_error(response, 404)


# Every endpoint that reads a JSON body; the token is the admin's when the endpoint needs one.
JSON_BODIES: list[tuple[str, str, bool]] = [
    ("POST", "/api/v1/setup", False),
    ("POST", f"{V1}/login", False),
    ("POST", f"{V1}/forgot_password", False),
    ("POST", f"{V1}/reset_password", False),
    ("POST", f"{V1}/change_password", True),
    ("POST", f"{V1}/perform_required_password_reset", True),
    ("PATCH", f"{V1}/config", True),
    ("POST", f"{V1}/spec/enroll_secret", True),
    ("PATCH", f"{V1}/teams/1/secrets", True),
    ("POST", f"{V1}/invites", True),
    ("PATCH", f"{V1}/invites/1", True),
    ("POST", f"{V1}/users", False),
    ("POST", f"{V1}/users/admin", True),
    ("PATCH", f"{V1}/users/1", True),
    ("POST", f"{V1}/users/1/require_password_reset", True),
]

NOT_AN_OBJECT = {
    "malformed": b'{"email": ',
    "array": b"[]",
    "string": b'"hello"',
    "number": b"42",
}


@pytest.mark.parametrize("content", list(NOT_AN_OBJECT))
@pytest.mark.parametrize(("method", "path", "auth"), JSON_BODIES, ids=[f"{m} {p}" for m, p, _ in JSON_BODIES])
async def test_a_body_that_is_not_a_json_object_is_400(
    fleet: Fleet, method: str, path: str, auth: bool, content: str
) -> None:
    await fleet.add_team("Team One")
    headers = {"Content-Type": "application/json", **(fleet.as_admin if auth else {})}
    response = await send(fleet, Call(method, path), headers, content=NOT_AN_OBJECT[content])
    body = assert_error(response, 400)
    assert body["message"] == "Bad request"
