"""In-memory EnrollSecretRepository."""

from __future__ import annotations

import builtins
import datetime as dt
import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.secrets import EnrollSecret

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import _State


@attrs.define
class InMemoryEnrollSecretRepository:
    state: _State

    async def list(self, team_id: int | None) -> list[EnrollSecret]:
        # Same order as the Postgres adapter: creation time, then the secret itself.
        found = [s for s in self.state.enroll_secrets.values() if s.team_id == team_id]
        return sorted(found, key=lambda s: (s.created_at, s.secret))

    async def replace(
        self, team_id: int | None, secrets: Sequence[str], at: dt.datetime
    ) -> builtins.list[EnrollSecret]:
        if team_id is not None and team_id not in self.state.teams:
            raise NotFound(f"Team with id={team_id} was not found in the datastore")
        for secret in secrets:
            owner = self.state.enroll_secrets.get(secret)
            if owner is not None and owner.team_id != team_id:
                raise AlreadyExists("enroll secret is already in use")
        keep = set(secrets)
        for secret, existing in list(self.state.enroll_secrets.items()):
            if existing.team_id == team_id and secret not in keep:
                del self.state.enroll_secrets[secret]
        for secret in secrets:
            self.state.enroll_secrets.setdefault(secret, EnrollSecret(secret=secret, team_id=team_id, created_at=at))
        return await self.list(team_id)

    async def find(self, secret: str) -> EnrollSecret | None:
        # Every stored secret is compared in constant time, as the Postgres twin compares digests:
        # how long a lookup takes must say nothing about how much of a secret a guess got right.
        presented = secret.encode()
        found = None
        for stored, value in self.state.enroll_secrets.items():
            if hmac.compare_digest(stored.encode(), presented):
                found = value
        return found

    async def all(self) -> builtins.list[EnrollSecret]:
        return [self.state.enroll_secrets[s] for s in sorted(self.state.enroll_secrets)]
