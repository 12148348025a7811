"""In-memory PolicyRepository.

Counts are computed from the stored answers on every read: this adapter holds small fleets, so
the Postgres adapter's maintained counters would only add a second source of truth here.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.policies import Policy, PolicyFields

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import InMemoryStore, _State

NAME_TAKEN = "a policy with this name already exists"


@attrs.define
class InMemoryPolicyRepository:
    state: _State
    store: InMemoryStore

    async def get(self, policy_id: int) -> Policy | None:
        policy = self.state.policies.get(policy_id)
        return None if policy is None else self._read([policy])[0]

    async def get_by_name(self, name: str) -> Policy | None:
        found = [p for p in self.state.policies.values() if p.name == name]
        return self._read(found)[0] if found else None

    async def list(self, *, team_id: int | None) -> builtins.list[Policy]:
        return self._read(sorted((p for p in self.state.policies.values() if p.team_id == team_id),
                                 key=lambda p: p.id))

    async def every(self) -> builtins.list[Policy]:
        return [self.state.policies[i] for i in sorted(self.state.policies)]

    async def add(self, fields: PolicyFields, *, team_id: int | None, author_id: int | None,
                  at: dt.datetime) -> Policy:
        if team_id is not None and team_id not in self.state.teams:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        if self._taken(fields.name):
            raise AlreadyExists(NAME_TAKEN)
        policy = Policy(id=self.store.next_id("policies"), team_id=team_id, author_id=author_id, created_at=at,
                        updated_at=at, **attrs.asdict(fields))
        self.state.policies[policy.id] = policy
        return self._read([policy])[0]

    async def update(self, policy_id: int, fields: PolicyFields, at: dt.datetime) -> Policy:
        old = self.state.policies.get(policy_id)
        if old is None:
            raise NotFound(f"Policy with id={policy_id} was not found in the datastore")
        if self._taken(fields.name, except_id=policy_id):
            raise AlreadyExists(NAME_TAKEN)
        if (fields.query, fields.platform) != (old.query, old.platform):
            self._forget({policy_id})
        policy = attrs.evolve(old, updated_at=at, **attrs.asdict(fields))
        self.state.policies[policy_id] = policy
        return self._read([policy])[0]

    async def delete_many(self, policy_ids: Sequence[int]) -> builtins.list[int]:
        deleted = sorted(i for i in set(policy_ids) if self.state.policies.pop(i, None) is not None)
        self._forget(set(deleted))
        return deleted

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime, *,
                             dropped: Sequence[int] = ()) -> None:
        table = self.state.host_tables.policy_membership
        if host_id not in self.state.host_tables.hosts:
            return
        answers = dict(table.get(host_id, ()))
        for policy_id in dropped:
            answers.pop(policy_id, None)
        answers.update({i: passes for i, passes in results.items() if i in self.state.policies})
        table[host_id] = tuple(sorted(answers.items()))

    async def host_results(self, host_id: int) -> dict[int, bool | None]:
        return dict(self.state.host_tables.policy_membership.get(host_id, ()))

    async def failing_counts(self, host_ids: Sequence[int]) -> dict[int, int]:
        table = self.state.host_tables.policy_membership
        counts = {i: sum(1 for _, passes in table.get(i, ()) if passes is False) for i in set(host_ids)}
        return {i: n for i, n in counts.items() if n}

    def _forget(self, policy_ids: set[int]) -> None:
        table = self.state.host_tables.policy_membership
        for host_id, answers in list(table.items()):
            if any(i in policy_ids for i, _ in answers):
                table[host_id] = tuple(a for a in answers if a[0] not in policy_ids)

    def _taken(self, name: str, except_id: int | None = None) -> bool:
        return any(p.name == name and p.id != except_id for p in self.state.policies.values())

    def _read(self, policies: builtins.list[Policy]) -> builtins.list[Policy]:
        """With author (joined at read time, as in Postgres) and counts."""
        passing: dict[int, int] = {}
        failing: dict[int, int] = {}
        for answers in self.state.host_tables.policy_membership.values():
            for policy_id, passes in answers:
                if passes is True:
                    passing[policy_id] = passing.get(policy_id, 0) + 1
                elif passes is False:
                    failing[policy_id] = failing.get(policy_id, 0) + 1
        read = []
        for policy in policies:
            author = self.state.users.get(policy.author_id) if policy.author_id is not None else None
            read.append(attrs.evolve(
                policy, author_id=author.id if author else None, author_name=author.name if author else "",
                author_email=author.email if author else "", passing_host_count=passing.get(policy.id, 0),
                failing_host_count=failing.get(policy.id, 0)))
        return read
