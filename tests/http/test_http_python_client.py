"""The typed client (fleet_http.client) against the management app in-process: typed results,
one exception class per Fleet error with its body and request id, paging, retries, user agent."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fleet_http.client import (
    USER_AGENT,
    AsyncFleetClient,
    AuthenticationFailed,
    BadRequest,
    Campaign,
    Conflict,
    FleetClient,
    FleetConnectionError,
    NotFound,
    PermissionDenied,
    ServerError,
    SyncCampaign,
    ValidationFailed,
)
from fleet_http.client.errors import error_for
from fleet_http.schemas.config import ConfigResponse
from fleet_http.schemas.hosts import HostSummaryResponse
from fleet_http.schemas.labels import LabelDetailBody
from fleet_http.schemas.packs import ScheduledBody
from fleet_http.schemas.policies import PolicyBody
from fleet_http.schemas.queries import QueryBody
from fleet_http.schemas.specs import QuerySpecBody
from fleet_http.schemas.teams import TeamBody
from fleet_http.schemas.users import UserBody
from tests.http.support import ADMIN_EMAIL, PASSWORD, Cast, Fleet

pytestmark = pytest.mark.anyio
BASE = "http://testserver.local"


def python_client(client: AsyncTestClient[Litestar], token: str | None = None, **options: object) -> AsyncFleetClient:
    return AsyncFleetClient(BASE, token, http_client=client, **options)  # type: ignore[arg-type]


async def test_login_and_typed_results(blank: Fleet) -> None:
    fleet = python_client(blank.client)
    setup = await fleet.setup(email=ADMIN_EMAIL, password=PASSWORD, name="Ada Admin", org_name="Acme")
    assert setup.token and fleet.token == setup.token
    fleet.token = None
    login = await fleet.login(ADMIN_EMAIL, PASSWORD)
    assert fleet.token == login.token
    me = await fleet.me()
    assert (me.email, me.global_role) == (ADMIN_EMAIL, "admin")

    await fleet.apply_query_specs([{"name": "Uptime", "query": "SELECT * FROM uptime;", "interval": 600}])
    spec = await fleet.get_query_spec("Uptime")
    assert isinstance(spec, QuerySpecBody) and (spec.query, spec.interval) == ("SELECT * FROM uptime;", 600)
    assert [q.name async for q in fleet.queries()] == ["Uptime"]
    await fleet.delete_query("Uptime")
    assert [q async for q in fleet.queries()] == []

    await fleet.logout()
    assert fleet.token is None
    with pytest.raises(AuthenticationFailed):
        await fleet.me()


async def test_each_error_class_carries_the_body_and_request_id(cast: Cast) -> None:
    admin = python_client(cast.fleet.client, cast.actors["admin"].token)
    with pytest.raises(NotFound) as missing:
        await admin.get_query_spec("Nope")
    assert missing.value.status == 404 and missing.value.message == "Resource Not Found"
    assert missing.value.reasons() == {"base": "Query 'Nope' was not found in the datastore"}
    assert missing.value.request_id and missing.value.request_id in str(missing.value)

    with pytest.raises(ValidationFailed) as invalid:
        await admin.apply_pack_specs([{"name": "P", "targets": {"labels": ["Nope"]}, "queries": []}])
    assert invalid.value.reasons() == {"specs[0].targets.labels": "no label is named 'Nope'"}

    with pytest.raises(BadRequest) as bad:
        await admin.start_campaign(query="SELECT 1;", host_ids=[4242])
    assert bad.value.status == 400 and "selected" in bad.value.reasons()

    await admin.apply_enroll_secrets(["shared-secret"])
    with pytest.raises(Conflict) as clash:
        await admin.apply_team_specs([{"name": "Kiosks", "secrets": [{"secret": "shared-secret"}]}])
    assert clash.value.status == 409 and clash.value.reasons() == {"base": "enroll secret is already in use"}

    observer = python_client(cast.fleet.client, cast.actors["observer"].token)
    with pytest.raises(PermissionDenied) as forbidden:
        await observer.apply_query_specs([{"name": "Q", "query": "SELECT 1;"}])
    assert forbidden.value.status == 403 and forbidden.value.errors == [{"name": "base", "reason": "forbidden"}]

    with pytest.raises(AuthenticationFailed):
        await python_client(cast.fleet.client, "not-a-token").me()


async def test_paging_follows_per_page_until_the_last_page(fleet: Fleet) -> None:
    assert fleet.admin is not None
    admin = python_client(fleet.client, fleet.admin.token)
    await admin.apply_label_specs([{"name": f"Label {i:02}", "query": "SELECT 1;"} for i in range(7)])
    everything = (await admin.request("GET", "/labels", params={"per_page": 1000}))["labels"]
    for per_page in (1, 2, 3, len(everything), 1000):
        paged = [label.name async for label in admin.labels(per_page=per_page)]
        assert paged == [label["name"] for label in everything], per_page
    assert {f"Label {i:02}" for i in range(7)} <= {label["name"] for label in everything}


def _recorder(statuses: list[int]) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses[min(len(seen), len(statuses)) - 1]
        body = {"message": "Service Unavailable", "errors": [{"name": "base", "reason": "busy"}], "uuid": "abc"}
        return httpx.Response(status, json=body if status >= 400 else {"version": "x"})

    return seen, httpx.MockTransport(answer)


async def test_retries_only_idempotent_calls_with_backoff_and_sends_the_user_agent() -> None:
    seen, transport = _recorder([503, 502, 200])
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        fleet = AsyncFleetClient(BASE, "t", http_client=http, retries=2, backoff=0.0)
        assert await fleet.request("GET", "/version") == {"version": "x"}
    assert len(seen) == 3
    assert all(r.headers["user-agent"] == USER_AGENT and USER_AGENT.startswith("fleet-py-client/") for r in seen)
    assert seen[0].headers["authorization"] == "Bearer t"

    seen, transport = _recorder([503, 200])
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        fleet = AsyncFleetClient(BASE, "t", http_client=http, retries=2, backoff=0.0)
        with pytest.raises(ServerError) as failed:
            await fleet.request("POST", "/queries/run", json={})  # not idempotent: sent once
    assert len(seen) == 1 and failed.value.request_id == "abc" and failed.value.status == 503

    seen, transport = _recorder([503])
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as http:
        fleet = AsyncFleetClient(BASE, "t", http_client=http, retries=1, backoff=0.0)
        with pytest.raises(ServerError):
            await fleet.request("GET", "/version")
    assert len(seen) == 2


async def test_an_unreachable_server_is_a_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(refuse)) as http:
        fleet = AsyncFleetClient(BASE, http_client=http, retries=1, backoff=0.0)
        with pytest.raises(FleetConnectionError):
            await fleet.version()


def test_error_for_reads_the_request_id_header_when_the_body_has_none() -> None:
    response = httpx.Response(429, text="slow down", headers={"X-Request-Id": "r-1"},
                              request=httpx.Request("GET", BASE))
    error = error_for(response)
    assert type(error).__name__ == "RateLimited" and error.request_id == "r-1" and error.errors == []


def test_tls_verification_is_on_by_default_and_a_ca_file_replaces_the_system_roots(tmp_path: object) -> None:
    from fleet_http.client.transport import ssl_context

    assert ssl_context() is True
    assert ssl_context(verify=False) is False
    import trustme

    ca = trustme.CA()
    path = f"{tmp_path}/ca.pem"
    ca.cert_pem.write_to_path(path)
    context = ssl_context(ca_file=path)
    assert not isinstance(context, bool) and context.verify_mode.name == "CERT_REQUIRED"
    assert len(context.get_ca_certs()) == 1


# Routes the client leaves to others: a device's own routes (authenticated by its device token,
# used by Fleet Desktop, not by a user) and the SockJS transports of the results stream (the
# client reads results over the plain WebSocket).
# Device routes, the SockJS transports, and the SP metadata XML an IdP administrator downloads.
NOT_FOR_THE_CLIENT = re.compile(r"^\w+ /device/|^\w+ /results/(info|\{\}/\{\}/)|^GET /sso/metadata$")


def _served_routes(app: Litestar) -> set[str]:
    served = set()
    for route in app.routes:
        path = re.sub(r"\{[^}]*\}", "{}", route.path)
        if path.startswith("/api/latest/") or not path.startswith(("/api/v1/", "/debug/")):
            continue
        path = path.removeprefix("/api/v1/fleet")
        methods = sorted(set(getattr(route, "methods", ())) - {"HEAD", "OPTIONS"}) or ["WS"]
        served |= {f"{m} {path}" for m in methods}
    return {r for r in served if not NOT_FOR_THE_CLIENT.match(r)}


def test_every_management_route_has_a_client_method(app: Litestar) -> None:
    claimed = {route for name in dir(AsyncFleetClient)
               for route in getattr(getattr(AsyncFleetClient, name), "__fleet_routes__", ())}
    served = _served_routes(app)
    assert served - claimed == set(), "routes without a client method"
    assert claimed - served == set(), "client methods naming routes the server does not serve"
    assert len(served) > 100


async def test_every_method_decodes_the_servers_answer_into_its_schema(fleet: Fleet) -> None:
    assert fleet.admin is not None
    admin = python_client(fleet.client, fleet.admin.token)
    team = await admin.create_team(name="Kiosks", description="front desk")
    assert isinstance(team, TeamBody)
    assert (await admin.get_team(team.id)).description == "front desk"
    assert (await admin.modify_team(team.id, description="lobby")).description == "lobby"
    created = await admin.create_global_policy(name="P", query="SELECT 1;")
    assert isinstance(created, PolicyBody)
    assert (await admin.get_global_policy(created.id)).name == "P"
    assert await admin.count_global_policies() == 1
    assert {a.type async for a in admin.activities(per_page=1)} >= {"created_policy", "created_team"}
    label = await admin.create_label(name="Linux boxes", query="SELECT 1;")
    assert isinstance(label, LabelDetailBody)
    assert "Linux boxes" in {s.name for s in await admin.labels_summary()}
    query = await admin.create_query(name="Uptime", query="SELECT * FROM uptime;")
    assert isinstance(query, QueryBody)
    assert (await admin.get_query(query.id)).query == "SELECT * FROM uptime;"
    pack = await admin.create_pack(name="Pack", label_ids=[label.id])
    scheduled = await admin.schedule_query(pack_id=pack.id, query_id=query.id, interval=60, snapshot=False)
    assert isinstance(scheduled, ScheduledBody)
    assert [s.id for s in await admin.pack_scheduled(pack.id)] == [scheduled.id]
    assert await admin.count_hosts() == 0
    assert isinstance(await admin.host_summary(), HostSummaryResponse)
    config = await admin.get_config()
    assert isinstance(config, ConfigResponse) and config.org_info["org_name"]
    assert await admin.delete_queries(ids=[query.id]) == 1
    me = await admin.me()
    assert [s.user_id for s in await admin.user_sessions(me.id)] and isinstance(me, UserBody)
    with pytest.raises(NotFound):
        await admin.get_host(4242)


async def test_config_response_names_every_block_the_server_sends(fleet: Fleet) -> None:
    assert fleet.admin is not None
    admin = python_client(fleet.client, fleet.admin.token)
    raw = await admin.request("GET", "/config")
    assert set(raw) - set(ConfigResponse.__struct_fields__) == set()
    assert msgspec.structs.asdict(await admin.get_config()) == {**msgspec.structs.asdict(ConfigResponse()), **raw}


def _client_methods(cls: type) -> dict[str, Callable[..., Any]]:
    return {name: member for name, member in vars(cls).items()
            if not name.startswith("_") and inspect.isfunction(member)}


# The one escape hatch: any endpoint, by path, for what the typed methods do not cover.
UNTYPED_BY_DESIGN = {"request"}


def _untyped(annotation: object) -> bool:
    """A bare dict or Any anywhere in the result type (dict[str, int] counts: it is not a schema)."""
    if annotation is Any or annotation is dict:
        return True
    if typing.get_origin(annotation) is dict:
        return True
    return any(_untyped(arg) for arg in typing.get_args(annotation))


@pytest.mark.parametrize(("annotation", "untyped"), [
    (Any, True), (dict, True), (dict[str, Any], True), (list[dict[str, int]], True),
    (AsyncIterator[dict[str, Any]], True), (TeamBody | None, False), (AsyncIterator[QueryBody], False),
    (list[str], False), (None, False), (bytes, False),
])
def test_untyped_results_are_told_apart(annotation: object, untyped: bool) -> None:
    assert _untyped(annotation) is untyped


@pytest.mark.parametrize("cls", [AsyncFleetClient, FleetClient])
def test_every_client_method_has_a_typed_result(cls: type) -> None:
    untyped = []
    for name, method in _client_methods(cls).items():
        if name in UNTYPED_BY_DESIGN or name in ("aclose", "close"):
            continue
        hints = typing.get_type_hints(method)
        if "return" not in hints or _untyped(hints["return"]):
            untyped.append(f"{name} -> {hints.get('return', 'missing')}")
    assert untyped == []
    assert len(_client_methods(cls)) > 100


def test_the_blocking_client_has_every_method_with_the_same_result() -> None:
    blocking = _client_methods(FleetClient)
    for name, method in _client_methods(AsyncFleetClient).items():
        if name == "aclose":  # FleetClient.close
            continue
        assert name in blocking, name
        result = typing.get_type_hints(method)["return"]
        expected = {AsyncIterator: Iterator}.get(typing.get_origin(result))
        if expected is not None:
            result = expected[typing.get_args(result)]
        elif result is Campaign:
            result = SyncCampaign
        assert typing.get_type_hints(blocking[name])["return"] == result, name
        assert inspect.signature(blocking[name]).parameters.keys() == inspect.signature(method).parameters.keys()
