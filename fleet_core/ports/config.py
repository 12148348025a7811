"""The app configuration and the enroll secrets."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from fleet_core.model.config import AppConfig
from fleet_core.model.secrets import EnrollSecret


class AppConfigRepository(Protocol):
    async def get(self) -> AppConfig:
        """The stored configuration, or the defaults if none was ever saved."""
        ...

    async def save(self, config: AppConfig) -> None:
        """Replace the stored configuration."""
        ...

    async def lock(self) -> AppConfig:
        """Like get(), but holds the configuration for update until the unit of work ends,
        so concurrent read-modify-write cycles serialise instead of losing updates."""
        ...


class EnrollSecretRepository(Protocol):
    async def list(self, team_id: int | None) -> list[EnrollSecret]:
        """The secrets of a team (None: the global ones), oldest first, then by secret."""
        ...

    async def replace(
        self, team_id: int | None, secrets: Sequence[str], at: dt.datetime
    ) -> builtins.list[EnrollSecret]:
        """Make ``secrets`` the whole set for the team (None: global). Secrets already present
        keep their created_at. Raises AlreadyExists if a secret belongs to another team,
        NotFound if the team does not exist."""
        ...

    async def find(self, secret: str) -> EnrollSecret | None:
        """The enroll secret with exactly this value, or None. How long it takes must not depend
        on how much of a stored secret the value matches (a guesser may time it)."""
        ...

    async def all(self) -> builtins.list[EnrollSecret]:
        """Every secret, global and of every team, by secret."""
        ...
