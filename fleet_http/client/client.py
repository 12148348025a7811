"""The asynchronous client: one method per management endpoint that fleetctl and the tests use,
typed with the server's own wire schemas (fleet_http.schemas), so the two cannot drift; and
``request()`` for any other endpoint."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar
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
Json = dict[str, Any]


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
        return msgspec.json.decode(response.content) if response.content else None

    async def _call(self, method: str, path: str, type: type[T], **kwargs: Any) -> T:
        return await self.transport.call(method, f"{API}{path}", type, **kwargs)

    def _pages(self, path: str, key: str, item_type: type[T], params: Mapping[str, Any] | None = None,
               per_page: int = 100) -> AsyncIterator[T]:
        return self.transport.pages(f"{API}{path}", key, item_type, params=params, per_page=per_page)

    # ---- session ---------------------------------------------------------------------------

    async def setup(self, *, email: str, password: str, name: str, org_name: str,
                    server_url: str | None = None) -> SetupResponse:
        """The first admin of a new server (POST /api/v1/setup); keeps its token."""
        body = {"admin": {"email": email, "password": password, "name": name, "admin": True},
                "org_info": {"org_name": org_name}, "server_url": server_url or self.transport.address}
        setup = await self.transport.call("POST", "/api/v1/setup", SetupResponse, json=body)
        self.token = setup.token
        return setup

    async def login(self, email: str, password: str) -> LoginResponse:
        """Log in and keep the session token for the next calls."""
        login = await self._call("POST", "/login", LoginResponse, json={"email": email, "password": password})
        self.token = login.token
        return login

    async def logout(self) -> None:
        await self._call("POST", "/logout", dict)
        self.token = None

    async def me(self) -> UserBody:
        return (await self._call("GET", "/me", MeResponse)).user

    async def version(self) -> VersionResponse:
        return await self._call("GET", "/version", VersionResponse)

    # ---- configuration ---------------------------------------------------------------------

    async def get_config(self) -> Json:
        return await self._call("GET", "/config", Json)

    async def modify_config(self, patch: Json, *, dry_run: bool = False, force: bool = False) -> Json:
        params = {"dry_run": "true" if dry_run else None, "force": "true" if force else None}
        return await self._call("PATCH", "/config", Json, json=patch, params=params, idempotent=True)

    async def get_enroll_secrets(self) -> EnrollSecretSpecResponse:
        return await self._call("GET", "/spec/enroll_secret", EnrollSecretSpecResponse)

    async def apply_enroll_secrets(self, secrets: list[str], *, dry_run: bool = False) -> None:
        body = {"dry_run": dry_run, "spec": {"secrets": [{"secret": s} for s in secrets]}}
        await self._call("POST", "/spec/enroll_secret", Json, json=body, idempotent=True)

    # ---- specs (configuration as code) -----------------------------------------------------

    async def get_query_specs(self) -> list[QuerySpecBody]:
        return (await self._call("GET", "/spec/queries", QuerySpecsResponse)).specs

    async def get_query_spec(self, name: str) -> QuerySpecBody:
        return (await self._call("GET", f"/spec/queries/{_name(name)}", QuerySpecResponse)).specs

    async def apply_query_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/queries", Json, json={"specs": specs}, idempotent=True)

    async def get_label_specs(self) -> list[LabelSpecBody]:
        return (await self._call("GET", "/spec/labels", LabelSpecsResponse)).specs

    async def get_label_spec(self, name: str) -> LabelSpecBody:
        return (await self._call("GET", f"/spec/labels/{_name(name)}", LabelSpecResponse)).specs

    async def apply_label_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/labels", Json, json={"specs": specs}, idempotent=True)

    async def get_pack_specs(self) -> list[PackSpecBody]:
        return (await self._call("GET", "/spec/packs", PackSpecsResponse)).specs

    async def get_pack_spec(self, name: str) -> PackSpecBody:
        return (await self._call("GET", f"/spec/packs/{_name(name)}", PackSpecResponse)).specs

    async def apply_pack_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/packs", Json, json={"specs": specs}, idempotent=True)

    async def apply_team_specs(self, specs: list[Json], *, dry_run: bool = False,
                               force: bool = False) -> dict[str, int]:
        params = {"dry_run": "true" if dry_run else None, "force": "true" if force else None}
        return (await self._call("POST", "/spec/teams", ApplyTeamSpecsResponse, json={"specs": specs},
                                 params=params, idempotent=True)).team_ids_by_name

    async def apply_policy_specs(self, specs: list[Json]) -> None:
        await self._call("POST", "/spec/policies", Json, json={"specs": specs}, idempotent=True)

    # ---- queries, packs, labels, teams, policies -------------------------------------------

    def queries(self, *, team_id: int | None = None, per_page: int = 100) -> AsyncIterator[QueryBody]:
        return self._pages("/queries", "queries", QueryBody, {"team_id": team_id}, per_page)

    async def delete_query(self, name: str, *, team_id: int | None = None) -> None:
        await self._call("DELETE", f"/queries/{_name(name)}", Json, params={"team_id": team_id})

    def packs(self, *, per_page: int = 100) -> AsyncIterator[PackBody]:
        return self._pages("/packs", "packs", PackBody, None, per_page)

    async def delete_pack(self, name: str) -> None:
        await self._call("DELETE", f"/packs/{_name(name)}", Json)

    def labels(self, *, per_page: int = 100) -> AsyncIterator[LabelDetailBody]:
        return self._pages("/labels", "labels", LabelDetailBody, None, per_page)

    async def delete_label(self, name: str) -> None:
        await self._call("DELETE", f"/labels/{_name(name)}", Json)

    def teams(self, *, per_page: int = 100) -> AsyncIterator[TeamBody]:
        return self._pages("/teams", "teams", TeamBody, None, per_page)

    async def get_team(self, team_id: int) -> TeamBody:
        return (await self._call("GET", f"/teams/{team_id}", TeamResponse)).team

    async def team_secrets(self, team_id: int) -> list[str]:
        body = await self._call("GET", f"/teams/{team_id}/secrets", Json)
        return [s["secret"] for s in body.get("secrets") or []]

    async def delete_team(self, team_id: int) -> None:
        await self._call("DELETE", f"/teams/{team_id}", Json)

    def policies(self, *, team_id: int | None = None, per_page: int = 100) -> AsyncIterator[PolicyBody]:
        path = "/global/policies" if team_id is None else f"/teams/{team_id}/policies"
        return self._pages(path, "policies", PolicyBody, None, per_page)

    async def delete_policies(self, ids: list[int], *, team_id: int | None = None) -> int:
        path = "/global/policies/delete" if team_id is None else f"/teams/{team_id}/policies/delete"
        return int((await self._call("POST", path, Json, json={"ids": ids}, idempotent=True)).get("deleted", 0))

    # ---- hosts, users, software ------------------------------------------------------------

    def hosts(self, *, team_id: int | None = None, label_id: int | None = None, status: str | None = None,
              query: str | None = None, per_page: int = 100) -> AsyncIterator[HostBody]:
        """Every host matching the filters (``status``: online, offline, new, mia, missing)."""
        params = {"team_id": team_id, "status": status, "query": query}
        path = "/hosts" if label_id is None else f"/labels/{label_id}/hosts"
        return self._pages(path, "hosts", HostBody, params, per_page)

    async def transfer_hosts(self, team_id: int | None, host_ids: list[int]) -> None:
        await self._call("POST", "/hosts/transfer", Json, json={"team_id": team_id, "hosts": host_ids},
                         idempotent=True)

    async def transfer_hosts_by_label(self, team_id: int | None, label_id: int) -> None:
        await self._call("POST", "/hosts/transfer/filter", Json,
                         json={"team_id": team_id, "filters": {"label_id": label_id}}, idempotent=True)

    def users(self, *, per_page: int = 100) -> AsyncIterator[UserBody]:
        return self._pages("/users", "users", UserBody, None, per_page)

    async def create_user(self, **fields: Any) -> UserBody:
        """POST /users/admin: name, email, password, global_role or teams, api_only, sso_enabled."""
        return (await self._call("POST", "/users/admin", UserResponse, json=fields)).user

    async def modify_user(self, user_id: int, **fields: Any) -> UserBody:
        return (await self._call("PATCH", f"/users/{user_id}", UserResponse, json=fields, idempotent=True)).user

    def software(self, *, team_id: int | None = None, query: str | None = None, vulnerable: bool | None = None,
                 per_page: int = 100) -> AsyncIterator[SoftwareListItem]:
        params = {"team_id": team_id, "query": query,
                  "vulnerable": None if vulnerable is None else str(vulnerable).lower()}
        return self._pages("/software", "software", SoftwareListItem, params, per_page)

    # ---- carves ----------------------------------------------------------------------------

    def carves(self, *, expired: bool = False, per_page: int = 100) -> AsyncIterator[CarveBody]:
        return self._pages("/carves", "carves", CarveBody, {"expired": "true" if expired else None}, per_page)

    async def get_carve(self, carve_id: int) -> CarveBody:
        return msgspec.convert((await self._call("GET", f"/carves/{carve_id}", Json))["carve"], CarveBody)

    async def carve_block(self, carve_id: int, block_id: int) -> bytes:
        body = await self._call("GET", f"/carves/{carve_id}/block/{block_id}", Json)
        return base64.b64decode(body["data"])

    async def download_carve(self, carve_id: int) -> AsyncIterator[bytes]:
        """The carve's blocks in order, each decoded (concatenated, they are the carved tar)."""
        carve = await self.get_carve(carve_id)
        for block_id in range(carve.block_count):
            yield await self.carve_block(carve_id, block_id)

    # ---- jobs and debugging ----------------------------------------------------------------

    async def trigger(self, name: str = "") -> None:
        """Run a schedule now (POST /trigger?name=...)."""
        await self._call("POST", "/trigger", Json, params={"name": name or None})

    async def debug(self, key: str) -> bytes:
        """GET /debug/<key> (errors, migrations, dbstats, db/..., pprof/...): the raw body."""
        return (await self.transport.send("GET", f"/debug/{key.lstrip('/')}")).content

    # ---- live queries ----------------------------------------------------------------------

    async def start_campaign(self, *, query: str | None = None, query_id: int | None = None,
                             host_ids: list[int] | None = None, label_ids: list[int] | None = None,
                             team_ids: list[int] | None = None) -> CampaignResponse:
        body = {"query": query, "query_id": query_id,
                "selected": {"hosts": host_ids or [], "labels": label_ids or [], "teams": team_ids or []}}
        return await self._call("POST", "/queries/run", CampaignResponse, json=body)

    async def live_query(self, *, query: str | None = None, query_id: int | None = None,
                         host_ids: list[int] | None = None, label_ids: list[int] | None = None,
                         team_ids: list[int] | None = None, seconds: float | None = 60.0,
                         raise_on_timeout: bool = True) -> Campaign:
        """Start a campaign; iterate the returned Campaign (``async with``) for its events, for at
        most ``seconds`` (None: until every online host answered)."""
        started = await self.start_campaign(query=query, query_id=query_id, host_ids=host_ids,
                                            label_ids=label_ids, team_ids=team_ids)
        return Campaign(self.transport, started.campaign, timeout=seconds, raise_on_timeout=raise_on_timeout)
