"""Pure rules of file carving: which carve/begin sizes are acceptable, the carve's name, and the
list parameters of GET /carves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fleet_core.errors import InvalidArgument

# Fleet's limits (server/service/carves.go), the defaults of the --carves-max-* flags: a block must
# fit in one request and one database row, and a carve in a bounded number of them.
MAX_BLOCK_SIZE = 256 * 1024 * 1024
MAX_CARVE_SIZE = 8 * 1024 * 1024 * 1024
# Fleet stores carve_id and request_id as varchar(64); longer values are no osquery's.
MAX_ID_LENGTH = 64

# Where osquery's carver posts (relative to its TLS host), sent in every agent configuration.
CARVER_START_ENDPOINT = "/api/v1/osquery/carve/begin"
CARVER_CONTINUE_ENDPOINT = "/api/v1/osquery/carve/block"

CARVE_ORDER_TYPES: dict[str, str] = {
    "id": "integer", "host_id": "integer", "block_count": "integer", "block_size": "integer",
    "carve_size": "integer", "max_block": "integer", "created_at": "time", "name": "text",
    "carve_id": "text", "request_id": "text",
}
CARVE_ORDER_KEYS = frozenset(CARVE_ORDER_TYPES)


def begin_problem(block_count: int, block_size: int, carve_size: int, *, max_block_size: int = MAX_BLOCK_SIZE,
                  max_carve_size: int = MAX_CARVE_SIZE) -> str | None:
    """Why carve/begin must refuse these sizes (Fleet's message), or None when they are sound.

    Sound means: a positive size within the limits, split into exactly ``block_count`` blocks of
    ``block_size`` bytes with only the last one short.
    """
    if carve_size <= 0:
        return "carve_size must be greater than 0"
    if block_size > max_block_size:
        return "block_size exceeds max"
    if carve_size > max_carve_size:
        return "carve_size exceeds max"
    if not (block_count - 1) * block_size < carve_size <= block_count * block_size:
        return "carve_size does not match block_size and block_count"
    return None


def with_carver_options(config: dict[str, Any], carver_block_size: int) -> dict[str, Any]:
    """The agent configuration with the carver's endpoints and block size among its options, each
    only where the agent options do not set it already (theirs win, as an operator's choice).

    osqueryd itself takes these only as command-line flags (CLI-only in osquery); in the
    configuration they tell the simulator and other agents that read them, and document what the
    flags should say (docs/file-carving.md)."""
    options = config.get("options")
    if options is not None and not isinstance(options, dict):
        return config  # not a config osquery would read; leave it as the operator wrote it
    return {**config, "options": {**carver_options(carver_block_size), **(options or {})}}


def carver_options(carver_block_size: int) -> dict[str, Any]:
    """The osquery options that point the carver at this server, with its block size."""
    return {"carver_start_endpoint": CARVER_START_ENDPOINT, "carver_continue_endpoint": CARVER_CONTINUE_ENDPOINT,
            "carver_block_size": carver_block_size}


def carve_name(hostname: str, created_at: dt.datetime, request_id: str) -> str:
    """``<hostname>-<created_at, RFC 3339 UTC to the second>-<request_id>``, as Fleet names carves."""
    stamp = created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{hostname}-{stamp}-{request_id}"


def parse_after(order_key: str | None, after: str | None) -> Any:
    """``after`` as a value of the order key's type (None when not given).

    Raises:
        InvalidArgument: ``after`` without order_key, or not a value of the key's type.
    """
    if after is None or after == "":
        return None
    if order_key is None:
        raise InvalidArgument(("after", "requires order_key"))
    kind = CARVE_ORDER_TYPES[order_key]
    try:
        if kind == "integer":
            value = int(after)
            if not -(2**63) <= value < 2**63:
                raise ValueError(after)
            return value
        if kind == "time":
            moment = dt.datetime.fromisoformat(after)
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    except ValueError:
        raise InvalidArgument(("after", f"must be a valid {kind} value for order_key {order_key}")) from None
    return after
