"""The synchronous client: the asynchronous one run on a private event loop, so both have the
same methods and behaviour (one implementation). Coroutines return their value; async
iterators (paging, carve blocks) become plain iterators; a live query's Campaign is iterated
with ``for``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from fleet_http.client.client import AsyncFleetClient, Json
from fleet_http.client.live import Campaign, Event
from fleet_http.schemas.auth import LoginResponse, SetupResponse
from fleet_http.schemas.carves import CarveBody
from fleet_http.schemas.config import (
    ActivityBody,
    ConfigResponse,
    EnrollSecretSpecResponse,
    TeamSecretsResponse,
    VersionResponse,
)
from fleet_http.schemas.device import DeviceTokenResponse
from fleet_http.schemas.hosts import (
    AggregatedMacadminsResponse,
    DeviceMappingResponse,
    HostBody,
    HostDetailBody,
    HostSummaryResponse,
    MacadminsResponse,
    OSVersionsResponse,
)
from fleet_http.schemas.invites import InviteBody
from fleet_http.schemas.labels import LabelDetailBody, LabelSummaryBody
from fleet_http.schemas.live_queries import (
    CampaignResponse,
    HostQueryResponse,
    RunQueriesResponse,
    RunQueryResponse,
)
from fleet_http.schemas.packs import (
    PackBody,
    ScheduledBody,
)
from fleet_http.schemas.policies import PolicyBody
from fleet_http.schemas.queries import QueryBody
from fleet_http.schemas.software import SoftwareListItem
from fleet_http.schemas.specs import (
    ApplyTeamSpecsResponse,
    LabelSpecBody,
    PackSpecBody,
    QuerySpecBody,
)
from fleet_http.schemas.sso import InitiateSSOResponse, SSOCallbackResponse, SSOSettingsBody
from fleet_http.schemas.targets import (
    CountTargetsResponse,
    SearchHostsResponse,
    SearchTargetsResponse,
    TranslateResponse,
)
from fleet_http.schemas.teams import TeamBody
from fleet_http.schemas.users import SessionBody, UserBody

T = TypeVar("T")


class SyncCampaign:
    """A Campaign driven from synchronous code: ``with`` and ``for`` instead of ``async``."""

    def __init__(self, runner: asyncio.Runner, campaign: Campaign) -> None:
        self._runner = runner
        self.campaign = campaign

    def __getattr__(self, name: str) -> Any:
        return getattr(self.campaign, name)

    def __enter__(self) -> SyncCampaign:
        self._runner.run(self.campaign.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.run(self.campaign.aclose())

    def __iter__(self) -> Iterator[Event]:
        return _sync_iter(self._runner, aiter(self.campaign))


async def _next(iterator: AsyncIterator[Any]) -> Any:
    return await anext(iterator)


def _sync_iter(runner: asyncio.Runner, iterator: AsyncIterator[Any]) -> Iterator[Any]:
    while True:
        try:
            yield runner.run(_next(iterator))
        except StopAsyncIteration:
            return


class FleetClient:
    """``with FleetClient(address, token) as fleet: ...``: AsyncFleetClient's methods, blocking."""

    def __init__(
        self,
        address: str,
        token: str | None = None,
        *,
        verify: bool = True,
        ca_file: str | None = None,
        timeout: float = 30.0,
        retries: int = 0,
        backoff: float = 0.5,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._runner = asyncio.Runner()
        self.aio = AsyncFleetClient(
            address,
            token,
            verify=verify,
            ca_file=ca_file,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            http_client=http_client,
        )

    def __enter__(self) -> FleetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._runner.run(self.aio.aclose())
        self._runner.close()

    @property
    def token(self) -> str | None:
        return self.aio.token

    @token.setter
    def token(self, value: str | None) -> None:
        self.aio.token = value

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(call)

    def _iter(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        return _sync_iter(self._runner, iterator)

    def _campaign(self, call: Coroutine[Any, Any, Campaign]) -> SyncCampaign:
        return SyncCampaign(self._runner, self._runner.run(call))

    # One blocking method per AsyncFleetClient method, same signature and typed result (a test
    # checks that none is missing).

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        return self._run(self.aio.request(method, path, params=params, json=json, idempotent=idempotent))

    def setup(
        self, *, email: str, password: str, name: str, org_name: str, server_url: str | None = None
    ) -> SetupResponse:
        return self._run(
            self.aio.setup(email=email, password=password, name=name, org_name=org_name, server_url=server_url)
        )

    def login(self, email: str, password: str) -> LoginResponse:
        return self._run(self.aio.login(email, password))

    def logout(self) -> None:
        return self._run(self.aio.logout())

    def me(self) -> UserBody:
        return self._run(self.aio.me())

    def version(self) -> VersionResponse:
        return self._run(self.aio.version())

    def get_config(self) -> ConfigResponse:
        return self._run(self.aio.get_config())

    def modify_config(self, patch: Json, *, dry_run: bool = False, force: bool = False) -> ConfigResponse:
        return self._run(self.aio.modify_config(patch, dry_run=dry_run, force=force))

    def get_enroll_secrets(self) -> EnrollSecretSpecResponse:
        return self._run(self.aio.get_enroll_secrets())

    def apply_enroll_secrets(self, secrets: list[str], *, dry_run: bool = False) -> None:
        return self._run(self.aio.apply_enroll_secrets(secrets, dry_run=dry_run))

    def get_query_specs(self) -> list[QuerySpecBody]:
        return self._run(self.aio.get_query_specs())

    def get_query_spec(self, name: str) -> QuerySpecBody:
        return self._run(self.aio.get_query_spec(name))

    def apply_query_specs(self, specs: list[Json]) -> None:
        return self._run(self.aio.apply_query_specs(specs))

    def get_label_specs(self) -> list[LabelSpecBody]:
        return self._run(self.aio.get_label_specs())

    def get_label_spec(self, name: str) -> LabelSpecBody:
        return self._run(self.aio.get_label_spec(name))

    def apply_label_specs(self, specs: list[Json]) -> None:
        return self._run(self.aio.apply_label_specs(specs))

    def get_pack_specs(self) -> list[PackSpecBody]:
        return self._run(self.aio.get_pack_specs())

    def get_pack_spec(self, name: str) -> PackSpecBody:
        return self._run(self.aio.get_pack_spec(name))

    def apply_pack_specs(self, specs: list[Json]) -> None:
        return self._run(self.aio.apply_pack_specs(specs))

    def apply_team_specs(
        self, specs: list[Json], *, dry_run: bool = False, force: bool = False
    ) -> ApplyTeamSpecsResponse:
        return self._run(self.aio.apply_team_specs(specs, dry_run=dry_run, force=force))

    def apply_policy_specs(self, specs: list[Json]) -> None:
        return self._run(self.aio.apply_policy_specs(specs))

    def queries(self, *, team_id: int | None = None, per_page: int = 100) -> Iterator[QueryBody]:
        return self._iter(self.aio.queries(team_id=team_id, per_page=per_page))

    def delete_query(self, name: str, *, team_id: int | None = None) -> None:
        return self._run(self.aio.delete_query(name, team_id=team_id))

    def packs(self, *, per_page: int = 100) -> Iterator[PackBody]:
        return self._iter(self.aio.packs(per_page=per_page))

    def delete_pack(self, name: str) -> None:
        return self._run(self.aio.delete_pack(name))

    def labels(self, *, per_page: int = 100) -> Iterator[LabelDetailBody]:
        return self._iter(self.aio.labels(per_page=per_page))

    def delete_label(self, name: str) -> None:
        return self._run(self.aio.delete_label(name))

    def teams(self, *, per_page: int = 100) -> Iterator[TeamBody]:
        return self._iter(self.aio.teams(per_page=per_page))

    def get_team(self, team_id: int) -> TeamBody:
        return self._run(self.aio.get_team(team_id))

    def team_secrets(self, team_id: int) -> list[str]:
        return self._run(self.aio.team_secrets(team_id))

    def delete_team(self, team_id: int) -> None:
        return self._run(self.aio.delete_team(team_id))

    def policies(self, *, team_id: int | None = None, per_page: int = 100) -> Iterator[PolicyBody]:
        return self._iter(self.aio.policies(team_id=team_id, per_page=per_page))

    def delete_policies(self, ids: list[int], *, team_id: int | None = None) -> int:
        return self._run(self.aio.delete_policies(ids, team_id=team_id))

    def hosts(
        self,
        *,
        team_id: int | None = None,
        label_id: int | None = None,
        status: str | None = None,
        query: str | None = None,
        per_page: int = 100,
    ) -> Iterator[HostBody]:
        return self._iter(
            self.aio.hosts(team_id=team_id, label_id=label_id, status=status, query=query, per_page=per_page)
        )

    def transfer_hosts(self, team_id: int | None, host_ids: list[int]) -> None:
        return self._run(self.aio.transfer_hosts(team_id, host_ids))

    def transfer_hosts_by_label(self, team_id: int | None, label_id: int) -> None:
        return self._run(self.aio.transfer_hosts_by_label(team_id, label_id))

    def users(self, *, per_page: int = 100) -> Iterator[UserBody]:
        return self._iter(self.aio.users(per_page=per_page))

    def create_user(self, **fields: Any) -> UserBody:
        return self._run(self.aio.create_user(**fields))

    def modify_user(self, user_id: int, **fields: Any) -> UserBody:
        return self._run(self.aio.modify_user(user_id, **fields))

    def software(
        self,
        *,
        team_id: int | None = None,
        query: str | None = None,
        vulnerable: bool | None = None,
        per_page: int = 100,
    ) -> Iterator[SoftwareListItem]:
        return self._iter(self.aio.software(team_id=team_id, query=query, vulnerable=vulnerable, per_page=per_page))

    def carves(self, *, expired: bool = False, per_page: int = 100) -> Iterator[CarveBody]:
        return self._iter(self.aio.carves(expired=expired, per_page=per_page))

    def get_carve(self, carve_id: int) -> CarveBody:
        return self._run(self.aio.get_carve(carve_id))

    def carve_block(self, carve_id: int, block_id: int) -> bytes:
        return self._run(self.aio.carve_block(carve_id, block_id))

    def download_carve(self, carve_id: int) -> Iterator[bytes]:
        return self._iter(self.aio.download_carve(carve_id))

    def trigger(self, name: str = "") -> None:
        return self._run(self.aio.trigger(name))

    def debug(self, key: str, **params: Any) -> bytes:
        return self._run(self.aio.debug(key, **params))

    def run_saved_queries(self, query_ids: list[int], host_ids: list[int]) -> RunQueriesResponse:
        return self._run(self.aio.run_saved_queries(query_ids, host_ids))

    def download_installer(self, kind: str, enroll_secret: str, *, desktop: bool = False) -> bytes:
        return self._run(self.aio.download_installer(kind, enroll_secret, desktop=desktop))

    def change_password(self, **fields: Any) -> None:
        return self._run(self.aio.change_password(**fields))

    def forgot_password(self, **fields: Any) -> None:
        return self._run(self.aio.forgot_password(**fields))

    def reset_password(self, **fields: Any) -> None:
        return self._run(self.aio.reset_password(**fields))

    def perform_required_password_reset(self, **fields: Any) -> UserBody:
        return self._run(self.aio.perform_required_password_reset(**fields))

    def get_sso_settings(self, **params: Any) -> SSOSettingsBody:
        return self._run(self.aio.get_sso_settings(**params))

    def initiate_sso(self, **fields: Any) -> InitiateSSOResponse:
        return self._run(self.aio.initiate_sso(**fields))

    def finish_sso(self, **fields: Any) -> SSOCallbackResponse:
        return self._run(self.aio.finish_sso(**fields))

    def get_user(self, user_id: int, **params: Any) -> UserBody:
        return self._run(self.aio.get_user(user_id, **params))

    def delete_user(self, user_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_user(user_id, **params))

    def create_user_from_invite(self, **fields: Any) -> UserBody:
        return self._run(self.aio.create_user_from_invite(**fields))

    def require_password_reset(self, user_id: int, **fields: Any) -> UserBody:
        return self._run(self.aio.require_password_reset(user_id, **fields))

    def user_sessions(self, user_id: int, **params: Any) -> list[SessionBody]:
        return self._run(self.aio.user_sessions(user_id, **params))

    def delete_user_sessions(self, user_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_user_sessions(user_id, **params))

    def get_session(self, session_id: int, **params: Any) -> SessionBody:
        return self._run(self.aio.get_session(session_id, **params))

    def delete_session(self, session_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_session(session_id, **params))

    def create_invite(self, **fields: Any) -> InviteBody:
        return self._run(self.aio.create_invite(**fields))

    def delete_invite(self, invite_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_invite(invite_id, **params))

    def modify_invite(self, invite_id: int, **fields: Any) -> InviteBody:
        return self._run(self.aio.modify_invite(invite_id, **fields))

    def verify_invite(self, token: str, **params: Any) -> InviteBody:
        return self._run(self.aio.verify_invite(token, **params))

    def certificate(self, **params: Any) -> str:
        return self._run(self.aio.certificate(**params))

    def modify_team_secrets(self, team_id: int, **fields: Any) -> TeamSecretsResponse:
        return self._run(self.aio.modify_team_secrets(team_id, **fields))

    def count_hosts(self, **params: Any) -> int:
        return self._run(self.aio.count_hosts(**params))

    def host_summary(self, **params: Any) -> HostSummaryResponse:
        return self._run(self.aio.host_summary(**params))

    def get_host(self, host_id: int, **params: Any) -> HostDetailBody:
        return self._run(self.aio.get_host(host_id, **params))

    def delete_host(self, host_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_host(host_id, **params))

    def host_by_identifier(self, identifier: str, **params: Any) -> HostDetailBody:
        return self._run(self.aio.host_by_identifier(identifier, **params))

    def refetch_host(self, host_id: int, **fields: Any) -> None:
        return self._run(self.aio.refetch_host(host_id, **fields))

    def delete_hosts(self, **fields: Any) -> None:
        return self._run(self.aio.delete_hosts(**fields))

    def search_hosts(self, **fields: Any) -> SearchHostsResponse:
        return self._run(self.aio.search_hosts(**fields))

    def host_device_mapping(self, host_id: int, **params: Any) -> DeviceMappingResponse:
        return self._run(self.aio.host_device_mapping(host_id, **params))

    def host_macadmins(self, host_id: int, **params: Any) -> MacadminsResponse:
        return self._run(self.aio.host_macadmins(host_id, **params))

    def create_device_token(self, host_id: int, **fields: Any) -> DeviceTokenResponse:
        return self._run(self.aio.create_device_token(host_id, **fields))

    def run_on_host(self, host_id: int, **fields: Any) -> HostQueryResponse:
        return self._run(self.aio.run_on_host(host_id, **fields))

    def run_on_host_identifier(self, identifier: str, **fields: Any) -> HostQueryResponse:
        return self._run(self.aio.run_on_host_identifier(identifier, **fields))

    def macadmins(self, **params: Any) -> AggregatedMacadminsResponse:
        return self._run(self.aio.macadmins(**params))

    def os_versions(self, **params: Any) -> OSVersionsResponse:
        return self._run(self.aio.os_versions(**params))

    def create_label(self, **fields: Any) -> LabelDetailBody:
        return self._run(self.aio.create_label(**fields))

    def get_label(self, label_id: int, **params: Any) -> LabelDetailBody:
        return self._run(self.aio.get_label(label_id, **params))

    def modify_label(self, label_id: int, **fields: Any) -> LabelDetailBody:
        return self._run(self.aio.modify_label(label_id, **fields))

    def delete_label_by_id(self, label_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_label_by_id(label_id, **params))

    def labels_summary(self, **params: Any) -> list[LabelSummaryBody]:
        return self._run(self.aio.labels_summary(**params))

    def create_query(self, **fields: Any) -> QueryBody:
        return self._run(self.aio.create_query(**fields))

    def get_query(self, query_id: int, **params: Any) -> QueryBody:
        return self._run(self.aio.get_query(query_id, **params))

    def modify_query(self, query_id: int, **fields: Any) -> QueryBody:
        return self._run(self.aio.modify_query(query_id, **fields))

    def delete_query_by_id(self, query_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_query_by_id(query_id, **params))

    def delete_queries(self, **fields: Any) -> int:
        return self._run(self.aio.delete_queries(**fields))

    def run_saved_query(self, query_id: int, **fields: Any) -> RunQueryResponse:
        return self._run(self.aio.run_saved_query(query_id, **fields))

    def start_campaign_by_names(self, **fields: Any) -> CampaignResponse:
        return self._run(self.aio.start_campaign_by_names(**fields))

    def start_campaign_by_identifiers(self, **fields: Any) -> CampaignResponse:
        return self._run(self.aio.start_campaign_by_identifiers(**fields))

    def create_pack(self, **fields: Any) -> PackBody:
        return self._run(self.aio.create_pack(**fields))

    def get_pack(self, pack_id: int, **params: Any) -> PackBody:
        return self._run(self.aio.get_pack(pack_id, **params))

    def modify_pack(self, pack_id: int, **fields: Any) -> PackBody:
        return self._run(self.aio.modify_pack(pack_id, **fields))

    def delete_pack_by_id(self, pack_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_pack_by_id(pack_id, **params))

    def pack_scheduled(self, pack_id: int, **params: Any) -> list[ScheduledBody]:
        return self._run(self.aio.pack_scheduled(pack_id, **params))

    def schedule_query(self, **fields: Any) -> ScheduledBody:
        return self._run(self.aio.schedule_query(**fields))

    def get_scheduled(self, scheduled_id: int, **params: Any) -> ScheduledBody:
        return self._run(self.aio.get_scheduled(scheduled_id, **params))

    def modify_scheduled(self, scheduled_id: int, **fields: Any) -> ScheduledBody:
        return self._run(self.aio.modify_scheduled(scheduled_id, **fields))

    def delete_scheduled(self, scheduled_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_scheduled(scheduled_id, **params))

    def global_schedule(self, **params: Any) -> list[ScheduledBody]:
        return self._run(self.aio.global_schedule(**params))

    def add_global_schedule(self, **fields: Any) -> ScheduledBody:
        return self._run(self.aio.add_global_schedule(**fields))

    def modify_global_schedule(self, scheduled_id: int, **fields: Any) -> ScheduledBody:
        return self._run(self.aio.modify_global_schedule(scheduled_id, **fields))

    def delete_global_schedule(self, scheduled_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_global_schedule(scheduled_id, **params))

    def team_schedule(self, team_id: int, **params: Any) -> list[ScheduledBody]:
        return self._run(self.aio.team_schedule(team_id, **params))

    def add_team_schedule(self, team_id: int, **fields: Any) -> ScheduledBody:
        return self._run(self.aio.add_team_schedule(team_id, **fields))

    def modify_team_schedule(self, team_id: int, scheduled_id: int, **fields: Any) -> ScheduledBody:
        return self._run(self.aio.modify_team_schedule(team_id, scheduled_id, **fields))

    def delete_team_schedule(self, team_id: int, scheduled_id: int, **params: Any) -> None:
        return self._run(self.aio.delete_team_schedule(team_id, scheduled_id, **params))

    def create_global_policy(self, **fields: Any) -> PolicyBody:
        return self._run(self.aio.create_global_policy(**fields))

    def get_global_policy(self, policy_id: int, **params: Any) -> PolicyBody:
        return self._run(self.aio.get_global_policy(policy_id, **params))

    def modify_global_policy(self, policy_id: int, **fields: Any) -> PolicyBody:
        return self._run(self.aio.modify_global_policy(policy_id, **fields))

    def count_global_policies(self, **params: Any) -> int:
        return self._run(self.aio.count_global_policies(**params))

    def create_team_policy(self, team_id: int, **fields: Any) -> PolicyBody:
        return self._run(self.aio.create_team_policy(team_id, **fields))

    def get_team_policy(self, team_id: int, policy_id: int, **params: Any) -> PolicyBody:
        return self._run(self.aio.get_team_policy(team_id, policy_id, **params))

    def modify_team_policy(self, team_id: int, policy_id: int, **fields: Any) -> PolicyBody:
        return self._run(self.aio.modify_team_policy(team_id, policy_id, **fields))

    def count_team_policies(self, team_id: int, **params: Any) -> int:
        return self._run(self.aio.count_team_policies(team_id, **params))

    def create_team(self, **fields: Any) -> TeamBody:
        return self._run(self.aio.create_team(**fields))

    def modify_team(self, team_id: int, **fields: Any) -> TeamBody:
        return self._run(self.aio.modify_team(team_id, **fields))

    def targets(self, **fields: Any) -> SearchTargetsResponse:
        return self._run(self.aio.targets(**fields))

    def count_targets(self, **fields: Any) -> CountTargetsResponse:
        return self._run(self.aio.count_targets(**fields))

    def translate(self, **fields: Any) -> TranslateResponse:
        return self._run(self.aio.translate(**fields))

    def live_query_status(self, **params: Any) -> None:
        return self._run(self.aio.live_query_status(**params))

    def result_store_status(self, **params: Any) -> None:
        return self._run(self.aio.result_store_status(**params))

    def count_software(self, **params: Any) -> int:
        return self._run(self.aio.count_software(**params))

    def hosts_report(self, **params: Any) -> str:
        return self._run(self.aio.hosts_report(**params))

    def activities(self, *, per_page: int = 100, **params: Any) -> Iterator[ActivityBody]:
        return self._iter(self.aio.activities(per_page=per_page, **params))

    def invites(self, *, per_page: int = 100, **params: Any) -> Iterator[InviteBody]:
        return self._iter(self.aio.invites(per_page=per_page, **params))

    def start_campaign(
        self,
        *,
        query: str | None = None,
        query_id: int | None = None,
        host_ids: list[int] | None = None,
        label_ids: list[int] | None = None,
        team_ids: list[int] | None = None,
    ) -> CampaignResponse:
        return self._run(
            self.aio.start_campaign(
                query=query, query_id=query_id, host_ids=host_ids, label_ids=label_ids, team_ids=team_ids
            )
        )

    def live_query(
        self,
        *,
        query: str | None = None,
        query_id: int | None = None,
        host_ids: list[int] | None = None,
        label_ids: list[int] | None = None,
        team_ids: list[int] | None = None,
        seconds: float | None = 60.0,
        raise_on_timeout: bool = True,
    ) -> SyncCampaign:
        return self._campaign(
            self.aio.live_query(
                query=query,
                query_id=query_id,
                host_ids=host_ids,
                label_ids=label_ids,
                team_ids=team_ids,
                seconds=seconds,
                raise_on_timeout=raise_on_timeout,
            )
        )


# The blocking methods document themselves with their asynchronous twin's docstring.
for _name, _method in vars(FleetClient).items():
    _twin = getattr(AsyncFleetClient, _name, None)
    if callable(_method) and not _name.startswith("_") and _method.__doc__ is None and _twin is not None:
        _method.__doc__ = _twin.__doc__
del _name, _method, _twin
