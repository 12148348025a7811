"""Helpers shared by the service tests."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer

PASSWORD = "correct-horse-9"

MakeUser = Callable[..., Coroutine[Any, Any, Viewer]]


async def make_team(kit: InMemoryKit, name: str) -> int:
    async with kit.store.unit_of_work() as uow:
        team = await uow.teams.add(name=name, description="", at=kit.clock.now())
        await uow.commit()
    return team.id


def token_in(text: str) -> str:
    match = re.search(r"[Tt]oken: (\S+)", text)
    assert match, text
    return match.group(1)
