"""The lock a run of one of Fleet's cron schedules holds, shared by every server process."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol


class ScheduleLock(Protocol):
    def hold(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Try, without waiting, to take the lock of schedule ``name`` for the block.

        Yields True when taken: no other holder (in this process or, for a shared adapter, any
        process on the same database) can take it until the block exits, which releases it
        whether the block ends normally, raises or is cancelled. Yields False when someone else
        holds it; the block then runs without it. Locks of different names are independent.
        """
        ...
