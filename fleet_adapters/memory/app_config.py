"""In-memory AppConfigRepository: one document, copied in and out because its agent options are
plain (mutable) dicts."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import attrs

from fleet_core.model.config import AppConfig

if TYPE_CHECKING:
    from fleet_adapters.memory.uow import _State


@attrs.define
class InMemoryAppConfigRepository:
    state: _State

    async def get(self) -> AppConfig:
        return copy.deepcopy(self.state.app_config) if self.state.app_config else AppConfig()

    async def save(self, config: AppConfig) -> None:
        self.state.app_config = copy.deepcopy(config)

    async def lock(self) -> AppConfig:
        # The store's lock already serialises units of work.
        return await self.get()
