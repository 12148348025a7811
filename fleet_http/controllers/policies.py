"""Policies: global (/global/policies on /api/v1, /policies on /api/latest) and team
(/teams/{team_id}/policies) list, get, add, edit, bulk delete and count."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument
from fleet_core.model.policies import PolicyFields
from fleet_core.services.policies import PolicyChanges, PolicyService
from fleet_http.deps import strict_json_body
from fleet_http.schemas.common import patch_field
from fleet_http.schemas.policies import (
    CreatePolicyRequest,
    DeletePoliciesRequest,
    DeletePoliciesResponse,
    ListPoliciesResponse,
    ModifyPolicyRequest,
    PolicyCountResponse,
    PolicyResponse,
    to_policy,
)


def _fields(data: CreatePolicyRequest) -> PolicyFields | None:
    """The new policy's fields; None for the legacy form (a saved query's id, no query)."""
    if data.query_id is not None:
        if data.query is not None:
            raise InvalidArgument(("query", "cannot be set together with query_id"))
        return PolicyFields(name="", query="", resolution=data.resolution, platform=data.platform,
                            critical=data.critical)
    missing = [(name, "is required") for name in ("name", "query") if getattr(data, name) is None]
    if missing:
        raise InvalidArgument(*missing)
    assert data.name is not None and data.query is not None
    return PolicyFields(name=data.name, query=data.query, description=data.description, resolution=data.resolution,
                        platform=data.platform, critical=data.critical)


def _changes(data: ModifyPolicyRequest) -> PolicyChanges:
    return PolicyChanges(name=patch_field(data.name), query=patch_field(data.query),
                         description=patch_field(data.description), resolution=patch_field(data.resolution),
                         platform=patch_field(data.platform), critical=patch_field(data.critical))


def _ids(data: DeletePoliciesRequest) -> list[int]:
    if data.ids is None:
        raise InvalidArgument(("ids", "is required"))
    return data.ids


class GlobalPolicyController(Controller):
    path = "/global/policies"
    tags = ["Policies"]
    guards = [strict_json_body]

    @get("/")
    async def list_policies(self, viewer: NamedDependency[Viewer],
                            policies: NamedDependency[PolicyService]) -> ListPoliciesResponse:
        return ListPoliciesResponse(policies=[to_policy(p) for p in await policies.list(viewer)])

    @get("/{policy_id:int}")
    async def get_policy(self, policy_id: FromPath[int], viewer: NamedDependency[Viewer],
                         policies: NamedDependency[PolicyService]) -> PolicyResponse:
        return PolicyResponse(policy=to_policy(await policies.get(viewer, policy_id)))

    @post("/", status_code=200)
    async def add_policy(self, data: JSONBody[CreatePolicyRequest], viewer: NamedDependency[Viewer],
                         policies: NamedDependency[PolicyService]) -> PolicyResponse:
        policy = await policies.create(viewer, _fields(data), query_id=data.query_id)
        return PolicyResponse(policy=to_policy(policy))

    @patch("/{policy_id:int}")
    async def modify_policy(self, policy_id: FromPath[int], data: JSONBody[ModifyPolicyRequest],
                            viewer: NamedDependency[Viewer],
                            policies: NamedDependency[PolicyService]) -> PolicyResponse:
        return PolicyResponse(policy=to_policy(await policies.modify(viewer, policy_id, _changes(data))))

    @post("/delete", status_code=200)
    async def delete_policies(self, data: JSONBody[DeletePoliciesRequest], viewer: NamedDependency[Viewer],
                              policies: NamedDependency[PolicyService]) -> DeletePoliciesResponse:
        return DeletePoliciesResponse(deleted=await policies.delete_many(viewer, _ids(data)))


class TeamPolicyController(Controller):
    path = "/teams"
    tags = ["Policies"]
    guards = [strict_json_body]

    @get("/{team_id:int}/policies")
    async def list_team_policies(self, team_id: FromPath[int], viewer: NamedDependency[Viewer],
                                 policies: NamedDependency[PolicyService]) -> ListPoliciesResponse:
        found = await policies.list(viewer, team_id=team_id)
        return ListPoliciesResponse(policies=[to_policy(p) for p in found])

    @get("/{team_id:int}/policies/{policy_id:int}")
    async def get_team_policy(self, team_id: FromPath[int], policy_id: FromPath[int],
                              viewer: NamedDependency[Viewer],
                              policies: NamedDependency[PolicyService]) -> PolicyResponse:
        return PolicyResponse(policy=to_policy(await policies.get(viewer, policy_id, team_id=team_id)))

    @post("/{team_id:int}/policies", status_code=200)
    async def add_team_policy(self, team_id: FromPath[int], data: JSONBody[CreatePolicyRequest],
                              viewer: NamedDependency[Viewer],
                              policies: NamedDependency[PolicyService]) -> PolicyResponse:
        policy = await policies.create(viewer, _fields(data), team_id=team_id, query_id=data.query_id)
        return PolicyResponse(policy=to_policy(policy))

    @patch("/{team_id:int}/policies/{policy_id:int}")
    async def modify_team_policy(self, team_id: FromPath[int], policy_id: FromPath[int],
                                 data: JSONBody[ModifyPolicyRequest], viewer: NamedDependency[Viewer],
                                 policies: NamedDependency[PolicyService]) -> PolicyResponse:
        policy = await policies.modify(viewer, policy_id, _changes(data), team_id=team_id)
        return PolicyResponse(policy=to_policy(policy))

    @post("/{team_id:int}/policies/delete", status_code=200)
    async def delete_team_policies(self, team_id: FromPath[int], data: JSONBody[DeletePoliciesRequest],
                                   viewer: NamedDependency[Viewer],
                                   policies: NamedDependency[PolicyService]) -> DeletePoliciesResponse:
        return DeletePoliciesResponse(deleted=await policies.delete_many(viewer, _ids(data),
                                                                                  team_id=team_id))


class LatestGlobalPolicyController(GlobalPolicyController):
    """/api/latest's path for the global policies (v1's `/global/policies`)."""

    path = "/policies"


class PolicyCountController(Controller):
    """How many global or team policies there are; Fleet serves both paths on every API version."""

    tags = ["Policies"]
    guards = [strict_json_body]

    @get("/policies/count")
    async def count_global_policies(self, viewer: NamedDependency[Viewer],
                                    policies: NamedDependency[PolicyService]) -> PolicyCountResponse:
        return PolicyCountResponse(count=len(await policies.list(viewer)))

    @get("/teams/{team_id:int}/policies/count")
    async def count_team_policies(self, team_id: FromPath[int], viewer: NamedDependency[Viewer],
                                  policies: NamedDependency[PolicyService]) -> PolicyCountResponse:
        return PolicyCountResponse(count=len(await policies.list(viewer, team_id=team_id)))
