"""Policies: list, read, add, edit and delete global and team policies; apply policy specs; the
policies a host answers (for GET /hosts/{id} and the device routes, see services/device.py).

A policy is global (team_id None) or belongs to one team. Every role reads the global policies
(team users see them read-only, as they apply to their hosts too); team admins and maintainers
manage their own teams' policies, global admins and maintainers every policy. Agents are asked
the policies from a per-process cache, so every write announces a configuration change after
its commit. Counts of passing and failing hosts are maintained by the storage adapter in the
same transaction as the answers (see fleet_adapters/postgres/policies.py), never recomputed
per request.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.hosts import Host
from fleet_core.model.policies import HostPolicy, Policy, PolicyFields
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.ports import Clock, InvalidationBus, TokenGenerator, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.policies import POLICY_PLATFORMS, normalized_platform, policies_for_host, response_of
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce_config_change

log = structlog.get_logger(__name__)

MAX_POLICY_NAME_LENGTH = 255
PLATFORM_REASON = f"must be a comma-separated list of {', '.join(sorted(POLICY_PLATFORMS))}"


@attrs.frozen
class PolicyChanges:
    """A PATCH: every field left as UNSET_FIELD stays as it is."""

    name: Any = UNSET_FIELD
    query: Any = UNSET_FIELD
    description: Any = UNSET_FIELD
    resolution: Any = UNSET_FIELD
    platform: Any = UNSET_FIELD
    critical: Any = UNSET_FIELD

    def apply(self, fields: PolicyFields) -> PolicyFields:
        given = {f.name: getattr(self, f.name) for f in attrs.fields(PolicyChanges)
                 if getattr(self, f.name) is not UNSET_FIELD}
        return attrs.evolve(fields, **given)


def policy_problems(fields: PolicyFields, prefix: str = "") -> list[tuple[str, str]]:
    """Every problem with the fields, each named ``prefix + field``."""
    problems: list[tuple[str, str]] = []
    name = fields.name.strip()
    if not name:
        problems.append((f"{prefix}name", "may not be empty"))
    elif len(name) > MAX_POLICY_NAME_LENGTH:
        problems.append((f"{prefix}name", f"must be at most {MAX_POLICY_NAME_LENGTH} characters"))
    if not fields.query.strip():
        problems.append((f"{prefix}query", "may not be empty"))
    if normalized_platform(fields.platform) is None:
        problems.append((f"{prefix}platform", PLATFORM_REASON))
    return problems


def checked_fields(fields: PolicyFields) -> PolicyFields:
    """The fields with the name trimmed and the platform list normalised.

    Raises:
        InvalidArgument: a blank or too long name, an empty query or an unknown platform; every
            problem at once.
    """
    problems = policy_problems(fields)
    if problems:
        raise InvalidArgument(*problems)
    return attrs.evolve(fields, name=fields.name.strip(), platform=normalized_platform(fields.platform) or "")


def _scope(policy: Policy) -> list[int] | None:
    return None if policy.team_id is None else [policy.team_id]


def _team_scope(team_id: int | None) -> list[int] | None:
    return None if team_id is None else [team_id]


@attrs.frozen
class PolicySpec:
    """A policy by name; ``team`` names its team ("" for a global policy)."""

    fields: PolicyFields
    team: str = ""


@attrs.frozen
class PolicyService:
    uow: UnitOfWorkFactory
    clock: Clock
    bus: InvalidationBus
    tokens: TokenGenerator

    async def list(self, viewer: Viewer, *, team_id: int | None = None) -> builtins.list[Policy]:
        """The team's policies, or the global ones when team_id is None, with their counts.

        Raises:
            NotFound: no such team.
            PermissionDenied: a team user asks for a team they are not on.
        """
        authorize(viewer, Action.READ_POLICIES, team_ids=_team_scope(team_id))
        async with self.uow() as uow:
            if team_id is not None:
                await _require_team(uow, team_id)
            return await uow.policies.list(team_id=team_id)

    async def get(self, viewer: Viewer, policy_id: int, *, team_id: int | None = None) -> Policy:
        """One policy of the scope (a team's, or global when team_id is None).

        Raises:
            NotFound: no such policy in that scope.
            PermissionDenied: the scope is a team the viewer is not on.
        """
        authorize(viewer, Action.READ_POLICIES, team_ids=_team_scope(team_id))
        async with self.uow() as uow:
            return await _require(uow, policy_id, team_id)

    async def create(self, viewer: Viewer, fields: PolicyFields | None, *, team_id: int | None = None,
                     query_id: int | None = None) -> Policy:
        """Add a policy authored by the viewer and record ``created_policy``. With ``query_id``
        (Fleet's legacy form) the name, query and description come from that saved query.

        Raises:
            InvalidArgument: see checked_fields; both or neither of a query and query_id.
            PermissionDenied: the viewer may not write policies of that scope.
            NotFound: no such team or saved query.
            AlreadyExists: a policy has that name.
        """
        authorize(viewer, Action.WRITE_POLICIES, team_ids=_team_scope(team_id))
        async with self.uow() as uow:
            if team_id is not None:
                await _require_team(uow, team_id)
            if query_id is not None:
                saved = await uow.queries.get(query_id)
                if saved is None or (saved.team_id is not None and saved.team_id != team_id):
                    raise NotFound(f"Query with id={query_id} was not found in the datastore")
                base = fields or PolicyFields(name="", query="")
                fields = attrs.evolve(base, name=saved.name, query=saved.query, description=saved.description)
            if fields is None:
                raise InvalidArgument(("query", "either query or query_id must be provided"))
            fields = checked_fields(fields)
            now = self.clock.now()
            policy = await uow.policies.add(fields, team_id=team_id, author_id=viewer.user.id, at=now)
            await record_activity(uow, viewer.user, "created_policy",
                                  {"policy_id": policy.id, "policy_name": policy.name}, now)
            await uow.commit()
        await announce_config_change(self.bus)
        log.info("policy_created", policy_id=policy.id, team_id=team_id)
        return policy

    async def modify(self, viewer: Viewer, policy_id: int, changes: PolicyChanges, *,
                     team_id: int | None = None) -> Policy:
        """Apply a PATCH and record ``edited_policy``; a new query or platform forgets every
        host's answer, so hosts are asked again.

        Raises:
            NotFound: no such policy in the scope.
            PermissionDenied: the viewer may not write this policy.
            InvalidArgument: see checked_fields.
            AlreadyExists: another policy has the new name.
        """
        authorize(viewer, Action.WRITE_POLICIES, team_ids=_team_scope(team_id))
        async with self.uow() as uow:
            policy = await _require(uow, policy_id, team_id)
            fields = checked_fields(changes.apply(policy.fields))
            now = self.clock.now()
            policy = await uow.policies.update(policy_id, fields, now)
            await record_activity(uow, viewer.user, "edited_policy",
                                  {"policy_id": policy.id, "policy_name": policy.name}, now)
            await uow.commit()
        await announce_config_change(self.bus)
        log.info("policy_modified", policy_id=policy_id)
        return policy

    async def delete_many(self, viewer: Viewer, policy_ids: Sequence[int], *, team_id: int | None = None) -> int:
        """Delete these policies of the scope, all or none, recording ``deleted_policy`` for each.

        Raises:
            InvalidArgument: no ids.
            PermissionDenied: the viewer may not write policies of the scope, or (globally) an id
                is a team policy.
            NotFound: an id is no policy of the scope (nothing is deleted).
        """
        authorize(viewer, Action.WRITE_POLICIES, team_ids=_team_scope(team_id))
        if not policy_ids:
            raise InvalidArgument(("ids", "may not be empty"))
        async with self.uow() as uow:
            if team_id is not None:
                await _require_team(uow, team_id)
            doomed = []
            for policy_id in sorted(set(policy_ids)):
                policy = await uow.policies.get(policy_id)
                if policy is not None and team_id is None and policy.team_id is not None:
                    # As Fleet: a team policy is not deleted through the global route.
                    raise PermissionDenied("forbidden")
                if policy is None or policy.team_id != team_id:
                    raise NotFound(f"Policy with id={policy_id} was not found in the datastore")
                doomed.append(policy)
            deleted = await uow.policies.delete_many([p.id for p in doomed])
            now = self.clock.now()
            for policy in doomed:
                await record_activity(uow, viewer.user, "deleted_policy",
                                      {"policy_id": policy.id, "policy_name": policy.name}, now)
            await uow.commit()
        await announce_config_change(self.bus)
        log.info("policies_deleted", count=len(deleted))
        return len(deleted)

    # ---- specs -----------------------------------------------------------------------------------

    async def apply_specs(self, viewer: Viewer, specs: Sequence[Mapping[str, Any]]) -> None:
        """See apply_policy_specs."""
        await apply_policy_specs(self.uow, self.clock, self.bus, viewer, specs)


async def apply_policy_specs(uow_factory: UnitOfWorkFactory, clock: Clock, bus: InvalidationBus, viewer: Viewer,
                             specs: Sequence[Mapping[str, Any]]) -> None:
    """Create or update policies by name, all or none, and record ``applied_spec_policy``.

    An existing policy keeps its team (Fleet ignores it on update); its query, description,
    resolution, platform and critical flag are replaced.

    Raises:
        PermissionDenied: the viewer may not write one of the policies (nothing is written).
        InvalidArgument: a spec is invalid or two specs share a name (``specs[i].<field>``).
        NotFound: a named team does not exist.
    """
    # Observers learn nothing, not even which specs are malformed.
    authorize(viewer, Action.WRITE_POLICIES, team_ids=[m.team_id for m in viewer.user.teams] or None)
    parsed = [_spec(i, raw) for i, raw in enumerate(specs)]
    async with uow_factory() as uow:
        # Authorization first, then validation, as every apply does.
        plan: list[tuple[PolicySpec, Policy | None, int | None]] = []
        for spec in parsed:
            existing = await uow.policies.get_by_name(spec.fields.name.strip())
            team_id = existing.team_id if existing is not None else None
            if existing is None and spec.team:
                team = await uow.teams.get_by_name(spec.team)
                if team is None:
                    # Only callers allowed to write some team learn which names exist.
                    authorize(viewer, Action.WRITE_POLICIES,
                              team_ids=[m.team_id for m in viewer.user.teams] or None)
                    raise NotFound(f"Team {spec.team!r} was not found in the datastore")
                team_id = team.id
            authorize(viewer, Action.WRITE_POLICIES, team_ids=_team_scope(team_id))
            plan.append((spec, existing, team_id))
        problems = [p for i, spec in enumerate(parsed) for p in policy_problems(spec.fields, f"specs[{i}].")]
        seen: set[str] = set()
        for i, spec in enumerate(parsed):
            name = spec.fields.name.strip()
            if name and name in seen:
                problems.append((f"specs[{i}].name", "is given twice"))
            seen.add(name)
        if problems:
            raise InvalidArgument(*problems)
        now = clock.now()
        applied = []
        for spec, existing, team_id in plan:
            fields = checked_fields(spec.fields)
            if existing is None:
                await uow.policies.add(fields, team_id=team_id, author_id=viewer.user.id, at=now)
            else:
                await uow.policies.update(existing.id, attrs.evolve(
                    existing.fields, query=fields.query, description=fields.description,
                    resolution=fields.resolution, platform=fields.platform, critical=fields.critical), now)
            applied.append({"name": fields.name, "query": fields.query, "description": fields.description,
                            "resolution": fields.resolution, "team": spec.team, "platform": fields.platform,
                            "critical": fields.critical})
        if applied:
            await record_activity(uow, viewer.user, "applied_spec_policy", {"policies": applied}, now)
        await uow.commit()
    if parsed:
        await announce_config_change(bus)
    log.info("policy_specs_applied", count=len(parsed))


async def host_policies(uow: UnitOfWork, host: Host) -> builtins.list[HostPolicy]:
    """The policies the host answers (global and its team's, for its platform), each with its
    response: "pass", "fail" or "" (not answered yet, or the query errored)."""
    answers = await uow.policies.host_results(host.id)
    applicable = policies_for_host(
        [*await uow.policies.list(team_id=None), *(await uow.policies.list(team_id=host.team_id)
                                                   if host.team_id is not None else [])],
        team_id=host.team_id, platform=host.platform)
    return [HostPolicy(policy=p, response=response_of(answers.get(p.id), p.id in answers)) for p in applicable]


def _spec(index: int, raw: Mapping[str, Any]) -> PolicySpec:
    def text(key: str) -> str:
        value = raw.get(key, "")
        if value is None:
            return ""
        if not isinstance(value, str):
            raise InvalidArgument((f"specs[{index}].{key}", "must be a string"))
        return value

    critical = raw.get("critical", False)
    if not isinstance(critical, bool):
        raise InvalidArgument((f"specs[{index}].critical", "must be a boolean"))
    return PolicySpec(
        fields=PolicyFields(name=text("name"), query=text("query"), description=text("description"),
                            resolution=text("resolution"), platform=text("platform"), critical=critical),
        team=text("team"),
    )


async def _require(uow: UnitOfWork, policy_id: int, team_id: int | None) -> Policy:
    policy = await uow.policies.get(policy_id)
    if policy is None or policy.team_id != team_id:
        raise NotFound(f"Policy with id={policy_id} was not found in the datastore")
    return policy


async def _require_team(uow: UnitOfWork, team_id: int) -> None:
    if await uow.teams.get(team_id) is None:
        raise NotFound(f"Team with id={team_id} was not found in the datastore")
