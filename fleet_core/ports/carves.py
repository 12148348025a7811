"""File carving sessions (their metadata, in the unit of work) and the store of their blocks."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection
from typing import Any, Protocol

from fleet_core.model.carves import Carve, NewCarve
from fleet_core.rules.paging import ListOptions


class CarveRepository(Protocol):
    """File-carve sessions and which of their blocks have been acknowledged.

    A carve belongs to a host and goes with it (Fleet's ON DELETE CASCADE): a deleted host's
    carves are never read again. Blocks are numbered from 0 and acknowledged strictly in order;
    ``max_block`` is the highest acknowledged (-1 before the first). The bytes themselves live in
    a CarveStore; the repository keeps each acknowledged block's sha256, so that a retried block
    can be told from a different one.
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

    async def for_host_request(self, host_id: int, request_id: str) -> Carve | None:
        """The host's newest carve begun for this request_id, or None."""
        ...

    async def host_team(self, carve_id: int) -> int | None:
        """The team of the carve's host (None: no team, or no such carve)."""
        ...

    async def list(self, options: ListOptions, *, expired: bool, after: Any = None,
                   team_ids: Collection[int] | None = None) -> builtins.list[Carve]:
        """Carves paged and ordered by ``options`` (keys: rules.carves.CARVE_ORDER_KEYS; none: by
        id); expired ones only when ``expired``; only those of hosts in ``team_ids`` unless it is
        None. ``after`` (a value of the order key's type, only with an order key) keeps the carves
        whose key sorts strictly after it in the direction."""
        ...

    async def claim_block(self, carve_id: int, block_id: int, sha256: bytes, at: dt.datetime) -> bool:
        """Acknowledge block ``block_id`` with its digest and make it max_block, if it is
        max_block + 1 of an unexpired carve (block 0 also sets first_block_at to ``at``); whether
        it did (a concurrent writer may have taken the slot)."""
        ...

    async def block_digest(self, carve_id: int, block_id: int) -> bytes | None:
        """The sha256 an acknowledged block was stored with, or None."""
        ...

    async def set_error(self, carve_id: int, error: str) -> None:
        """Record the latest error of the carve's session; unknown ids are ignored."""
        ...

    async def due_for_expiry(self, *, before: dt.datetime, limit: int) -> builtins.list[Carve]:
        """Up to ``limit`` unexpired carves whose first block arrived before the moment or, never
        having had one, that began before it; oldest first."""
        ...

    async def mark_expired(self, carve_ids: Collection[int]) -> int:
        """Mark these carves expired and forget their block digests; how many changed."""
        ...


class CarveStore(Protocol):
    """The bytes of carve blocks (Postgres rows or an S3-compatible bucket), outside any unit of
    work: a block is written here first and acknowledged in the repository afterwards, so a
    block the agent was told is stored always is.

    Every method raises fleet_core.errors.Unavailable when the store cannot be reached or fails.
    """

    async def put_block(self, carve: Carve, block_id: int, data: bytes) -> None:
        """Store block ``block_id`` of the carve, replacing whatever an earlier attempt stored
        under that id. Blocks arrive in order; the last one (block_count - 1) completes the carve."""
        ...

    async def get_block(self, carve: Carve, block_id: int) -> bytes | None:
        """A stored block's bytes, or None when the store cannot serve it (never stored, deleted,
        or, for stores that only read finished carves, the carve is not complete yet)."""
        ...

    async def delete(self, carve: Carve) -> None:
        """Delete every block of the carve (and any unfinished upload); deleting twice is fine."""
        ...
