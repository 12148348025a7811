"""Request and response bodies of the osquery TLS API, as osqueryd sends and expects them.

Structs are lenient: osqueryd versions add fields, so unknown keys are ignored and types that
old agents send differently (statuses as strings, "" instead of []) are accepted as Any and
normalised by the core.
"""

from __future__ import annotations

from typing import Any

import msgspec


class EnrollRequest(msgspec.Struct):
    enroll_secret: str = ""
    host_identifier: str = ""
    platform_type: str = ""
    host_details: dict[str, Any] = msgspec.field(default_factory=dict)


class NodeKeyRequest(msgspec.Struct):
    node_key: str = ""


class DistributedWriteRequest(msgspec.Struct):
    node_key: str = ""
    queries: dict[str, Any] = msgspec.field(default_factory=dict)
    statuses: dict[str, Any] = msgspec.field(default_factory=dict)
    messages: dict[str, Any] = msgspec.field(default_factory=dict)
    stats: dict[str, Any] = msgspec.field(default_factory=dict)


class LogRequest(msgspec.Struct):
    node_key: str = ""
    log_type: str = ""
    # Records stay raw bytes: they are passed through to the log destination as sent.
    data: list[msgspec.Raw] | None = None


class EnrollResponse(msgspec.Struct):
    node_key: str


class DistributedReadResponse(msgspec.Struct, omit_defaults=True):
    queries: dict[str, str]
    discovery: dict[str, str]
    accelerate: int = 0
