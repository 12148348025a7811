"""Request and response bodies of the policies API (Fleet's globalPolicyResponse, ...), and the
host policy body shared by GET /hosts/{id} and the device route."""

from __future__ import annotations

from typing import Any

import msgspec

from fleet_core.model.policies import HostPolicy, Policy
from fleet_http.schemas.common import UNSET, UnsetType, ts


class PolicyDataBody(msgspec.Struct, kw_only=True):
    """The policy's own data, which both the policy list and a host's policies show."""

    id: int
    name: str
    query: str
    description: str
    critical: bool
    author_id: int | None
    author_name: str
    author_email: str
    team_id: int | None
    resolution: str
    platform: str
    created_at: str
    updated_at: str


def _policy_data(policy: Policy) -> dict[str, Any]:
    """PolicyDataBody's fields, for the bodies that extend it."""
    return {
        "id": policy.id, "name": policy.name, "query": policy.query, "description": policy.description,
        "critical": policy.critical, "author_id": policy.author_id, "author_name": policy.author_name,
        "author_email": policy.author_email, "team_id": policy.team_id, "resolution": policy.resolution,
        "platform": policy.platform, "created_at": ts(policy.created_at), "updated_at": ts(policy.updated_at),
    }


class PolicyBody(PolicyDataBody, kw_only=True):
    """Fleet's Policy: the data and how many hosts pass and fail it."""

    passing_host_count: int
    failing_host_count: int


def to_policy(policy: Policy) -> PolicyBody:
    return PolicyBody(**_policy_data(policy), passing_host_count=policy.passing_host_count,
                      failing_host_count=policy.failing_host_count)


class HostPolicyBody(PolicyDataBody, kw_only=True):
    """Fleet's HostPolicy: the policy's data (no counts) and the host's response."""

    response: str


def to_host_policy(answered: HostPolicy) -> HostPolicyBody:
    return HostPolicyBody(**_policy_data(answered.policy), response=answered.response)


class PolicyResponse(msgspec.Struct, kw_only=True):
    policy: PolicyBody


class ListPoliciesResponse(msgspec.Struct, kw_only=True):
    policies: list[PolicyBody]


class HostPoliciesResponse(msgspec.Struct, kw_only=True):
    policies: list[HostPolicyBody]


class CreatePolicyRequest(msgspec.Struct, kw_only=True):
    name: str | None = None
    query: str | None = None
    description: str = ""
    resolution: str = ""
    platform: str = ""
    critical: bool = False
    query_id: int | None = None


class ModifyPolicyRequest(msgspec.Struct, kw_only=True):
    name: str | UnsetType = UNSET
    query: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    resolution: str | UnsetType = UNSET
    platform: str | UnsetType = UNSET
    critical: bool | UnsetType = UNSET


class DeletePoliciesRequest(msgspec.Struct, kw_only=True):
    ids: list[int] | None = None


class DeletePoliciesResponse(msgspec.Struct, kw_only=True):
    deleted: int


class PolicyCountResponse(msgspec.Struct, kw_only=True):
    count: int
