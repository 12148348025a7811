"""The asynchronous client: one method per management endpoint that fleetctl and the tests use,
typed with the server's own wire schemas (fleet_http.schemas), so the two cannot drift; and
``request()`` for any other endpoint."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from fleet_http.client.live import Campaign
from fleet_http.client.transport import API, Transport
from fleet_http.schemas.auth import LoginResponse, MeResponse, SetupResponse
from fleet_http.schemas.carves import CarveBody
from fleet_http.schemas.config import EnrollSecretSpecResponse, VersionResponse
from fleet_http.schemas.hosts import HostBody
from fleet_http.schemas.labels import LabelDetailBody
from fleet_http.schemas.live_queries import CampaignResponse
from fleet_http.schemas.packs import PackBody
from fleet_http.schemas.policies import PolicyBody
from fleet_http.schemas.queries import QueryBody
from fleet_http.schemas.software import SoftwareListItem
from fleet_http.schemas.specs import (
    ApplyTeamSpecsResponse,
    LabelSpecBody,
    LabelSpecResponse,
    LabelSpecsResponse,
    PackSpecBody,
    PackSpecResponse,
    PackSpecsResponse,
    QuerySpecBody,
    QuerySpecResponse,
    QuerySpecsResponse,
)
from fleet_http.schemas.teams import TeamBody, TeamResponse
from fleet_http.schemas.users import UserBody, UserResponse

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
Json = dict[str, Any]


def endpoint(*routes: str) -> Callable[[F], F]:
    """Which routes a method calls ("METHOD /path", below /api/v1/fleet unless it starts with /api
    or /debug; ids as {}). Only metadata: a test checks that every route the server serves has a
    method."""

    def mark(method: F) -> F:
        method.__fleet_routes__ = routes  # type: ignore[attr-defined]
        return method

    return mark


def _name(name: str) -> str:
    return quote(name, safe="")


class AsyncFleetClient:
    """``async with AsyncFleetClient(address, token) as fleet: ...``

    ``verify`` (default True) checks the server's certificate against the system's CAs, or
    against ``ca_file`` only when given. ``retries`` repeats idempotent requests that met a
    connection error or a 429/502/503/504, with exponential backoff. ``http_client`` lets a test
    pass its own httpx.AsyncClient (for instance one bound to an in-process app).
    """

    def __init__(self, address: str, token: str | None = None, *, verify: bool = True, ca_file: str | None = None,
                 timeout: float = 30.0, retries: int = 0, backoff: float = 0.5,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self.transport = Transport(address, token, verify=verify, ca_file=ca_file, timeout=timeout, retries=retries,
                                   backoff=backoff, http_client=http_client)

    if TYPE_CHECKING:
        # The thin methods added below the class (one per remaining endpoint, returning JSON).
        def __getattr__(self, name: str) -> Any: ...

    async def __aenter__(self) -> AsyncFleetClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    @property
    def token(self) -> str | None:
        return self.transport.token

    @token.setter
    def token(self, value: str | None) -> None:
        self.transport.token = value

    # ---- any endpoint ----------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      json: Any = None, idempotent: bool | None = None) -> Any:
        """Any endpoint: ``path`` below /api/v1/fleet (or absolute, starting with /api or /debug);
        the decoded JSON body (None when empty)."""
        full = path if path.startswith(("/api/", "/debug")) else f"{API}{path}"
        response = await self.transport.send(method, full, params=params, json=json, idempotent=idempotent)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return msgspec.json.decode(response.content)
        return response.content

    async def _call(self, method: str, path: str, type: type[T], **kwargs: Any) -> T:
        return await self.transport.call(method, f"{API}{path}", type, **kwargs)

    def _pages(self, path: str, key: str, item_type: type[T], params: Mapping[str, Any] | None = None,
               per_page: int = 100) -> AsyncIterator[T]:
        return self.transport.pages(f"{API}{path}", key, item_type, params=params, per_page=per_page)

    # ---- session ---------------------------------------------------------------------------

    @endpoint("POST /api/v1/setup")
    async def setup(self, *, email: str, password: str, name: str, org_name: str,
                    server_url: str | None = None) -> SetupResponse:
        """The first admin of a new server (POST /api/v1/setup); keeps its token."""
        body = {"admin": {"email": email, "password": password, "name": name, "admin": True},
                "org_info": {"org_name": org_name}, "server_url": server_url or self.transport.address}
        setup = await self.transport.call("POST", "/api/v1/setup", SetupResponse, json=body)
        self.token = setup.token
        return setup

    @endpoint("POST /login")
    async def login(self, email: str, password: str) -> LoginResponse:
        """Log in and keep the session token for the next calls."""
        login = await self._call("POST", "/login", LoginResponse, json={"email": email, "password": password})
        self.token = login.token
        return login

    @endpoint("POST /logout")
    async def logout(self) -> None:
        await self._call("POST", "/logout", dict)
        self.token = None

    @endpoint("GET /me")
    async def me(self) -> UserBody:
        return (await self._call("GET", "/me", MeResponse)).user

    @endpoint("GET /version")
    async def version(self) -> VersionResponse:
        return await self._call("GET", "/version", VersionResponse)

    # ---- configuration ---------------------------------------------------------------------

    @endpoint("GET /config")
    async def get_config(self) -> Json:
        return await self._call("GET", "/config", Json)

    @endpoint("PATCH /config")
    async def modify_config(self, patch: Json, *, dry_run: bool = False, force: bool = False) -> Json:
        params = {"dry_run": "true" if dry_run else None, "force": "true" if force else None}
        return await self._call("PATCH", "/config", Json, json=patch, params=params, idempotent=True)

    @endpoint("GET /spec/enroll_secret")
    async def get_enroll_secrets(self) -> EnrollSecretSpecResponse:
        return await self._call("GET", "/spec/enroll_secret", EnrollSecretSpecResponse)

    @endpoint("POST /spec/enroll_secret")
    async def apply_enroll_secrets(self, secrets: list[str], *, dry_run: bool = False) -> None:
        body = {"dry_run": dry_run, "spec": {"secrets": [{"secret": s} for s in secrets]}}
        await self._call("POST", "/spec/enroll_secret", Json, json=body, idempotent=True)

    # ---- specs (configuration as code) -----------------------------------------------------

    @endpoint("GET /spec/queries")
    async def get_query_specs(self) -> list[QuerySpecBody]:
        return (await self._call("GET", "/spec/queries", QuerySpecsResponse)).specs

    @endpoint("GET /spec/queries/{}")
    async def get_query_spec(self, name: str) -> QuerySpecBody:
        return (await self._call("GET", f"/spec/queries/{_name(name)}", QuerySpecResponse)).specs

    @endpoint("POST /spec/queries")
    async def apply_query_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/queries", Json, json={"specs": specs}, idempotent=True)

    @endpoint("GET /spec/labels")
    async def get_label_specs(self) -> list[LabelSpecBody]:
        return (await self._call("GET", "/spec/labels", LabelSpecsResponse)).specs

    @endpoint("GET /spec/labels/{}")
    async def get_label_spec(self, name: str) -> LabelSpecBody:
        return (await self._call("GET", f"/spec/labels/{_name(name)}", LabelSpecResponse)).specs

    @endpoint("POST /spec/labels")
    async def apply_label_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/labels", Json, json={"specs": specs}, idempotent=True)

    @endpoint("GET /spec/packs")
    async def get_pack_specs(self) -> list[PackSpecBody]:
        return (await self._call("GET", "/spec/packs", PackSpecsResponse)).specs

    @endpoint("GET /spec/packs/{}")
    async def get_pack_spec(self, name: str) -> PackSpecBody:
        return (await self._call("GET", f"/spec/packs/{_name(name)}", PackSpecResponse)).specs

    @endpoint("POST /spec/packs")
    async def apply_pack_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/packs", Json, json={"specs": specs}, idempotent=True)

    @endpoint("POST /spec/teams")
    async def apply_team_specs(self, specs: list[Json], *, dry_run: bool = False,
                               force: bool = False) -> dict[str, int]:
        params = {"dry_run": "true" if dry_run else None, "force": "true" if force else None}
        return (await self._call("POST", "/spec/teams", ApplyTeamSpecsResponse, json={"specs": specs},
                                 params=params, idempotent=True)).team_ids_by_name

    @endpoint("POST /spec/policies")
    async def apply_policy_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/policies", Json, json={"specs": specs}, idempotent=True)

    # ---- queries, packs, labels, teams, policies -------------------------------------------

    @endpoint("GET /queries")
    def queries(self, *, team_id: int | None = None, per_page: int = 100) -> AsyncIterator[QueryBody]:
        return self._pages("/queries", "queries", QueryBody, {"team_id": team_id}, per_page)

    @endpoint("DELETE /queries/{}")
    async def delete_query(self, name: str, *, team_id: int | None = None) -> None:
        await self._call("DELETE", f"/queries/{_name(name)}", Json, params={"team_id": team_id})

    @endpoint("GET /packs")
    def packs(self, *, per_page: int = 100) -> AsyncIterator[PackBody]:
        return self._pages("/packs", "packs", PackBody, None, per_page)

    @endpoint("DELETE /packs/{}")
    async def delete_pack(self, name: str) -> None:
        await self._call("DELETE", f"/packs/{_name(name)}", Json)

    @endpoint("GET /labels")
    def labels(self, *, per_page: int = 100) -> AsyncIterator[LabelDetailBody]:
        return self._pages("/labels", "labels", LabelDetailBody, None, per_page)

    @endpoint("DELETE /labels/{}")
    async def delete_label(self, name: str) -> None:
        await self._call("DELETE", f"/labels/{_name(name)}", Json)

    @endpoint("GET /teams")
    def teams(self, *, per_page: int = 100) -> AsyncIterator[TeamBody]:
        return self._pages("/teams", "teams", TeamBody, None, per_page)

    @endpoint("GET /teams/{}")
    async def get_team(self, team_id: int) -> TeamBody:
        return (await self._call("GET", f"/teams/{team_id}", TeamResponse)).team

    @endpoint("GET /teams/{}/secrets")
    async def team_secrets(self, team_id: int) -> list[str]:
        body = await self._call("GET", f"/teams/{team_id}/secrets", Json)
        return [s["secret"] for s in body.get("secrets") or []]

    @endpoint("DELETE /teams/{}")
    async def delete_team(self, team_id: int) -> None:
        await self._call("DELETE", f"/teams/{team_id}", Json)

    @endpoint("GET /global/policies", "GET /teams/{}/policies")
    def policies(self, *, team_id: int | None = None, per_page: int = 100) -> AsyncIterator[PolicyBody]:
        path = "/global/policies" if team_id is None else f"/teams/{team_id}/policies"
        return self._pages(path, "policies", PolicyBody, None, per_page)

    @endpoint("POST /global/policies/delete", "POST /teams/{}/policies/delete")
    async def delete_policies(self, ids: list[int], *, team_id: int | None = None) -> int:
        path = "/global/policies/delete" if team_id is None else f"/teams/{team_id}/policies/delete"
        return int((await self._call("POST", path, Json, json={"ids": ids}, idempotent=True)).get("deleted", 0))

    # ---- hosts, users, software ------------------------------------------------------------

    @endpoint("GET /hosts", "GET /labels/{}/hosts")
    def hosts(self, *, team_id: int | None = None, label_id: int | None = None, status: str | None = None,
              query: str | None = None, per_page: int = 100) -> AsyncIterator[HostBody]:
        """Every host matching the filters (``status``: online, offline, new, mia, missing)."""
        params = {"team_id": team_id, "status": status, "query": query}
        path = "/hosts" if label_id is None else f"/labels/{label_id}/hosts"
        return self._pages(path, "hosts", HostBody, params, per_page)

    @endpoint("POST /hosts/transfer")
    async def transfer_hosts(self, team_id: int | None, host_ids: list[int]) -> None:
        await self._call("POST", "/hosts/transfer", Json, json={"team_id": team_id, "hosts": host_ids},
                         idempotent=True)

    @endpoint("POST /hosts/transfer/filter")
    async def transfer_hosts_by_label(self, team_id: int | None, label_id: int) -> None:
        await self._call("POST", "/hosts/transfer/filter", Json,
                         json={"team_id": team_id, "filters": {"label_id": label_id}}, idempotent=True)

    @endpoint("GET /users")
    def users(self, *, per_page: int = 100) -> AsyncIterator[UserBody]:
        return self._pages("/users", "users", UserBody, None, per_page)

    @endpoint("POST /users/admin")
    async def create_user(self, **fields: Any) -> UserBody:
        """POST /users/admin: name, email, password, global_role or teams, api_only, sso_enabled."""
        return (await self._call("POST", "/users/admin", UserResponse, json=fields)).user

    @endpoint("PATCH /users/{}")
    async def modify_user(self, user_id: int, **fields: Any) -> UserBody:
        return (await self._call("PATCH", f"/users/{user_id}", UserResponse, json=fields, idempotent=True)).user

    @endpoint("GET /software")
    def software(self, *, team_id: int | None = None, query: str | None = None, vulnerable: bool | None = None,
                 per_page: int = 100) -> AsyncIterator[SoftwareListItem]:
        params = {"team_id": team_id, "query": query,
                  "vulnerable": None if vulnerable is None else str(vulnerable).lower()}
        return self._pages("/software", "software", SoftwareListItem, params, per_page)

    # ---- carves ----------------------------------------------------------------------------

    @endpoint("GET /carves")
    def carves(self, *, expired: bool = False, per_page: int = 100) -> AsyncIterator[CarveBody]:
        return self._pages("/carves", "carves", CarveBody, {"expired": "true" if expired else None}, per_page)

    @endpoint("GET /carves/{}")
    async def get_carve(self, carve_id: int) -> CarveBody:
        return msgspec.convert((await self._call("GET", f"/carves/{carve_id}", Json))["carve"], CarveBody)

    @endpoint("GET /carves/{}/block/{}")
    async def carve_block(self, carve_id: int, block_id: int) -> bytes:
        body = await self._call("GET", f"/carves/{carve_id}/block/{block_id}", Json)
        return base64.b64decode(body["data"])

    async def download_carve(self, carve_id: int) -> AsyncIterator[bytes]:
        """The carve's blocks in order, each decoded (concatenated, they are the carved tar)."""
        carve = await self.get_carve(carve_id)
        for block_id in range(carve.block_count):
            yield await self.carve_block(carve_id, block_id)

    # ---- jobs and debugging ----------------------------------------------------------------

    @endpoint("POST /trigger")
    async def trigger(self, name: str = "") -> None:
        """Run a schedule now (POST /trigger?name=...)."""
        await self._call("POST", "/trigger", Json, params={"name": name or None})

    @endpoint("GET /debug/errors", "GET /debug/migrations", "GET /debug/dbstats", "GET /debug/db/{}",
              "GET /debug/pprof/{}")
    async def debug(self, key: str, **params: Any) -> bytes:
        """GET /debug/<key> (errors, migrations, dbstats, db/..., pprof/...): the raw body."""
        return (await self.transport.send("GET", f"/debug/{key.lstrip('/')}", params=params)).content

    @endpoint("GET /queries/run")
    async def run_saved_queries(self, query_ids: list[int], host_ids: list[int]) -> Json:
        """Run saved queries on hosts and wait for the answers (Fleet sends this body on a GET)."""
        return await self._call("GET", "/queries/run", Json, json={"query_ids": query_ids, "host_ids": host_ids},
                                idempotent=False)

    @endpoint("POST /download_installer/{}")
    async def download_installer(self, kind: str, enroll_secret: str, *, desktop: bool = False) -> bytes:
        """An installer package (docs/installers.md): ``kind`` pkg, msi, deb or rpm."""
        form = {"token": self.token or "", "enroll_secret": enroll_secret, "desktop": str(desktop).lower()}
        return (await self.transport.send("POST", f"{API}/download_installer/{_name(kind)}", form=form)).content

    # ---- live queries ----------------------------------------------------------------------

    @endpoint("POST /queries/run")
    async def start_campaign(self, *, query: str | None = None, query_id: int | None = None,
                             host_ids: list[int] | None = None, label_ids: list[int] | None = None,
                             team_ids: list[int] | None = None) -> CampaignResponse:
        body = {"query": query, "query_id": query_id,
                "selected": {"hosts": host_ids or [], "labels": label_ids or [], "teams": team_ids or []}}
        return await self._call("POST", "/queries/run", CampaignResponse, json=body)

    @endpoint("POST /queries/run", "WS /results/websocket")
    async def live_query(self, *, query: str | None = None, query_id: int | None = None,
                         host_ids: list[int] | None = None, label_ids: list[int] | None = None,
                         team_ids: list[int] | None = None, seconds: float | None = 60.0,
                         raise_on_timeout: bool = True) -> Campaign:
        """Start a campaign; iterate the returned Campaign (``async with``) for its events, for at
        most ``seconds`` (None: until every online host answered)."""
        started = await self.start_campaign(query=query, query_id=query_id, host_ids=host_ids,
                                            label_ids=label_ids, team_ids=team_ids)
        return Campaign(self.transport, started.campaign, timeout=seconds, raise_on_timeout=raise_on_timeout)


def _json_method(name: str, method: str, path: str, *, doc: str, paged_key: str | None = None,
                 idempotent: bool | None = None) -> None:
    """Add ``name`` to AsyncFleetClient: ``path`` takes positional ids for its {} in order;
    keyword arguments are the JSON body (POST/PATCH) or the query string (GET/DELETE)."""
    slots = path.count("{}")

    if paged_key is not None:
        def paged(self: AsyncFleetClient, *ids: Any, per_page: int = 100, **params: Any) -> AsyncIterator[Json]:
            return self._pages(path.format(*ids), paged_key, Json, params, per_page)

        function: Callable[..., Any] = paged
    else:
        async def call(self: AsyncFleetClient, *ids: Any, **fields: Any) -> Any:
            if len(ids) != slots:
                raise TypeError(f"{name}() takes {slots} id(s), got {len(ids)}")
            url = path.format(*(quote(str(i), safe="") for i in ids))
            if method in ("GET", "DELETE"):
                return await self.request(method, url, params=fields, idempotent=idempotent)
            return await self.request(method, url, json=fields, idempotent=idempotent)

        function = call
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"{method} {path}: {doc}"
    setattr(AsyncFleetClient, name, endpoint(f"{method} {path}")(function))


# (name, method, path, what it does); paged lists name their key.
_THIN: tuple[tuple[str, str, str, str], ...] = (
    ("change_password", "POST", "/change_password", "old_password, new_password"),
    ("forgot_password", "POST", "/forgot_password", "email: mails a reset link"),
    ("reset_password", "POST", "/reset_password", "password_reset_token, new_password"),
    ("perform_required_password_reset", "POST", "/perform_required_password_reset", "new_password"),
    ("get_sso_settings", "GET", "/sso", "the SSO settings the login page shows"),
    ("initiate_sso", "POST", "/sso", "relay_url: starts an SSO login"),
    ("finish_sso", "POST", "/sso/callback", "SAMLResponse: the IdP's answer; returns the session token"),
    ("get_user", "GET", "/users/{}", "one user"),
    ("delete_user", "DELETE", "/users/{}", "delete a user"),
    ("create_user_from_invite", "POST", "/users", "invite_token, name, email, password"),
    ("require_password_reset", "POST", "/users/{}/require_password_reset", "require: true or false"),
    ("user_sessions", "GET", "/users/{}/sessions", "a user's sessions"),
    ("delete_user_sessions", "DELETE", "/users/{}/sessions", "log a user out everywhere"),
    ("get_session", "GET", "/sessions/{}", "one session"),
    ("delete_session", "DELETE", "/sessions/{}", "end one session"),
    ("create_invite", "POST", "/invites", "email, name, global_role or teams, sso_enabled"),
    ("delete_invite", "DELETE", "/invites/{}", "withdraw an invite"),
    ("modify_invite", "PATCH", "/invites/{}", "change an invite's fields"),
    ("verify_invite", "GET", "/invites/{}", "an invite by its token"),
    ("certificate", "GET", "/config/certificate", "the server's TLS certificate chain (base64)"),
    ("modify_team_secrets", "PATCH", "/teams/{}/secrets", "secrets: [{secret}] replaces a team's"),
    ("count_hosts", "GET", "/hosts/count", "how many hosts match the filters"),
    ("host_summary", "GET", "/host_summary", "host counts by status and platform"),
    ("get_host", "GET", "/hosts/{}", "one host's details"),
    ("delete_host", "DELETE", "/hosts/{}", "delete a host"),
    ("host_by_identifier", "GET", "/hosts/identifier/{}", "a host by hostname, UUID, serial or node key"),
    ("refetch_host", "POST", "/hosts/{}/refetch", "ask the host for fresh details"),
    ("delete_hosts", "POST", "/hosts/delete", "ids or filters"),
    ("hosts_report", "GET", "/hosts/report", "format=csv, columns: the hosts as CSV (text)"),
    ("search_hosts", "POST", "/hosts/search", "query, excluded_host_ids"),
    ("host_device_mapping", "GET", "/hosts/{}/device_mapping", "a host's device users"),
    ("host_macadmins", "GET", "/hosts/{}/macadmins", "a host's Munki and MDM data"),
    ("create_device_token", "POST", "/hosts/{}/device_token", "a device token for Fleet Desktop"),
    ("run_on_host", "POST", "/hosts/{}/query", "query: runs SQL on one host and waits"),
    ("run_on_host_identifier", "POST", "/hosts/identifier/{}/query", "query: the same by identifier"),
    ("macadmins", "GET", "/macadmins", "Munki and MDM across hosts"),
    ("os_versions", "GET", "/os_versions", "OS versions and their host counts"),
    ("create_label", "POST", "/labels", "name, query, platform, description, hosts"),
    ("get_label", "GET", "/labels/{}", "one label"),
    ("modify_label", "PATCH", "/labels/{}", "name, description, hosts"),
    ("delete_label_by_id", "DELETE", "/labels/id/{}", "delete a label by id"),
    ("labels_summary", "GET", "/labels/summary", "every label's id, name and type"),
    ("create_query", "POST", "/queries", "name, query, description, team_id, interval, ..."),
    ("get_query", "GET", "/queries/{}", "one saved query"),
    ("modify_query", "PATCH", "/queries/{}", "change a saved query"),
    ("delete_query_by_id", "DELETE", "/queries/id/{}", "delete a query by id"),
    ("delete_queries", "POST", "/queries/delete", "ids"),
    ("run_saved_query", "POST", "/queries/{}/run", "host_ids: runs one saved query and waits"),
    ("start_campaign_by_names", "POST", "/queries/run_by_names", "query, selected: {hosts, labels} by name"),
    ("start_campaign_by_identifiers", "POST", "/queries/run_by_identifiers", "query, selected by identifier"),
    ("create_pack", "POST", "/packs", "name, description, host_ids, label_ids, team_ids"),
    ("get_pack", "GET", "/packs/{}", "one pack"),
    ("modify_pack", "PATCH", "/packs/{}", "change a pack"),
    ("delete_pack_by_id", "DELETE", "/packs/id/{}", "delete a pack by id"),
    ("pack_scheduled", "GET", "/packs/{}/scheduled", "a pack's scheduled queries"),
    ("schedule_query", "POST", "/schedule", "pack_id, query_id, interval, ..."),
    ("get_scheduled", "GET", "/schedule/{}", "one scheduled query"),
    ("modify_scheduled", "PATCH", "/schedule/{}", "change a scheduled query"),
    ("delete_scheduled", "DELETE", "/schedule/{}", "unschedule"),
    ("global_schedule", "GET", "/global/schedule", "the global schedule"),
    ("add_global_schedule", "POST", "/global/schedule", "query_id, interval, ..."),
    ("modify_global_schedule", "PATCH", "/global/schedule/{}", "change a global scheduled query"),
    ("delete_global_schedule", "DELETE", "/global/schedule/{}", "remove a global scheduled query"),
    ("team_schedule", "GET", "/teams/{}/schedule", "a team's schedule"),
    ("add_team_schedule", "POST", "/teams/{}/schedule", "query_id, interval, ..."),
    ("modify_team_schedule", "PATCH", "/teams/{}/schedule/{}", "change a team's scheduled query"),
    ("delete_team_schedule", "DELETE", "/teams/{}/schedule/{}", "remove a team's scheduled query"),
    ("create_global_policy", "POST", "/global/policies", "name, query, description, resolution, platform, critical"),
    ("get_global_policy", "GET", "/global/policies/{}", "one global policy"),
    ("modify_global_policy", "PATCH", "/global/policies/{}", "change a global policy"),
    ("count_global_policies", "GET", "/policies/count", "how many global policies"),
    ("create_team_policy", "POST", "/teams/{}/policies", "the same for a team"),
    ("get_team_policy", "GET", "/teams/{}/policies/{}", "one team policy"),
    ("modify_team_policy", "PATCH", "/teams/{}/policies/{}", "change a team policy"),
    ("count_team_policies", "GET", "/teams/{}/policies/count", "how many policies a team has"),
    ("create_team", "POST", "/teams", "name, description"),
    ("modify_team", "PATCH", "/teams/{}", "name, description, webhook_settings, ..."),
    ("targets", "POST", "/targets", "query, selected: hosts, labels and teams to target"),
    ("count_targets", "POST", "/targets/count", "selected: how many hosts, online and offline"),
    ("translate", "POST", "/translate", "list: names to ids"),
    ("live_query_status", "GET", "/status/live_query", "whether live queries can run"),
    ("result_store_status", "GET", "/status/result_store", "whether the result store answers"),
    ("count_software", "GET", "/software/count", "how many software items match"),
)
_PAGED: tuple[tuple[str, str, str, str], ...] = (
    ("activities", "/activities", "activities", "every activity, newest first by default"),
    ("invites", "/invites", "invites", "every pending invite"),
)

for _name_, _method, _path, _doc in _THIN:
    _json_method(_name_, _method, _path, doc=_doc)
for _name_, _path, _key, _doc in _PAGED:
    _json_method(_name_, "GET", _path, doc=_doc, paged_key=_key)
