"""Device-authenticated routes (Fleet Desktop): the device token in the path is the credential,
not a user's API token (an Authorization header is ignored here); an unknown or expired token
is a 401, too many failures from one address or calls with one token a 429. Also the admin route
that issues a host's device token. See docs/device-routes.md."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect

from fleet_core.authz import Viewer
from fleet_core.services.device import DeviceCredential, DeviceService
from fleet_http.deps import client_address, strict_json_body
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


def provide_credential(request: Request[Any, Any, Any], token: FromPath[str]) -> DeviceCredential:
    return DeviceCredential(token=token, client_address=client_address(request))


Credential = NamedDependency[DeviceCredential]


class DeviceController(Controller):
    path = "/device/{token:str}"
    tags = ["Device"]
    dependencies = {"credential": Provide(provide_credential, sync_to_thread=False)}

    @get("/")
    async def device_host(self, credential: Credential, device: NamedDependency[DeviceService]) -> DeviceHostResponse:
        return to_device_host(await device.host(credential))

    @get("/desktop")
    async def desktop(self, credential: Credential, device: NamedDependency[DeviceService]) -> DesktopResponse:
        return to_desktop(await device.desktop(credential))

    @get("/policies")
    async def device_policies(self, credential: Credential,
                              device: NamedDependency[DeviceService]) -> HostPoliciesResponse:
        policies = await device.policies(credential)
        return HostPoliciesResponse(policies=[to_host_policy(p) for p in policies])

    @post("/refetch", status_code=200)
    async def refetch(self, credential: Credential, device: NamedDependency[DeviceService]) -> EmptyResponse:
        """Fleet answers 200 with {}, as its POST /hosts/{id}/refetch does."""
        await device.refetch(credential)
        return EmptyResponse()

    @get("/device_mapping")
    async def device_mapping(self, credential: Credential,
                             device: NamedDependency[DeviceService]) -> DeviceMappingResponse:
        host_id, mappings = await device.device_mapping(credential)
        return DeviceMappingResponse(host_id=host_id, device_mapping=[to_device_mapping(m) for m in mappings])

    @get("/macadmins")
    async def macadmins(self, credential: Credential, device: NamedDependency[DeviceService]) -> MacadminsResponse:
        mdm, munki = await device.macadmins(credential)
        return to_macadmins(mdm, munki)

    @get("/api_features")
    async def api_features(self, credential: Credential, device: NamedDependency[DeviceService]) -> APIFeaturesResponse:
        await device.authenticate(credential)
        return APIFeaturesResponse()

    @get("/transparency", status_code=307)
    async def transparency(self, credential: Credential, device: NamedDependency[DeviceService]) -> Redirect:
        return Redirect(path=await device.transparency_url(credential), status_code=307)

    @post("/debug/errors", guards=[strict_json_body])
    async def report_error(self, request: Request[Any, Any, Any], credential: Credential,
                           data: JSONBody[AgentErrorRequest],
                           device: NamedDependency[DeviceService]) -> Response[ErrorBody]:
        """Fleet documents a 500 for every report, so monitoring can alarm on agent errors."""
        await device.report_error(credential, data.to_report())
        return render(request, 500, "fleetd error",
                      [ErrorDetail("base", "the agent error was received and kept")])

    @post("/rotate_encryption_key", status_code=204)
    async def rotate_encryption_key(self, credential: Credential, device: NamedDependency[DeviceService]) -> None:
        await device.require_mdm(credential)

    @get("/mdm/apple/manual_enrollment_profile")
    async def manual_enrollment_profile(self, credential: Credential, device: NamedDependency[DeviceService]) -> None:
        await device.require_mdm(credential)

    @post("/migrate_mdm", status_code=204)
    async def migrate_mdm(self, credential: Credential, device: NamedDependency[DeviceService]) -> None:
        await device.require_mdm(credential)


class DeviceTokenController(Controller):
    path = "/hosts"
    tags = ["Device"]
    guards = [strict_json_body]

    @post("/{host_id:int}/device_token", status_code=200)
    async def issue_device_token(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                                 device: NamedDependency[DeviceService]) -> DeviceTokenResponse:
        """Rotate the host's device token and show it once (only its digest is kept)."""
        issued = await device.issue_token(viewer, host_id)
        return DeviceTokenResponse(device_token=issued.token, expires_at=issued.expires_at)
