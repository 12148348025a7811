"""Policies and the hosts' answers to them."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol

from fleet_core.model.policies import Policy, PolicyFields


class PolicyRepository(Protocol):
    """Policies and the hosts' latest answers to them.

    Names are unique among all policies, global and team alike (a spec names a policy by its name
    alone). Policies are read with the author's name and email and with passing_host_count and
    failing_host_count: the hosts whose stored answer is a pass / a fail (an errored run, stored
    as None, counts in neither). A deleted team takes its policies with it; a deleted policy or
    host takes its answers with it.
    """

    async def get(self, policy_id: int) -> Policy | None:
        """The policy with this id, or None."""
        ...

    async def get_by_name(self, name: str) -> Policy | None:
        """The policy with exactly this name (of any team), or None."""
        ...

    async def list(self, *, team_id: int | None) -> builtins.list[Policy]:
        """The team's policies (team_id None: the global ones), by id."""
        ...

    async def every(self) -> builtins.list[Policy]:
        """Every policy, global and of every team, by id (counts not filled)."""
        ...

    async def add(self, fields: PolicyFields, *, team_id: int | None, author_id: int | None,
                  at: dt.datetime) -> Policy:
        """Insert a policy (created_at = updated_at = at). AlreadyExists if the name is taken,
        NotFound if the team does not exist."""
        ...

    async def update(self, policy_id: int, fields: PolicyFields, at: dt.datetime) -> Policy:
        """Replace the policy's fields (updated_at = at). A changed query or platform drops every
        answer to it, so hosts are asked again. NotFound if the policy does not exist,
        AlreadyExists if another policy has the name."""
        ...

    async def delete_many(self, policy_ids: Sequence[int]) -> builtins.list[int]:
        """Delete these policies with their answers; the ids that existed, ascending."""
        ...

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime, *,
                             dropped: Sequence[int] = ()) -> None:
        """Store a host's answers, each replacing the host's previous answer to that policy
        (True pass, False fail, None errored), and forget its answers to the ``dropped`` policies.
        Unknown policies and hosts are ignored."""
        ...

    async def host_results(self, host_id: int) -> dict[int, bool | None]:
        """The host's stored answers by policy id."""
        ...

    async def failing_counts(self, host_ids: Sequence[int]) -> dict[int, int]:
        """For each of these hosts with at least one failing answer, how many policies it fails."""
        ...
