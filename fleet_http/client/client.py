"""The asynchronous client: one method per management endpoint that fleetctl and the tests use,
typed with the server's own wire schemas (fleet_http.schemas), so the two cannot drift; and
``request()`` for any other endpoint."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from fleet_http.client.live import Campaign
from fleet_http.client.transport import API, Transport
from fleet_http.schemas.auth import LoginResponse, MeResponse, SetupResponse
from fleet_http.schemas.carves import CarveBlockResponse, CarveBody, CarveResponse
from fleet_http.schemas.common import EmptyResponse
from fleet_http.schemas.config import (
    ActivityBody,
    CertificateResponse,
    ConfigResponse,
    EnrollSecretSpecResponse,
    TeamSecretsResponse,
    VersionResponse,
)
from fleet_http.schemas.device import DeviceTokenResponse
from fleet_http.schemas.hosts import (
    AggregatedMacadminsResponse,
    CountHostsResponse,
    DeviceMappingResponse,
    HostBody,
    HostDetailBody,
    HostDetailResponse,
    HostSummaryResponse,
    MacadminsResponse,
    OSVersionsResponse,
)
from fleet_http.schemas.invites import InviteBody, InviteResponse
from fleet_http.schemas.labels import LabelDetailBody, LabelResponse, LabelsSummaryResponse, LabelSummaryBody
from fleet_http.schemas.live_queries import (
    CampaignResponse,
    HostQueryResponse,
    RunQueriesResponse,
    RunQueryResponse,
)
from fleet_http.schemas.packs import (
    GlobalScheduleResponse,
    PackBody,
    PackResponse,
    ScheduledBody,
    ScheduledListResponse,
    ScheduledResponse,
)
from fleet_http.schemas.policies import DeletePoliciesResponse, PolicyBody, PolicyCountResponse, PolicyResponse
from fleet_http.schemas.queries import DeleteQueriesResponse, QueryBody, QueryResponse
from fleet_http.schemas.software import CountSoftwareResponse, SoftwareListItem
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
from fleet_http.schemas.sso import InitiateSSOResponse, SSOCallbackResponse, SSOSettingsBody, SSOSettingsResponse
from fleet_http.schemas.targets import (
    CountTargetsResponse,
    SearchHostsResponse,
    SearchTargetsResponse,
    TranslateResponse,
)
from fleet_http.schemas.teams import CreateTeamResponse, TeamBody, TeamResponse
from fleet_http.schemas.users import ListSessionsResponse, SessionBody, UserBody, UserResponse

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
        await self._call("POST", "/logout", EmptyResponse)
        self.token = None

    @endpoint("GET /me")
    async def me(self) -> UserBody:
        return (await self._call("GET", "/me", MeResponse)).user

    @endpoint("GET /version")
    async def version(self) -> VersionResponse:
        return await self._call("GET", "/version", VersionResponse)

    # ---- configuration ---------------------------------------------------------------------

    @endpoint("GET /config")
    async def get_config(self) -> ConfigResponse:
        return await self._call("GET", "/config", ConfigResponse)

    @endpoint("PATCH /config")
    async def modify_config(self, patch: Json, *, dry_run: bool = False, force: bool = False) -> ConfigResponse:
        params = {"dry_run": "true" if dry_run else None, "force": "true" if force else None}
        return await self._call("PATCH", "/config", ConfigResponse, json=patch, params=params, idempotent=True)

    @endpoint("GET /spec/enroll_secret")
    async def get_enroll_secrets(self) -> EnrollSecretSpecResponse:
        return await self._call("GET", "/spec/enroll_secret", EnrollSecretSpecResponse)

    @endpoint("POST /spec/enroll_secret")
    async def apply_enroll_secrets(self, secrets: list[str], *, dry_run: bool = False) -> None:
        body = {"dry_run": dry_run, "spec": {"secrets": [{"secret": s} for s in secrets]}}
        await self._call("POST", "/spec/enroll_secret", EmptyResponse, json=body, idempotent=True)

    # ---- specs (configuration as code) -----------------------------------------------------

    @endpoint("GET /spec/queries")
    async def get_query_specs(self) -> list[QuerySpecBody]:
        return (await self._call("GET", "/spec/queries", QuerySpecsResponse)).specs

    @endpoint("GET /spec/queries/{}")
    async def get_query_spec(self, name: str) -> QuerySpecBody:
        return (await self._call("GET", f"/spec/queries/{_name(name)}", QuerySpecResponse)).specs

    @endpoint("POST /spec/queries")
    async def apply_query_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/queries", EmptyResponse, json={"specs": specs}, idempotent=True)

    @endpoint("GET /spec/labels")
    async def get_label_specs(self) -> list[LabelSpecBody]:
        return (await self._call("GET", "/spec/labels", LabelSpecsResponse)).specs

    @endpoint("GET /spec/labels/{}")
    async def get_label_spec(self, name: str) -> LabelSpecBody:
        return (await self._call("GET", f"/spec/labels/{_name(name)}", LabelSpecResponse)).specs

    @endpoint("POST /spec/labels")
    async def apply_label_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/labels", EmptyResponse, json={"specs": specs}, idempotent=True)

    @endpoint("GET /spec/packs")
    async def get_pack_specs(self) -> list[PackSpecBody]:
        return (await self._call("GET", "/spec/packs", PackSpecsResponse)).specs

    @endpoint("GET /spec/packs/{}")
    async def get_pack_spec(self, name: str) -> PackSpecBody:
        return (await self._call("GET", f"/spec/packs/{_name(name)}", PackSpecResponse)).specs

    @endpoint("POST /spec/packs")
    async def apply_pack_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/packs", EmptyResponse, json={"specs": specs}, idempotent=True)

    @endpoint("POST /spec/teams")
    async def apply_team_specs(self, specs: list[Json], *, dry_run: bool = False,
                               force: bool = False) -> ApplyTeamSpecsResponse:
        """The teams' ids by name in ``team_ids_by_name``."""
        params = {"dry_run": "true" if dry_run else None, "force": "true" if force else None}
        return await self._call("POST", "/spec/teams", ApplyTeamSpecsResponse, json={"specs": specs},
                                params=params, idempotent=True)

    @endpoint("POST /spec/policies")
    async def apply_policy_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/policies", EmptyResponse, json={"specs": specs}, idempotent=True)

    # ---- queries, packs, labels, teams, policies -------------------------------------------

    @endpoint("GET /queries")
    def queries(self, *, team_id: int | None = None, per_page: int = 100) -> AsyncIterator[QueryBody]:
        return self._pages("/queries", "queries", QueryBody, {"team_id": team_id}, per_page)

    @endpoint("DELETE /queries/{}")
    async def delete_query(self, name: str, *, team_id: int | None = None) -> None:
        await self._call("DELETE", f"/queries/{_name(name)}", EmptyResponse, params={"team_id": team_id})

    @endpoint("GET /packs")
    def packs(self, *, per_page: int = 100) -> AsyncIterator[PackBody]:
        return self._pages("/packs", "packs", PackBody, None, per_page)

    @endpoint("DELETE /packs/{}")
    async def delete_pack(self, name: str) -> None:
        await self._call("DELETE", f"/packs/{_name(name)}", EmptyResponse)

    @endpoint("GET /labels")
    def labels(self, *, per_page: int = 100) -> AsyncIterator[LabelDetailBody]:
        return self._pages("/labels", "labels", LabelDetailBody, None, per_page)

    @endpoint("DELETE /labels/{}")
    async def delete_label(self, name: str) -> None:
        await self._call("DELETE", f"/labels/{_name(name)}", EmptyResponse)

    @endpoint("GET /teams")
    def teams(self, *, per_page: int = 100) -> AsyncIterator[TeamBody]:
        return self._pages("/teams", "teams", TeamBody, None, per_page)

    @endpoint("GET /teams/{}")
    async def get_team(self, team_id: int) -> TeamBody:
        return (await self._call("GET", f"/teams/{team_id}", TeamResponse)).team

    @endpoint("GET /teams/{}/secrets")
    async def team_secrets(self, team_id: int) -> list[str]:
        body = await self._call("GET", f"/teams/{team_id}/secrets", TeamSecretsResponse)
        return [s.secret for s in body.secrets or []]

    @endpoint("DELETE /teams/{}")
    async def delete_team(self, team_id: int) -> None:
        await self._call("DELETE", f"/teams/{team_id}", EmptyResponse)

    @endpoint("GET /global/policies", "GET /teams/{}/policies")
    def policies(self, *, team_id: int | None = None, per_page: int = 100) -> AsyncIterator[PolicyBody]:
        path = "/global/policies" if team_id is None else f"/teams/{team_id}/policies"
        return self._pages(path, "policies", PolicyBody, None, per_page)

    @endpoint("POST /global/policies/delete", "POST /teams/{}/policies/delete")
    async def delete_policies(self, ids: list[int], *, team_id: int | None = None) -> int:
        path = "/global/policies/delete" if team_id is None else f"/teams/{team_id}/policies/delete"
        return (await self._call("POST", path, DeletePoliciesResponse, json={"ids": ids}, idempotent=True)).deleted

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
        await self._call("POST", "/hosts/transfer", EmptyResponse, json={"team_id": team_id, "hosts": host_ids},
                         idempotent=True)

    @endpoint("POST /hosts/transfer/filter")
    async def transfer_hosts_by_label(self, team_id: int | None, label_id: int) -> None:
        await self._call("POST", "/hosts/transfer/filter", EmptyResponse,
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
        return (await self._call("GET", f"/carves/{carve_id}", CarveResponse)).carve

    @endpoint("GET /carves/{}/block/{}")
    async def carve_block(self, carve_id: int, block_id: int) -> bytes:
        body = await self._call("GET", f"/carves/{carve_id}/block/{block_id}", CarveBlockResponse)
        return base64.b64decode(body.data)

    async def download_carve(self, carve_id: int) -> AsyncIterator[bytes]:
        """The carve's blocks in order, each decoded (concatenated, they are the carved tar)."""
        carve = await self.get_carve(carve_id)
        for block_id in range(carve.block_count):
            yield await self.carve_block(carve_id, block_id)

    # ---- jobs and debugging ----------------------------------------------------------------

    @endpoint("POST /trigger")
    async def trigger(self, name: str = "") -> None:
        """Run a schedule now (POST /trigger?name=...)."""
        await self._call("POST", "/trigger", EmptyResponse, params={"name": name or None})

    @endpoint("GET /debug/errors", "GET /debug/migrations", "GET /debug/dbstats", "GET /debug/db/{}",
              "GET /debug/pprof/{}")
    async def debug(self, key: str, **params: Any) -> bytes:
        """GET /debug/<key> (errors, migrations, dbstats, db/..., pprof/...): the raw body."""
        return (await self.transport.send("GET", f"/debug/{key.lstrip('/')}", params=params)).content

    @endpoint("GET /queries/run")
    async def run_saved_queries(self, query_ids: list[int], host_ids: list[int]) -> RunQueriesResponse:
        """Run saved queries on hosts and wait for the answers (Fleet sends this body on a GET)."""
        body = {"query_ids": query_ids, "host_ids": host_ids}
        return await self._call("GET", "/queries/run", RunQueriesResponse, json=body, idempotent=False)

    @endpoint("POST /download_installer/{}")
    async def download_installer(self, kind: str, enroll_secret: str, *, desktop: bool = False) -> bytes:
        """An installer package (docs/installers.md): ``kind`` pkg, msi, deb or rpm."""
        form = {"token": self.token or "", "enroll_secret": enroll_secret, "desktop": str(desktop).lower()}
        return (await self.transport.send("POST", f"{API}/download_installer/{_name(kind)}", form=form)).content

    # ---- every other endpoint: typed with the server's response schemas -----------------

    @endpoint("POST /change_password")
    async def change_password(self, **fields: Any) -> None:
        """POST /change_password: old_password, new_password."""
        await self._call("POST", "/change_password", EmptyResponse, json=fields)

    @endpoint("POST /forgot_password")
    async def forgot_password(self, **fields: Any) -> None:
        """POST /forgot_password: email: mails a reset link."""
        await self._call("POST", "/forgot_password", EmptyResponse, json=fields)

    @endpoint("POST /reset_password")
    async def reset_password(self, **fields: Any) -> None:
        """POST /reset_password: password_reset_token, new_password."""
        await self._call("POST", "/reset_password", EmptyResponse, json=fields)

    @endpoint("POST /perform_required_password_reset")
    async def perform_required_password_reset(self, **fields: Any) -> UserBody:
        """POST /perform_required_password_reset: new_password."""
        return (await self._call("POST", "/perform_required_password_reset", UserResponse, json=fields)).user

    @endpoint("GET /sso")
    async def get_sso_settings(self, **params: Any) -> SSOSettingsBody:
        """GET /sso: the SSO settings the login page shows."""
        return (await self._call("GET", "/sso", SSOSettingsResponse, params=params)).settings

    @endpoint("POST /sso")
    async def initiate_sso(self, **fields: Any) -> InitiateSSOResponse:
        """POST /sso: relay_url: starts an SSO login."""
        return await self._call("POST", "/sso", InitiateSSOResponse, json=fields)

    @endpoint("POST /sso/callback")
    async def finish_sso(self, **fields: Any) -> SSOCallbackResponse:
        """POST /sso/callback: SAMLResponse: the IdP's answer; the session token."""
        return await self._call("POST", "/sso/callback", SSOCallbackResponse, json=fields)

    @endpoint("GET /users/{}")
    async def get_user(self, user_id: int, **params: Any) -> UserBody:
        """GET /users/{}: one user."""
        return (await self._call("GET", f"/users/{user_id}", UserResponse, params=params)).user

    @endpoint("DELETE /users/{}")
    async def delete_user(self, user_id: int, **params: Any) -> None:
        """DELETE /users/{}: delete a user."""
        await self._call("DELETE", f"/users/{user_id}", EmptyResponse, params=params)

    @endpoint("POST /users")
    async def create_user_from_invite(self, **fields: Any) -> UserBody:
        """POST /users: invite_token, name, email, password."""
        return (await self._call("POST", "/users", UserResponse, json=fields)).user

    @endpoint("POST /users/{}/require_password_reset")
    async def require_password_reset(self, user_id: int, **fields: Any) -> UserBody:
        """POST /users/{}/require_password_reset: require: true or false."""
        return (await self._call("POST", f"/users/{user_id}/require_password_reset", UserResponse, json=fields)).user

    @endpoint("GET /users/{}/sessions")
    async def user_sessions(self, user_id: int, **params: Any) -> list[SessionBody]:
        """GET /users/{}/sessions: a user's sessions."""
        return (await self._call("GET", f"/users/{user_id}/sessions", ListSessionsResponse, params=params)).sessions

    @endpoint("DELETE /users/{}/sessions")
    async def delete_user_sessions(self, user_id: int, **params: Any) -> None:
        """DELETE /users/{}/sessions: log a user out everywhere."""
        await self._call("DELETE", f"/users/{user_id}/sessions", EmptyResponse, params=params)

    @endpoint("GET /sessions/{}")
    async def get_session(self, session_id: int, **params: Any) -> SessionBody:
        """GET /sessions/{}: one session."""
        return await self._call("GET", f"/sessions/{session_id}", SessionBody, params=params)

    @endpoint("DELETE /sessions/{}")
    async def delete_session(self, session_id: int, **params: Any) -> None:
        """DELETE /sessions/{}: end one session."""
        await self._call("DELETE", f"/sessions/{session_id}", EmptyResponse, params=params)

    @endpoint("POST /invites")
    async def create_invite(self, **fields: Any) -> InviteBody:
        """POST /invites: email, name, global_role or teams, sso_enabled."""
        return (await self._call("POST", "/invites", InviteResponse, json=fields)).invite

    @endpoint("DELETE /invites/{}")
    async def delete_invite(self, invite_id: int, **params: Any) -> None:
        """DELETE /invites/{}: withdraw an invite."""
        await self._call("DELETE", f"/invites/{invite_id}", EmptyResponse, params=params)

    @endpoint("PATCH /invites/{}")
    async def modify_invite(self, invite_id: int, **fields: Any) -> InviteBody:
        """PATCH /invites/{}: change an invite's fields."""
        return (await self._call("PATCH", f"/invites/{invite_id}", InviteResponse, json=fields)).invite

    @endpoint("GET /invites/{}")
    async def verify_invite(self, token: str, **params: Any) -> InviteBody:
        """GET /invites/{}: an invite by its token."""
        return (await self._call("GET", f"/invites/{_name(token)}", InviteResponse, params=params)).invite

    @endpoint("GET /config/certificate")
    async def certificate(self, **params: Any) -> str:
        """GET /config/certificate: the server's TLS certificate chain (base64)."""
        return (await self._call("GET", "/config/certificate", CertificateResponse, params=params)).certificate_chain

    @endpoint("PATCH /teams/{}/secrets")
    async def modify_team_secrets(self, team_id: int, **fields: Any) -> TeamSecretsResponse:
        """PATCH /teams/{}/secrets: secrets: [{secret}] replaces a team's."""
        return await self._call("PATCH", f"/teams/{team_id}/secrets", TeamSecretsResponse, json=fields)

    @endpoint("GET /hosts/count")
    async def count_hosts(self, **params: Any) -> int:
        """GET /hosts/count: how many hosts match the filters."""
        return (await self._call("GET", "/hosts/count", CountHostsResponse, params=params)).count

    @endpoint("GET /host_summary")
    async def host_summary(self, **params: Any) -> HostSummaryResponse:
        """GET /host_summary: host counts by status and platform."""
        return await self._call("GET", "/host_summary", HostSummaryResponse, params=params)

    @endpoint("GET /hosts/{}")
    async def get_host(self, host_id: int, **params: Any) -> HostDetailBody:
        """GET /hosts/{}: one host's details."""
        return (await self._call("GET", f"/hosts/{host_id}", HostDetailResponse, params=params)).host

    @endpoint("DELETE /hosts/{}")
    async def delete_host(self, host_id: int, **params: Any) -> None:
        """DELETE /hosts/{}: delete a host."""
        await self._call("DELETE", f"/hosts/{host_id}", EmptyResponse, params=params)

    @endpoint("GET /hosts/identifier/{}")
    async def host_by_identifier(self, identifier: str, **params: Any) -> HostDetailBody:
        """GET /hosts/identifier/{}: a host by hostname, UUID, serial or node key."""
        path = f"/hosts/identifier/{_name(identifier)}"
        return (await self._call("GET", path, HostDetailResponse, params=params)).host

    @endpoint("POST /hosts/{}/refetch")
    async def refetch_host(self, host_id: int, **fields: Any) -> None:
        """POST /hosts/{}/refetch: ask the host for fresh details."""
        await self._call("POST", f"/hosts/{host_id}/refetch", EmptyResponse, json=fields)

    @endpoint("POST /hosts/delete")
    async def delete_hosts(self, **fields: Any) -> None:
        """POST /hosts/delete: ids or filters."""
        await self._call("POST", "/hosts/delete", EmptyResponse, json=fields)

    @endpoint("POST /hosts/search")
    async def search_hosts(self, **fields: Any) -> SearchHostsResponse:
        """POST /hosts/search: query, excluded_host_ids."""
        return await self._call("POST", "/hosts/search", SearchHostsResponse, json=fields)

    @endpoint("GET /hosts/{}/device_mapping")
    async def host_device_mapping(self, host_id: int, **params: Any) -> DeviceMappingResponse:
        """GET /hosts/{}/device_mapping: a host's device users."""
        return await self._call("GET", f"/hosts/{host_id}/device_mapping", DeviceMappingResponse, params=params)

    @endpoint("GET /hosts/{}/macadmins")
    async def host_macadmins(self, host_id: int, **params: Any) -> MacadminsResponse:
        """GET /hosts/{}/macadmins: a host's Munki and MDM data."""
        return await self._call("GET", f"/hosts/{host_id}/macadmins", MacadminsResponse, params=params)

    @endpoint("POST /hosts/{}/device_token")
    async def create_device_token(self, host_id: int, **fields: Any) -> DeviceTokenResponse:
        """POST /hosts/{}/device_token: a device token for Fleet Desktop."""
        return await self._call("POST", f"/hosts/{host_id}/device_token", DeviceTokenResponse, json=fields)

    @endpoint("POST /hosts/{}/query")
    async def run_on_host(self, host_id: int, **fields: Any) -> HostQueryResponse:
        """POST /hosts/{}/query: query: runs SQL on one host and waits."""
        return await self._call("POST", f"/hosts/{host_id}/query", HostQueryResponse, json=fields)

    @endpoint("POST /hosts/identifier/{}/query")
    async def run_on_host_identifier(self, identifier: str, **fields: Any) -> HostQueryResponse:
        """POST /hosts/identifier/{}/query: query: the same by identifier."""
        return await self._call("POST", f"/hosts/identifier/{_name(identifier)}/query", HostQueryResponse, json=fields)

    @endpoint("GET /macadmins")
    async def macadmins(self, **params: Any) -> AggregatedMacadminsResponse:
        """GET /macadmins: Munki and MDM across hosts."""
        return await self._call("GET", "/macadmins", AggregatedMacadminsResponse, params=params)

    @endpoint("GET /os_versions")
    async def os_versions(self, **params: Any) -> OSVersionsResponse:
        """GET /os_versions: OS versions and their host counts."""
        return await self._call("GET", "/os_versions", OSVersionsResponse, params=params)

    @endpoint("POST /labels")
    async def create_label(self, **fields: Any) -> LabelDetailBody:
        """POST /labels: name, query, platform, description, hosts."""
        return (await self._call("POST", "/labels", LabelResponse, json=fields)).label

    @endpoint("GET /labels/{}")
    async def get_label(self, label_id: int, **params: Any) -> LabelDetailBody:
        """GET /labels/{}: one label."""
        return (await self._call("GET", f"/labels/{label_id}", LabelResponse, params=params)).label

    @endpoint("PATCH /labels/{}")
    async def modify_label(self, label_id: int, **fields: Any) -> LabelDetailBody:
        """PATCH /labels/{}: name, description, hosts."""
        return (await self._call("PATCH", f"/labels/{label_id}", LabelResponse, json=fields)).label

    @endpoint("DELETE /labels/id/{}")
    async def delete_label_by_id(self, label_id: int, **params: Any) -> None:
        """DELETE /labels/id/{}: delete a label by id."""
        await self._call("DELETE", f"/labels/id/{label_id}", EmptyResponse, params=params)

    @endpoint("GET /labels/summary")
    async def labels_summary(self, **params: Any) -> list[LabelSummaryBody]:
        """GET /labels/summary: every label's id, name and type."""
        return (await self._call("GET", "/labels/summary", LabelsSummaryResponse, params=params)).labels

    @endpoint("POST /queries")
    async def create_query(self, **fields: Any) -> QueryBody:
        """POST /queries: name, query, description, team_id, interval, ...."""
        return (await self._call("POST", "/queries", QueryResponse, json=fields)).query

    @endpoint("GET /queries/{}")
    async def get_query(self, query_id: int, **params: Any) -> QueryBody:
        """GET /queries/{}: one saved query."""
        return (await self._call("GET", f"/queries/{query_id}", QueryResponse, params=params)).query

    @endpoint("PATCH /queries/{}")
    async def modify_query(self, query_id: int, **fields: Any) -> QueryBody:
        """PATCH /queries/{}: change a saved query."""
        return (await self._call("PATCH", f"/queries/{query_id}", QueryResponse, json=fields)).query

    @endpoint("DELETE /queries/id/{}")
    async def delete_query_by_id(self, query_id: int, **params: Any) -> None:
        """DELETE /queries/id/{}: delete a query by id."""
        await self._call("DELETE", f"/queries/id/{query_id}", EmptyResponse, params=params)

    @endpoint("POST /queries/delete")
    async def delete_queries(self, **fields: Any) -> int:
        """POST /queries/delete: ids: how many were deleted."""
        return (await self._call("POST", "/queries/delete", DeleteQueriesResponse, json=fields)).deleted

    @endpoint("POST /queries/{}/run")
    async def run_saved_query(self, query_id: int, **fields: Any) -> RunQueryResponse:
        """POST /queries/{}/run: host_ids: runs one saved query and waits."""
        return await self._call("POST", f"/queries/{query_id}/run", RunQueryResponse, json=fields)

    @endpoint("POST /queries/run_by_names")
    async def start_campaign_by_names(self, **fields: Any) -> CampaignResponse:
        """POST /queries/run_by_names: query, selected: {hosts, labels} by name."""
        return await self._call("POST", "/queries/run_by_names", CampaignResponse, json=fields)

    @endpoint("POST /queries/run_by_identifiers")
    async def start_campaign_by_identifiers(self, **fields: Any) -> CampaignResponse:
        """POST /queries/run_by_identifiers: query, selected by identifier."""
        return await self._call("POST", "/queries/run_by_identifiers", CampaignResponse, json=fields)

    @endpoint("POST /packs")
    async def create_pack(self, **fields: Any) -> PackBody:
        """POST /packs: name, description, host_ids, label_ids, team_ids."""
        return (await self._call("POST", "/packs", PackResponse, json=fields)).pack

    @endpoint("GET /packs/{}")
    async def get_pack(self, pack_id: int, **params: Any) -> PackBody:
        """GET /packs/{}: one pack."""
        return (await self._call("GET", f"/packs/{pack_id}", PackResponse, params=params)).pack

    @endpoint("PATCH /packs/{}")
    async def modify_pack(self, pack_id: int, **fields: Any) -> PackBody:
        """PATCH /packs/{}: change a pack."""
        return (await self._call("PATCH", f"/packs/{pack_id}", PackResponse, json=fields)).pack

    @endpoint("DELETE /packs/id/{}")
    async def delete_pack_by_id(self, pack_id: int, **params: Any) -> None:
        """DELETE /packs/id/{}: delete a pack by id."""
        await self._call("DELETE", f"/packs/id/{pack_id}", EmptyResponse, params=params)

    @endpoint("GET /packs/{}/scheduled")
    async def pack_scheduled(self, pack_id: int, **params: Any) -> list[ScheduledBody]:
        """GET /packs/{}/scheduled: a pack's scheduled queries."""
        return (await self._call("GET", f"/packs/{pack_id}/scheduled", ScheduledListResponse, params=params)).scheduled

    @endpoint("POST /schedule")
    async def schedule_query(self, **fields: Any) -> ScheduledBody:
        """POST /schedule: pack_id, query_id, interval, ...."""
        return (await self._call("POST", "/schedule", ScheduledResponse, json=fields)).scheduled

    @endpoint("GET /schedule/{}")
    async def get_scheduled(self, scheduled_id: int, **params: Any) -> ScheduledBody:
        """GET /schedule/{}: one scheduled query."""
        return (await self._call("GET", f"/schedule/{scheduled_id}", ScheduledResponse, params=params)).scheduled

    @endpoint("PATCH /schedule/{}")
    async def modify_scheduled(self, scheduled_id: int, **fields: Any) -> ScheduledBody:
        """PATCH /schedule/{}: change a scheduled query."""
        return (await self._call("PATCH", f"/schedule/{scheduled_id}", ScheduledResponse, json=fields)).scheduled

    @endpoint("DELETE /schedule/{}")
    async def delete_scheduled(self, scheduled_id: int, **params: Any) -> None:
        """DELETE /schedule/{}: unschedule."""
        await self._call("DELETE", f"/schedule/{scheduled_id}", EmptyResponse, params=params)

    @endpoint("GET /global/schedule")
    async def global_schedule(self, **params: Any) -> list[ScheduledBody]:
        """GET /global/schedule: the global schedule."""
        return (await self._call("GET", "/global/schedule", GlobalScheduleResponse, params=params)).global_schedule

    @endpoint("POST /global/schedule")
    async def add_global_schedule(self, **fields: Any) -> ScheduledBody:
        """POST /global/schedule: query_id, interval, ...."""
        return (await self._call("POST", "/global/schedule", ScheduledResponse, json=fields)).scheduled

    @endpoint("PATCH /global/schedule/{}")
    async def modify_global_schedule(self, scheduled_id: int, **fields: Any) -> ScheduledBody:
        """PATCH /global/schedule/{}: change a global scheduled query."""
        return (await self._call("PATCH", f"/global/schedule/{scheduled_id}", ScheduledResponse, json=fields)).scheduled

    @endpoint("DELETE /global/schedule/{}")
    async def delete_global_schedule(self, scheduled_id: int, **params: Any) -> None:
        """DELETE /global/schedule/{}: remove a global scheduled query."""
        await self._call("DELETE", f"/global/schedule/{scheduled_id}", EmptyResponse, params=params)

    @endpoint("GET /teams/{}/schedule")
    async def team_schedule(self, team_id: int, **params: Any) -> list[ScheduledBody]:
        """GET /teams/{}/schedule: a team's schedule."""
        return (await self._call("GET", f"/teams/{team_id}/schedule", ScheduledListResponse, params=params)).scheduled

    @endpoint("POST /teams/{}/schedule")
    async def add_team_schedule(self, team_id: int, **fields: Any) -> ScheduledBody:
        """POST /teams/{}/schedule: query_id, interval, ...."""
        return (await self._call("POST", f"/teams/{team_id}/schedule", ScheduledResponse, json=fields)).scheduled

    @endpoint("PATCH /teams/{}/schedule/{}")
    async def modify_team_schedule(self, team_id: int, scheduled_id: int, **fields: Any) -> ScheduledBody:
        """PATCH /teams/{}/schedule/{}: change a team's scheduled query."""
        path = f"/teams/{team_id}/schedule/{scheduled_id}"
        return (await self._call("PATCH", path, ScheduledResponse, json=fields)).scheduled

    @endpoint("DELETE /teams/{}/schedule/{}")
    async def delete_team_schedule(self, team_id: int, scheduled_id: int, **params: Any) -> None:
        """DELETE /teams/{}/schedule/{}: remove a team's scheduled query."""
        await self._call("DELETE", f"/teams/{team_id}/schedule/{scheduled_id}", EmptyResponse, params=params)

    @endpoint("POST /global/policies")
    async def create_global_policy(self, **fields: Any) -> PolicyBody:
        """POST /global/policies: name, query, description, resolution, platform, critical."""
        return (await self._call("POST", "/global/policies", PolicyResponse, json=fields)).policy

    @endpoint("GET /global/policies/{}")
    async def get_global_policy(self, policy_id: int, **params: Any) -> PolicyBody:
        """GET /global/policies/{}: one global policy."""
        return (await self._call("GET", f"/global/policies/{policy_id}", PolicyResponse, params=params)).policy

    @endpoint("PATCH /global/policies/{}")
    async def modify_global_policy(self, policy_id: int, **fields: Any) -> PolicyBody:
        """PATCH /global/policies/{}: change a global policy."""
        return (await self._call("PATCH", f"/global/policies/{policy_id}", PolicyResponse, json=fields)).policy

    @endpoint("GET /policies/count")
    async def count_global_policies(self, **params: Any) -> int:
        """GET /policies/count: how many global policies."""
        return (await self._call("GET", "/policies/count", PolicyCountResponse, params=params)).count

    @endpoint("POST /teams/{}/policies")
    async def create_team_policy(self, team_id: int, **fields: Any) -> PolicyBody:
        """POST /teams/{}/policies: the same for a team."""
        return (await self._call("POST", f"/teams/{team_id}/policies", PolicyResponse, json=fields)).policy

    @endpoint("GET /teams/{}/policies/{}")
    async def get_team_policy(self, team_id: int, policy_id: int, **params: Any) -> PolicyBody:
        """GET /teams/{}/policies/{}: one team policy."""
        return (await self._call("GET", f"/teams/{team_id}/policies/{policy_id}", PolicyResponse, params=params)).policy

    @endpoint("PATCH /teams/{}/policies/{}")
    async def modify_team_policy(self, team_id: int, policy_id: int, **fields: Any) -> PolicyBody:
        """PATCH /teams/{}/policies/{}: change a team policy."""
        return (await self._call("PATCH", f"/teams/{team_id}/policies/{policy_id}", PolicyResponse, json=fields)).policy

    @endpoint("GET /teams/{}/policies/count")
    async def count_team_policies(self, team_id: int, **params: Any) -> int:
        """GET /teams/{}/policies/count: how many policies a team has."""
        return (await self._call("GET", f"/teams/{team_id}/policies/count", PolicyCountResponse, params=params)).count

    @endpoint("POST /teams")
    async def create_team(self, **fields: Any) -> TeamBody:
        """POST /teams: name, description."""
        return (await self._call("POST", "/teams", CreateTeamResponse, json=fields)).team

    @endpoint("PATCH /teams/{}")
    async def modify_team(self, team_id: int, **fields: Any) -> TeamBody:
        """PATCH /teams/{}: name, description, webhook_settings, ...."""
        return (await self._call("PATCH", f"/teams/{team_id}", TeamResponse, json=fields)).team

    @endpoint("POST /targets")
    async def targets(self, **fields: Any) -> SearchTargetsResponse:
        """POST /targets: query, selected: hosts, labels and teams to target."""
        return await self._call("POST", "/targets", SearchTargetsResponse, json=fields)

    @endpoint("POST /targets/count")
    async def count_targets(self, **fields: Any) -> CountTargetsResponse:
        """POST /targets/count: selected: how many hosts, online and offline."""
        return await self._call("POST", "/targets/count", CountTargetsResponse, json=fields)

    @endpoint("POST /translate")
    async def translate(self, **fields: Any) -> TranslateResponse:
        """POST /translate: list: names to ids."""
        return await self._call("POST", "/translate", TranslateResponse, json=fields)

    @endpoint("GET /status/live_query")
    async def live_query_status(self, **params: Any) -> None:
        """GET /status/live_query: raises unless live queries can run."""
        await self._call("GET", "/status/live_query", EmptyResponse, params=params)

    @endpoint("GET /status/result_store")
    async def result_store_status(self, **params: Any) -> None:
        """GET /status/result_store: raises unless the result store answers."""
        await self._call("GET", "/status/result_store", EmptyResponse, params=params)

    @endpoint("GET /software/count")
    async def count_software(self, **params: Any) -> int:
        """GET /software/count: how many software items match."""
        return (await self._call("GET", "/software/count", CountSoftwareResponse, params=params)).count

    @endpoint("GET /hosts/report")
    async def hosts_report(self, **params: Any) -> str:
        """GET /hosts/report: format=csv, columns: the hosts as CSV text."""
        return (await self.transport.send("GET", f"{API}/hosts/report", params=params)).text

    @endpoint("GET /activities")
    def activities(self, *, per_page: int = 100, **params: Any) -> AsyncIterator[ActivityBody]:
        """GET /activities: every activity, newest first by default."""
        return self._pages("/activities", "activities", ActivityBody, params, per_page)

    @endpoint("GET /invites")
    def invites(self, *, per_page: int = 100, **params: Any) -> AsyncIterator[InviteBody]:
        """GET /invites: every pending invite."""
        return self._pages("/invites", "invites", InviteBody, params, per_page)

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
