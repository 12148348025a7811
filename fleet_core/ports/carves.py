"""File carving sessions and their blocks."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any, Protocol

from fleet_core.model.carves import Carve, NewCarve
from fleet_core.rules.paging import ListOptions


class CarveRepository(Protocol):
    """File-carve sessions and their blocks.

    A carve belongs to a host and goes with it (Fleet's ON DELETE CASCADE): a deleted host's
    carves are never read again. Blocks are numbered from 0 and stored strictly in order;
    ``max_block`` is the highest stored (-1 before the first). An expired carve keeps its
    metadata but not its blocks.
    """

    async def add(self, carve: NewCarve) -> Carve:
        """Insert a carve (expired False, max_block -1, no error). NotFound if the host does not
        exist, AlreadyExists if the session_id is taken."""
        ...

    async def get(self, carve_id: int) -> Carve | None:
        """The carve with this id, or None."""
        ...

    async def get_by_session(self, session_id: str) -> Carve | None:
        """The carve with this session_id, or None."""
        ...

    async def list(self, options: ListOptions, *, expired: bool, after: Any = None) -> builtins.list[Carve]:
        """Carves paged and ordered by ``options`` (keys: rules.carves.CARVE_ORDER_KEYS; none: by
        id); expired ones only when ``expired``. ``after`` (a value of the order key's type, only
        with an order key) keeps the carves whose key sorts strictly after it in the direction."""
        ...

    async def append_block(self, carve_id: int, block_id: int, data: bytes) -> bool:
        """Store block ``block_id`` and make it max_block, if it is max_block + 1 of an unexpired
        carve; whether it did (a concurrent writer may have taken the slot)."""
        ...

    async def block(self, carve_id: int, block_id: int) -> bytes | None:
        """A stored block's bytes, or None."""
        ...

    async def set_error(self, carve_id: int, error: str) -> None:
        """Record the latest error of the carve's session; unknown ids are ignored."""
        ...

    async def expire(self, *, created_before: dt.datetime, limit: int) -> int:
        """Mark up to ``limit`` unexpired carves created before the moment as expired, oldest
        first, and delete their blocks; how many were marked."""
        ...
