"""Configuration as code: what ``fleetctl get`` reads and ``fleetctl apply`` writes, by name.

Each apply is all-or-nothing: every spec is checked (authorization first, then validation,
every problem named ``specs[i].<field>``) before anything is written, and the writes share one
unit of work, so a bad spec among good ones leaves the fleet exactly as it was.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize, visible_team_ids
from fleet_core.errors import InvalidArgument, NotFound
from fleet_core.model.hosts import HostFilter, Label
from fleet_core.model.queries import QueryFields, SavedQuery
from fleet_core.model.teams import Team
from fleet_core.ports import Clock, InvalidationBus, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce_config_change
from fleet_core.services.config import enroll_secret_problems
from fleet_core.services.labels import (
    checked_label_name,
    checked_label_platform,
    checked_label_query,
    record_label_activity,
    require_regular,
)
from fleet_core.services.policies import apply_policy_specs
from fleet_core.services.queries import checked_fields
from fleet_core.services.teams import checked_team_name, normalize_agent_options

log = structlog.get_logger(__name__)

MEMBERSHIP_TYPES = ("dynamic", "manual")


@attrs.frozen
class QuerySpec:
    """A saved query by name; ``team`` names its team ("" for a global query)."""

    fields: QueryFields
    team: str = ""


@attrs.frozen
class LabelSpec:
    name: str
    description: str = ""
    query: str = ""
    platform: str = ""
    # "" is Fleet's default: dynamic.
    label_membership_type: str = ""
    # Hostnames of a manual label's members; None leaves an existing label's members as they are.
    hosts: tuple[str, ...] | None = None


@attrs.frozen
class LabelSpecView:
    label: Label
    # The hostnames of a manual label's members the viewer may see; None for dynamic labels.
    hosts: tuple[str, ...] | None = None


@attrs.frozen
class TeamSpec:
    name: str
    # None: keep the team's options (a new team follows the global ones).
    agent_options: Mapping[str, Any] | None = None
    # None or empty: keep the team's secrets, as Fleet documents.
    secrets: tuple[str, ...] | None = None
    # Documented team settings this server does not store, given in the spec; each is refused.
    unsupported: tuple[str, ...] = ()


def query_spec_details(saved: SavedQuery, team: str = "") -> dict[str, Any]:
    """A query as a spec: what GET /spec/queries shows and applied_spec_saved_query records."""
    return {
        "name": saved.name, "description": saved.description, "query": saved.query, "team": team,
        "interval": saved.interval, "observer_can_run": saved.observer_can_run, "platform": saved.platform,
        "min_osquery_version": saved.min_osquery_version, "automations_enabled": saved.automations_enabled,
        "logging": saved.logging,
    }


def _at(index: int, exc: InvalidArgument) -> builtins.list[tuple[str, str]]:
    return [(f"specs[{index}].{name}", reason) for name, reason in exc.problems]


def _checked(problems: builtins.list[tuple[str, str]], check: Callable[[str], str], value: str) -> str:
    """``check(value)``, or ``value`` unchanged with the check's problems added to ``problems``."""
    try:
        result = check(value)
    except InvalidArgument as exc:
        problems.extend(exc.problems)
        return value
    return result


def _label_problems(spec: LabelSpec) -> tuple[LabelSpec, builtins.list[tuple[str, str]]]:
    """The spec normalized, and what is wrong with it on its own (without looking anything up)."""
    problems: builtins.list[tuple[str, str]] = []
    name = _checked(problems, checked_label_name, spec.name)
    platform = _checked(problems, checked_label_platform, spec.platform)
    query = spec.query
    membership = spec.label_membership_type or "dynamic"
    if membership not in MEMBERSHIP_TYPES:
        problems.append(("label_membership_type", "must be dynamic or manual"))
    elif membership == "dynamic":
        query = _checked(problems, checked_label_query, spec.query)
        if spec.hosts is not None:
            problems.append(("hosts", "only manual labels have a list of hosts"))
    elif spec.query.strip():
        problems.append(("query", "a manual label has no query"))
    else:
        query = ""
    normalized = attrs.evolve(spec, name=name, platform=platform, query=query, label_membership_type=membership)
    return normalized, problems


def _team_problems(spec: TeamSpec, *, force: bool) -> tuple[TeamSpec, builtins.list[tuple[str, str]]]:
    problems: builtins.list[tuple[str, str]] = []
    name = _checked(problems, checked_team_name, spec.name)
    problems.extend((key, "is not supported by this server; nothing was applied") for key in spec.unsupported)
    options = spec.agent_options
    if options is not None:
        try:
            options = normalize_agent_options(options, allow_unknown_keys=force)
        except InvalidArgument as exc:
            problems.extend(exc.problems)
    if spec.secrets:
        problems.extend(enroll_secret_problems(spec.secrets))
    return attrs.evolve(spec, name=name, agent_options=options), problems


def _duplicates(keys: Sequence[object | None]) -> builtins.list[tuple[int, int]]:
    """(index, index of the first spec with the same key) for every repeated key (None: skip)."""
    first: dict[object, int] = {}
    repeated = []
    for index, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            repeated.append((index, first[key]))
        else:
            first[key] = index
    return repeated


@attrs.frozen
class SpecService:
    uow: UnitOfWorkFactory
    clock: Clock
    bus: InvalidationBus

    # ---- queries -------------------------------------------------------------------------------

    async def queries(self, viewer: Viewer) -> builtins.list[SavedQuery]:
        """Every global query, by id."""
        authorize(viewer, Action.READ_QUERIES)
        async with self.uow() as uow:
            return await uow.queries.list(ListOptions(), team_id=None)

    async def query(self, viewer: Viewer, name: str) -> SavedQuery:
        """The global query with exactly this name. Raises NotFound."""
        authorize(viewer, Action.READ_QUERIES)
        async with self.uow() as uow:
            saved = await uow.queries.get_by_name(name, team_id=None)
        if saved is None:
            raise NotFound(f"Query {name!r} was not found in the datastore")
        return saved

    async def apply_queries(self, viewer: Viewer, specs: Sequence[QuerySpec]) -> None:
        """Create the queries whose name is new in their scope and replace every field of the
        others; records ``applied_spec_saved_query``.

        Raises:
            PermissionDenied: the viewer may not write queries of one of the scopes.
            InvalidArgument: a bad field, an unknown team, or a name given twice (nothing applied).
            AlreadyExists: a concurrent writer took a name first.
        """
        async with self.uow() as uow:
            problems: builtins.list[tuple[str, str]] = []
            scopes: builtins.list[Team | None] = []
            for index, spec in enumerate(specs):
                team = None
                if spec.team.strip():
                    team = await uow.teams.get_by_name(spec.team.strip())
                    if team is None:
                        problems.append((f"specs[{index}].team", f"no team is named {spec.team!r}"))
                authorize(viewer, Action.WRITE_QUERIES, team_ids=None if team is None else [team.id])
                scopes.append(team)
            checked: builtins.list[QueryFields] = []
            for index, spec in enumerate(specs):
                try:
                    checked.append(checked_fields(spec.fields))
                except InvalidArgument as exc:
                    problems.extend(_at(index, exc))
                    checked.append(spec.fields)
            keys = [(None if team is None else team.id, fields.name) for team, fields in zip(scopes, checked,
                                                                                            strict=True)]
            problems.extend((f"specs[{i}].name", f"is the same as specs[{j}].name")
                            for i, j in _duplicates(keys))
            if problems:
                raise InvalidArgument(*problems)
            now = self.clock.now()
            applied = []
            for team, fields in zip(scopes, checked, strict=True):
                team_id = None if team is None else team.id
                existing = await uow.queries.get_by_name(fields.name, team_id=team_id)
                if existing is None:
                    saved = await uow.queries.add(fields, team_id=team_id, author_id=viewer.user.id, at=now)
                else:
                    saved = await uow.queries.update(existing.id, fields, now)
                applied.append(query_spec_details(saved, "" if team is None else team.name))
            if applied:
                await record_activity(uow, viewer.user, "applied_spec_saved_query", {"specs": applied}, now)
            await uow.commit()
        log.info("query_specs_applied", count=len(applied))

    # ---- labels --------------------------------------------------------------------------------

    async def labels(self, viewer: Viewer) -> builtins.list[LabelSpecView]:
        """Every label, built-in ones included, by id."""
        authorize(viewer, Action.READ_LABELS)
        async with self.uow() as uow:
            return [await self._label_view(uow, viewer, label) for label in await uow.labels.list(ListOptions())]

    async def label(self, viewer: Viewer, name: str) -> LabelSpecView:
        """The label with exactly this name. Raises NotFound."""
        authorize(viewer, Action.READ_LABELS)
        async with self.uow() as uow:
            label = await uow.labels.get_by_name(name)
            if label is None:
                raise NotFound(f"Label with name={name} was not found in the datastore")
            return await self._label_view(uow, viewer, label)

    async def apply_labels(self, viewer: Viewer, specs: Sequence[LabelSpec]) -> None:
        """Create the labels whose name is new and change the others (a new query or platform
        drops a dynamic label's memberships, as LabelService does); a manual label's ``hosts``
        (hostnames) become its members. Records created_label / edited_label for each.

        Raises:
            PermissionDenied: the viewer may not write labels.
            InvalidArgument: a bad field, a built-in label, a change of membership type, an
                unknown hostname, or a name given twice (nothing applied).
        """
        authorize(viewer, Action.WRITE_LABELS)
        problems: builtins.list[tuple[str, str]] = []
        checked: builtins.list[LabelSpec] = []
        for index, spec in enumerate(specs):
            normalized, found = _label_problems(spec)
            problems.extend((f"specs[{index}].{name}", reason) for name, reason in found)
            checked.append(normalized)
        problems.extend((f"specs[{i}].name", f"is the same as specs[{j}].name")
                        for i, j in _duplicates([spec.name.strip() or None for spec in checked]))
        async with self.uow() as uow:
            now = self.clock.now()
            existing: builtins.list[Label | None] = []
            members: builtins.list[builtins.list[int] | None] = []
            for index, spec in enumerate(checked):
                label = await uow.labels.get_by_name(spec.name)
                existing.append(label)
                if label is not None:
                    try:
                        require_regular(label)
                    except InvalidArgument as exc:
                        problems.extend((f"specs[{index}].name", reason) for _, reason in exc.problems)
                    if label.label_membership_type != spec.label_membership_type:
                        problems.append((f"specs[{index}].label_membership_type",
                                         f"label {label.name!r} is {label.label_membership_type}; "
                                         "the membership type of a label cannot change"))
                host_ids = None
                if spec.label_membership_type == "manual" and (spec.hosts is not None or label is None):
                    host_ids, unknown = await _host_ids_by_hostname(uow, spec.hosts or (), now)
                    if unknown:
                        problems.append((f"specs[{index}].hosts", f"unknown hostnames: {', '.join(unknown)}"))
                members.append(host_ids)
            if problems:
                raise InvalidArgument(*problems)
            for spec, label, host_ids in zip(checked, existing, members, strict=True):
                if label is None:
                    label = await uow.labels.add(name=spec.name, description=spec.description, query=spec.query,
                                                 platform=spec.platform, membership_type=spec.label_membership_type,
                                                 at=now)
                    activity = "created_label"
                else:
                    label = await uow.labels.update(label.id, name=spec.name, description=spec.description,
                                                    query=spec.query, platform=spec.platform, at=now)
                    activity = "edited_label"
                if host_ids is not None:
                    await uow.labels.set_members(label.id, host_ids, now)
                await record_label_activity(uow, viewer, activity, label, now)
            await uow.commit()
        if checked:
            await announce_config_change(self.bus)
        log.info("label_specs_applied", count=len(checked))

    async def _label_view(self, uow: UnitOfWork, viewer: Viewer, label: Label) -> LabelSpecView:
        if label.label_membership_type != "manual":
            return LabelSpecView(label=label)
        filters = HostFilter(label_id=label.id, visible_team_ids=visible_team_ids(viewer.user))
        hosts = await uow.host_inventory.list(filters, ListOptions(), now=self.clock.now())
        return LabelSpecView(label=label, hosts=tuple(sorted(h.hostname for h in hosts)))

    # ---- teams ---------------------------------------------------------------------------------

    async def apply_teams(self, viewer: Viewer, specs: Sequence[TeamSpec], *, dry_run: bool = False,
                          force: bool = False) -> dict[str, int]:
        """Create the teams whose name is new (names compare case-insensitively); replace the
        agent options and (when a non-empty list is given) the enroll secrets of each. Returns
        the team ids by the names given; empty for a dry run, which checks everything (secrets
        used elsewhere included) and keeps nothing. Records ``applied_spec_team``.

        Global admins may create teams; a team's admins may apply specs to it. ``force`` lets
        unknown agent option keys through.

        Raises:
            PermissionDenied: the viewer may not create or write one of the teams.
            InvalidArgument: a bad name, agent options or secrets, a setting this server does not
                store, or a name given twice (nothing applied).
            AlreadyExists: a secret belongs to another team or is global.
        """
        problems: builtins.list[tuple[str, str]] = []
        checked: builtins.list[TeamSpec] = []
        for index, spec in enumerate(specs):
            normalized, found = _team_problems(spec, force=force)
            problems.extend((f"specs[{index}].{name}", reason) for name, reason in found)
            checked.append(normalized)
        problems.extend((f"specs[{i}].name", f"is the same as specs[{j}].name")
                        for i, j in _duplicates([spec.name.casefold() or None for spec in checked]))
        async with self.uow() as uow:
            existing: builtins.list[Team | None] = []
            for spec in checked:
                team = await uow.teams.get_by_name(spec.name) if spec.name else None
                # Creating a team needs a global admin; changing one, an admin of that team.
                authorize(viewer, Action.WRITE_TEAM, team_ids=None if team is None else [team.id])
                existing.append(team)
            if problems:
                raise InvalidArgument(*problems)
            now = self.clock.now()
            ids: dict[str, int] = {}
            applied: builtins.list[dict[str, Any]] = []
            options_changed = False
            for spec, team in zip(checked, existing, strict=True):
                if team is None:
                    team = await uow.teams.add(name=spec.name, description="", at=now)
                if spec.agent_options is not None and spec.agent_options != team.agent_options:
                    await uow.teams.set_agent_options(team.id, spec.agent_options)
                    options_changed = True
                if spec.secrets:
                    await uow.enroll_secrets.replace(team.id, spec.secrets, now)
                ids[spec.name] = team.id
                applied.append({"id": team.id, "name": team.name})
            if dry_run:
                return {}
            if applied:
                await record_activity(uow, viewer.user, "applied_spec_team", {"teams": applied}, now)
            await uow.commit()
        if options_changed:
            await announce_config_change(self.bus)
        log.info("team_specs_applied", count=len(ids))
        return ids

    # ---- policies ------------------------------------------------------------------------------

    async def apply_policies(self, viewer: Viewer, specs: Sequence[Mapping[str, Any]]) -> None:
        """Create or update policies by name, all or none (see policies.apply_policy_specs)."""
        await apply_policy_specs(self.uow, self.clock, self.bus, viewer, specs)


async def _host_ids_by_hostname(uow: UnitOfWork, hostnames: Sequence[str], now: dt.datetime,
                                ) -> tuple[builtins.list[int], builtins.list[str]]:
    """The ids of the hosts with these hostnames (case-insensitively, as DNS names compare),
    and the hostnames no host has."""
    ids: set[int] = set()
    unknown = []
    for hostname in sorted(set(hostnames)):
        # The host search matches substrings; keep the exact hostnames only.
        found = [h.id for h in await uow.host_inventory.list(HostFilter(query=hostname), ListOptions(), now=now)
                 if h.hostname.casefold() == hostname.casefold()]
        if found and hostname.strip():
            ids.update(found)
        else:
            unknown.append(hostname)
    return sorted(ids), unknown
