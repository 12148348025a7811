"""Device-authenticated routes (Fleet Desktop): the device token in the path is the credential,
not a user's API token. Also the admin route that issues a host's device token."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from fleet_core.authz import Viewer
from fleet_core.services import Services
from fleet_http.deps import strict_json_body
from fleet_http.policy_schemas import DeviceTokenResponse, HostPoliciesResponse, to_host_policy


class DeviceController(Controller):
    path = "/device"
    tags = ["Device"]

    @get("/{token:str}/policies")
    async def device_policies(self, token: FromPath[str],
                              services: NamedDependency[Services]) -> HostPoliciesResponse:
        policies = await services.policies.device_policies(token)
        return HostPoliciesResponse(policies=[to_host_policy(p) for p in policies])


class DeviceTokenController(Controller):
    path = "/hosts"
    tags = ["Device"]
    guards = [strict_json_body]

    @post("/{host_id:int}/device_token", status_code=200)
    async def issue_device_token(self, host_id: FromPath[int], viewer: NamedDependency[Viewer],
                                 services: NamedDependency[Services]) -> DeviceTokenResponse:
        """Rotate the host's device token and show it once (only its hash is kept)."""
        return DeviceTokenResponse(device_token=await services.policies.issue_device_token(viewer, host_id))
