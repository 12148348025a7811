"""Device-authenticated routes (Fleet Desktop): the device token in the path is the credential,
not a user's API token; an unknown token is a 401. Also the admin route that issues a host's
device token."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect

from fleet_core.authz import Viewer
from fleet_core.services.device import DeviceService
from fleet_http.deps import strict_json_body
from fleet_http.errors import ErrorBody, ErrorDetail, render
from fleet_http.schemas.common import EmptyResponse
from fleet_http.schemas.device import (
    AgentErrorRequest,
    APIFeaturesResponse,
    DesktopResponse,
    DeviceHostResponse,
    DeviceTokenResponse,
    to_desktop,
    to_device_host,
)
from fleet_http.schemas.hosts import DeviceMappingResponse, MacadminsResponse, to_device_mapping, to_macadmins
from fleet_http.schemas.policies import HostPoliciesResponse, to_host_policy


class DeviceController(Controller):
    path = "/device"
    tags = ["Device"]

    @get("/{token:str}")
    async def device_host(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> DeviceHostResponse:
        return to_device_host(await device.host(token))

    @get("/{token:str}/desktop")
    async def desktop(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> DesktopResponse:
        return to_desktop(await device.desktop(token))

    @get("/{token:str}/policies")
    async def device_policies(self, token: FromPath[str],
                              device: NamedDependency[DeviceService]) -> HostPoliciesResponse:
        policies = await device.policies(token)
        return HostPoliciesResponse(policies=[to_host_policy(p) for p in policies])

    @post("/{token:str}/refetch", status_code=200)
    async def refetch(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> EmptyResponse:
        await device.refetch(token)
        return EmptyResponse()

    @get("/{token:str}/device_mapping")
    async def device_mapping(self, token: FromPath[str],
                             device: NamedDependency[DeviceService]) -> DeviceMappingResponse:
        host_id, mappings = await device.device_mapping(token)
        return DeviceMappingResponse(host_id=host_id, device_mapping=[to_device_mapping(m) for m in mappings])

    @get("/{token:str}/macadmins")
    async def macadmins(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> MacadminsResponse:
        mdm, munki = await device.macadmins(token)
        return to_macadmins(mdm, munki)

    @get("/{token:str}/api_features")
    async def api_features(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> APIFeaturesResponse:
        await device.authenticate(token)
        return APIFeaturesResponse()

    @get("/{token:str}/transparency", status_code=307)
    async def transparency(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> Redirect:
        return Redirect(path=await device.transparency_url(token), status_code=307)

    @post("/{token:str}/debug/errors", guards=[strict_json_body])
    async def report_error(self, request: Request[Any, Any, Any], token: FromPath[str],
                           data: JSONBody[AgentErrorRequest],
                           device: NamedDependency[DeviceService]) -> Response[ErrorBody]:
        """Fleet documents a 500 for every report, so monitoring can alarm on agent errors."""
        await device.report_error(token, data.to_report())
        return render(request, 500, "fleetd error",
                      [ErrorDetail("base", "the agent error was received and logged")])

    @post("/{token:str}/rotate_encryption_key", status_code=204)
    async def rotate_encryption_key(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> None:
        await device.require_mdm(token)

    @get("/{token:str}/mdm/apple/manual_enrollment_profile")
    async def manual_enrollment_profile(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> None:
        await device.require_mdm(token)

    @post("/{token:str}/migrate_mdm", status_code=204)
    async def migrate_mdm(self, token: FromPath[str], device: NamedDependency[DeviceService]) -> None:
        await device.require_mdm(token)


class DeviceTokenController(Controller):
    path = "/hosts"
    tags = ["Device"]
    guards = [strict_json_body]

    @post("/{host_id:int}/device_token", status_code=200)
    async def issue_device_token(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                                 device: NamedDependency[DeviceService]) -> DeviceTokenResponse:
        """Rotate the host's device token and show it once (only its hash is kept)."""
        return DeviceTokenResponse(device_token=await device.issue_token(viewer, host_id))
