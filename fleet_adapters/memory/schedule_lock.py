"""ScheduleLock within one process: enough for library use and a single server process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs


@attrs.define
class InMemoryScheduleLock:
    held: set[str] = attrs.field(factory=set)

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        # No await between the check and the add, so two holders cannot both take it.
        if name in self.held:
            yield False
            return
        self.held.add(name)
        try:
            yield True
        finally:
            self.held.discard(name)
