"""Request and response bodies of osquery's carver (carve/begin and carve/block)."""

from __future__ import annotations

import msgspec


class CarveBeginRequest(msgspec.Struct):
    node_key: str = ""
    block_count: int = 0
    block_size: int = 0
    carve_size: int = 0
    carve_id: str = ""
    request_id: str = ""


class CarveBeginResponse(msgspec.Struct):
    session_id: str
    success: bool = True


class CarveBlockRequest(msgspec.Struct):
    session_id: str = ""
    request_id: str = ""
    block_id: int = -1
    # Base64 of the raw block bytes; decoded (and rejected when invalid) by the core.
    data: str = ""


class CarveBlockResponse(msgspec.Struct):
    success: bool = True
