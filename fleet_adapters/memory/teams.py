"""In-memory TeamRepository."""

from __future__ import annotations

import builtins
import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.teams import Team, TeamAutomations, TeamCounts, TeamMembers
from fleet_core.rules.paging import ListOptions, paginate

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State


@attrs.define
class InMemoryTeamRepository:
    state: _State
    store: InMemoryStore

    def _name_taken(self, name: str, except_id: int | None = None) -> bool:
        return any(t.name.casefold() == name.casefold() and t.id != except_id for t in self.state.teams.values())

    async def add(self, *, name: str, description: str, at: dt.datetime) -> Team:
        if self._name_taken(name):
            raise AlreadyExists(f"Team {name} already exists")
        team = Team(id=self.store.next_id("teams"), name=name, description=description, created_at=at)
        self.state.teams[team.id] = team
        return team

    async def get(self, team_id: int) -> Team | None:
        return self.state.teams.get(team_id)

    async def get_many(self, team_ids: Sequence[int]) -> list[Team]:
        return [self.state.teams[i] for i in sorted(set(team_ids)) if i in self.state.teams]

    async def get_by_name(self, name: str) -> Team | None:
        return next((t for t in self.state.teams.values() if t.name.casefold() == name.casefold()), None)

    async def set_agent_options(self, team_id: int, agent_options: Mapping[str, Any] | None) -> None:
        team = self.state.teams.get(team_id)
        if team is None:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        self.state.teams[team_id] = attrs.evolve(
            team, agent_options=None if agent_options is None else copy.deepcopy(dict(agent_options)))

    async def list(self, options: ListOptions, *, team_ids: frozenset[int] | None = None) -> builtins.list[Team]:
        teams = [t for t in self.state.teams.values() if team_ids is None or t.id in team_ids]
        return paginate(teams, options, lambda t, k: getattr(t, k), tie_breaker=lambda t: t.id,
                        matches=lambda t, q: q in t.name.lower())

    async def update(self, team_id: int, *, name: str, description: str) -> Team:
        team = self.state.teams.get(team_id)
        if team is None:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        if self._name_taken(name, except_id=team_id):
            raise AlreadyExists(f"Team {name} already exists")
        updated = attrs.evolve(team, name=name, description=description)
        self.state.teams[team_id] = updated
        return updated

    async def delete(self, team_id: int) -> builtins.list[int] | None:
        if self.state.teams.pop(team_id, None) is None:
            return None
        self.state.team_automations.pop(team_id, None)
        # What the foreign keys do in Postgres: cascade secrets and roles, hosts to no team.
        for secret, found in list(self.state.enroll_secrets.items()):
            if found.team_id == team_id:
                del self.state.enroll_secrets[secret]
        for query_id, saved in list(self.state.queries.items()):
            if saved.team_id == team_id:
                del self.state.queries[query_id]
        team_policies = {i for i, policy in self.state.policies.items() if policy.team_id == team_id}
        for policy_id in team_policies:
            del self.state.policies[policy_id]
        answers = self.state.host_tables.policy_membership
        for host_id, answered in list(answers.items()):
            answers[host_id] = tuple(a for a in answered if a[0] not in team_policies)
        for user_id, user in list(self.state.users.items()):
            if any(m.team_id == team_id for m in user.teams):
                self.state.users[user_id] = attrs.evolve(
                    user, teams=tuple(m for m in user.teams if m.team_id != team_id))
        for invite_id, (invite, token_hash) in list(self.state.invites.items()):
            if any(m.team_id == team_id for m in invite.teams):
                kept = tuple(m for m in invite.teams if m.team_id != team_id)
                self.state.invites[invite_id] = (attrs.evolve(invite, teams=kept), token_hash)
        hosts = self.state.host_tables.hosts
        moved = sorted(h.id for h in hosts.values() if h.team_id == team_id)
        for host_id in moved:
            hosts[host_id] = attrs.evolve(hosts[host_id], team_id=None)
        return moved

    async def counts(self, team_ids: Sequence[int]) -> dict[int, TeamCounts]:
        wanted = {i for i in team_ids if i in self.state.teams}
        users = dict.fromkeys(wanted, 0)
        hosts = dict.fromkeys(wanted, 0)
        for user in self.state.users.values():
            for membership in user.teams:
                if membership.team_id in users:
                    users[membership.team_id] += 1
        for host in self.state.host_tables.hosts.values():
            if host.team_id in hosts:
                hosts[host.team_id] += 1
        return {i: TeamCounts(user_count=users[i], host_count=hosts[i]) for i in wanted}

    async def members(self, team_id: int) -> TeamMembers:
        if team_id not in self.state.teams:
            return TeamMembers()
        users = sorted(u.id for u in self.state.users.values() if any(m.team_id == team_id for m in u.teams))
        hosts = sorted(h.id for h in self.state.host_tables.hosts.values() if h.team_id == team_id)
        return TeamMembers(user_ids=tuple(users), host_ids=tuple(hosts))

    async def automations(self, team_id: int) -> TeamAutomations:
        return self.state.team_automations.get(team_id, TeamAutomations())

    async def all_automations(self) -> dict[int, TeamAutomations]:
        return dict(sorted(self.state.team_automations.items()))

    async def set_automations(self, team_id: int, automations: TeamAutomations) -> None:
        if team_id not in self.state.teams:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        # The webhook's policy_ids list is copied so the caller cannot change what is stored.
        hook = automations.failing_policies_webhook
        self.state.team_automations[team_id] = attrs.evolve(
            automations, failing_policies_webhook=attrs.evolve(hook, policy_ids=list(hook.policy_ids)))
