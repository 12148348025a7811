"""File carves: the metadata of a carve session an agent opened, and its blocks by number."""

from __future__ import annotations

import datetime as dt

import attrs


@attrs.frozen
class NewCarve:
    """What carve/begin stores; the id, expired flag and max_block are the repository's."""

    host_id: int
    created_at: dt.datetime
    name: str
    block_count: int
    block_size: int
    carve_size: int
    carve_id: str
    request_id: str
    session_id: str


@attrs.frozen
class Carve:
    """A carve session. ``max_block`` is the highest block stored so far (-1: none yet); blocks
    arrive strictly in order, so every block up to it is stored unless the carve has expired."""

    id: int
    host_id: int
    created_at: dt.datetime
    name: str
    block_count: int
    block_size: int
    carve_size: int
    carve_id: str
    request_id: str
    session_id: str
    expired: bool = False
    max_block: int = -1
    error: str | None = None
