"""Teams: list, read, create, modify (name, description, agent options, members, hosts), delete."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize, is_allowed, visible_team_ids
from fleet_core.errors import InvalidArgument, NotFound
from fleet_core.model.secrets import EnrollSecret
from fleet_core.model.teams import Team, TeamAutomations, TeamCounts
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.model.users import Role, TeamRole
from fleet_core.ports import Clock, InvalidationBus, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.app_config import agent_options_problems
from fleet_core.rules.integrations import team_automation_problems
from fleet_core.rules.paging import ListOptions
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce, announce_config_change

log = structlog.get_logger(__name__)

# Keep in step with the ORDER_COLUMNS of fleet_adapters.postgres.teams.
MAX_TEAM_NAME_LENGTH = 255

# Users added through a team's user_ids get the least privileged role; their role is changed
# through the users API.
DEFAULT_MEMBER_ROLE = Role.OBSERVER


@attrs.frozen
class TeamView:
    """A team as the API shows it: the stored team plus what is counted or joined to it."""

    team: Team
    # The options the team's hosts get: the team's own, or the global ones when it has none.
    agent_options: Mapping[str, Any] | None
    user_count: int
    host_count: int
    user_ids: tuple[int, ...] | None = None
    host_ids: tuple[int, ...] | None = None
    # None when the viewer may not read the team's enroll secrets.
    secrets: tuple[EnrollSecret, ...] | None = None
    # The team's failing-policy webhook and its use of the global integrations (no credentials).
    automations: TeamAutomations = attrs.field(factory=TeamAutomations)


@attrs.frozen
class TeamChanges:
    """A PATCH: every field left as UNSET_FIELD stays as it is."""

    name: Any = UNSET_FIELD
    description: Any = UNSET_FIELD
    # A mapping to replace the team's options, None to fall back to the global ones.
    agent_options: Any = UNSET_FIELD
    user_ids: Any = UNSET_FIELD
    host_ids: Any = UNSET_FIELD
    # A FailingPoliciesWebhook replacing the team's.
    failing_policies_webhook: Any = UNSET_FIELD
    # Tuples of TeamJiraIntegration / TeamZendeskIntegration replacing the team's lists.
    jira: Any = UNSET_FIELD
    zendesk: Any = UNSET_FIELD


def normalize_agent_options(value: Mapping[str, Any] | None, *,
                            allow_unknown_keys: bool = False) -> dict[str, Any] | None:
    """Validate team agent options; Fleet's docs show them both bare and wrapped in ``spec``.

    ``allow_unknown_keys`` (a forced spec apply) lets unknown top-level keys through; a section
    that is not an object is refused regardless, as agents could not be served from it.

    Raises:
        InvalidArgument: an unknown key, or a section that is not an object.
    """
    if value is None:
        return None
    if set(value) == {"spec"} and isinstance(value["spec"], Mapping):
        value = value["spec"]
    problems = agent_options_problems(value)
    if allow_unknown_keys:
        # agent_options_problems names the unknown-keys problem "agent_options" and each bad
        # section "agent_options.<section>".
        problems = [p for p in problems if p[0] != "agent_options"]
    if problems:
        raise InvalidArgument(*problems)
    return copy.deepcopy(dict(value))


def checked_team_name(name: str) -> str:
    """The name trimmed. Raises InvalidArgument (``name``) if blank or too long."""
    stripped = name.strip()
    if not stripped:
        raise InvalidArgument(("name", "may not be empty"))
    if len(stripped) > MAX_TEAM_NAME_LENGTH:
        raise InvalidArgument(("name", f"must be at most {MAX_TEAM_NAME_LENGTH} characters"))
    return stripped


@attrs.frozen
class TeamService:
    uow: UnitOfWorkFactory
    clock: Clock
    bus: InvalidationBus

    async def list(self, viewer: Viewer, options: ListOptions) -> builtins.list[TeamView]:
        """Teams the viewer may see: every team for a global role, a team user's own otherwise."""
        authorize(viewer, Action.READ_TEAM)
        async with self.uow() as uow:
            teams = await uow.teams.list(options, team_ids=visible_team_ids(viewer.user))
            counts = await uow.teams.counts([t.id for t in teams])
            global_options = (await uow.app_config.get()).agent_options
            automations = await uow.teams.all_automations()
            return [
                TeamView(
                    team=t,
                    agent_options=t.agent_options if t.agent_options is not None else global_options,
                    user_count=counts.get(t.id, TeamCounts()).user_count,
                    host_count=counts.get(t.id, TeamCounts()).host_count,
                    secrets=await self._secrets(uow, viewer, t.id),
                    automations=automations.get(t.id, TeamAutomations()),
                )
                for t in teams
            ]

    async def get(self, viewer: Viewer, team_id: int) -> TeamView:
        """One team with its members and hosts.

        Raises:
            NotFound: no such team.
            PermissionDenied: a team user asks for a team they are not on.
        """
        async with self.uow() as uow:
            await _require(uow, team_id)
            authorize(viewer, Action.READ_TEAM, team_ids=[team_id])
            return await self._view(uow, viewer, team_id)

    async def create(self, viewer: Viewer, *, name: str, description: str = "") -> TeamView:
        """Create a team (global admins only) and record ``created_team``.

        Raises:
            InvalidArgument: the name is blank or too long.
            AlreadyExists: another team has the name.
        """
        authorize(viewer, Action.WRITE_TEAM)
        name = checked_team_name(name)
        async with self.uow() as uow:
            now = self.clock.now()
            team = await uow.teams.add(name=name, description=description, at=now)
            await record_activity(uow, viewer.user, "created_team", {"team_id": team.id, "team_name": team.name},
                                  now)
            view = await self._view(uow, viewer, team.id)
            await uow.commit()
        log.info("team_created", team_id=team.id)
        return view

    async def modify(self, viewer: Viewer, team_id: int, changes: TeamChanges) -> TeamView:
        """Apply a PATCH (global admins, or admins of this team).

        ``user_ids`` is the team's whole membership: users not yet on it join as observers,
        members left out lose their role on it. ``host_ids`` are transferred to the team.

        Raises:
            NotFound: no such team.
            PermissionDenied: the viewer may not write the team or move one of the hosts.
            InvalidArgument: blank name, bad agent options, unknown user or host ids, or a
                user with a global role.
            AlreadyExists: another team has the new name.
        """
        agent_options = (changes.agent_options if changes.agent_options is UNSET_FIELD
                         else normalize_agent_options(changes.agent_options))
        async with self.uow() as uow:
            team = await _require(uow, team_id)
            authorize(viewer, Action.WRITE_TEAM, team_ids=[team_id])
            now = self.clock.now()
            if changes.name is not UNSET_FIELD or changes.description is not UNSET_FIELD:
                team = await uow.teams.update(
                    team_id,
                    name=team.name if changes.name is UNSET_FIELD else checked_team_name(changes.name),
                    description=team.description if changes.description is UNSET_FIELD else changes.description,
                )
            options_changed = agent_options is not UNSET_FIELD and agent_options != team.agent_options
            if options_changed:
                await uow.teams.set_agent_options(team_id, agent_options)
                await record_activity(uow, viewer.user, "edited_agent_options",
                                      {"global": False, "team_id": team.id, "team_name": team.name}, now)
            await self._set_automations(uow, viewer, team, changes)
            if changes.user_ids is not UNSET_FIELD:
                await self._set_members(uow, team_id, changes.user_ids)
            moved: builtins.list[int] = []
            if changes.host_ids is not UNSET_FIELD:
                moved = await self._transfer(uow, viewer, team, changes.host_ids)
            view = await self._view(uow, viewer, team_id)
            await uow.commit()
        if options_changed:
            await announce_config_change(self.bus)
        if moved:
            await announce(self.bus, moved)
        return view

    async def delete(self, viewer: Viewer, team_id: int) -> None:
        """Delete a team (global admins only): its hosts move to no team, its secrets and
        everyone's role on it go. Records ``deleted_team``.

        Raises:
            NotFound: no such team.
        """
        authorize(viewer, Action.WRITE_TEAM)
        async with self.uow() as uow:
            team = await _require(uow, team_id)
            freed = await uow.teams.delete(team_id)
            if freed is None:
                raise NotFound(f"Team with id={team_id} was not found in the datastore")
            await record_activity(uow, viewer.user, "deleted_team", {"team_id": team.id, "team_name": team.name},
                                  self.clock.now())
            await uow.commit()
        log.info("team_deleted", team_id=team_id, hosts=len(freed))
        if freed:
            await announce(self.bus, freed)

    async def _view(self, uow: UnitOfWork, viewer: Viewer, team_id: int) -> TeamView:
        team = await _require(uow, team_id)
        members = await uow.teams.members(team_id)
        options = team.agent_options
        if options is None:
            options = (await uow.app_config.get()).agent_options
        return TeamView(team=team, agent_options=options, user_count=len(members.user_ids),
                        host_count=len(members.host_ids), user_ids=members.user_ids, host_ids=members.host_ids,
                        secrets=await self._secrets(uow, viewer, team_id),
                        automations=await uow.teams.automations(team_id))

    @staticmethod
    async def _set_automations(uow: UnitOfWork, viewer: Viewer, team: Team, changes: TeamChanges) -> None:
        if (changes.failing_policies_webhook is UNSET_FIELD and changes.jira is UNSET_FIELD
                and changes.zendesk is UNSET_FIELD):
            return
        current = await uow.teams.automations(team.id)
        updated = TeamAutomations(
            failing_policies_webhook=(current.failing_policies_webhook
                                      if changes.failing_policies_webhook is UNSET_FIELD
                                      else changes.failing_policies_webhook),
            jira=current.jira if changes.jira is UNSET_FIELD else tuple(changes.jira),
            zendesk=current.zendesk if changes.zendesk is UNSET_FIELD else tuple(changes.zendesk),
        )
        config = await uow.app_config.get()
        policy_ids = [p.id for p in await uow.policies.list(team_id=team.id)]
        problems = team_automation_problems(updated, config.integrations, policy_ids)
        if problems:
            raise InvalidArgument(*problems)
        if updated != current:
            await uow.teams.set_automations(team.id, updated)
            log.info("team_automations_changed", team_id=team.id, viewer_id=viewer.user.id)

    @staticmethod
    async def _secrets(uow: UnitOfWork, viewer: Viewer, team_id: int) -> tuple[EnrollSecret, ...] | None:
        if not is_allowed(viewer.user, Action.READ_ENROLL_SECRETS, team_ids=[team_id]):
            return None
        return tuple(await uow.enroll_secrets.list(team_id))

    @staticmethod
    async def _set_members(uow: UnitOfWork, team_id: int, user_ids: Sequence[int]) -> None:
        wanted = set(user_ids)
        problems: builtins.list[tuple[str, str]] = []
        users = {}
        for user_id in sorted(wanted):
            user = await uow.users.get(user_id)
            if user is None:
                problems.append(("user_ids", f"user {user_id} does not exist"))
            elif user.global_role is not None:
                # A user holds a global role or team roles, never both.
                problems.append(("user_ids", f"user {user_id} has a global role"))
            else:
                users[user_id] = user
        if problems:
            raise InvalidArgument(*problems)
        current = (await uow.teams.members(team_id)).user_ids
        for user_id in current:
            if user_id not in wanted:
                leaving = await uow.users.get(user_id)
                if leaving is not None:
                    await uow.users.update(attrs.evolve(
                        leaving, teams=tuple(m for m in leaving.teams if m.team_id != team_id)))
        for user in users.values():
            if user.team_role(team_id) is None:
                await uow.users.update(attrs.evolve(
                    user, teams=(*user.teams, TeamRole(team_id=team_id, role=DEFAULT_MEMBER_ROLE))))

    async def _transfer(self, uow: UnitOfWork, viewer: Viewer, team: Team,
                        host_ids: Sequence[int]) -> builtins.list[int]:
        wanted = sorted(set(host_ids))
        hosts = {i: await uow.hosts.get(i) for i in wanted}
        missing = [i for i, h in hosts.items() if h is None]
        if missing:
            raise InvalidArgument(("host_ids", f"unknown host id(s): {', '.join(map(str, missing))}"))
        for host in hosts.values():
            assert host is not None
            # Taking a host from elsewhere is a write on the team it is leaving too.
            source = [] if host.team_id is None else [host.team_id]
            authorize(viewer, Action.WRITE_HOSTS, team_ids=source)
        moved = await uow.hosts.transfer(wanted, team.id)
        if moved:
            await record_activity(uow, viewer.user, "transferred_hosts", {
                "team_id": team.id, "team_name": team.name, "host_ids": moved,
                "host_display_names": [h.display_name for h in hosts.values() if h is not None],
            }, self.clock.now())
        return moved


async def _require(uow: UnitOfWork, team_id: int) -> Team:
    team = await uow.teams.get(team_id)
    if team is None:
        raise NotFound(f"Team with id={team_id} was not found in the datastore")
    return team
