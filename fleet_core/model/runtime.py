"""Facts about the running server that the API reports but users cannot change through it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from fleet_core.model.vulnerability_settings import VulnerabilitiesConfig


@attrs.frozen
class AgentSettings:
    """The `--osquery-*` options: how the server treats agents."""

    host_identifier: str = "provided"  # provided / instance / uuid / hostname
    enroll_cooldown: dt.timedelta = dt.timedelta(0)
    detail_update_interval: dt.timedelta = dt.timedelta(hours=1)
    label_update_interval: dt.timedelta = dt.timedelta(hours=1)
    policy_update_interval: dt.timedelta = dt.timedelta(hours=1)
    max_jitter_percent: int = 10
    # How long a process trusts what it cached about a host without hearing of a change. Every
    # change is announced on the invalidation bus, so this is only a backstop.
    host_cache_ttl: dt.timedelta = dt.timedelta(hours=1)
    seen_flush_interval: dt.timedelta = dt.timedelta(seconds=5)
    # Sent to agents as the carver_block_size option (with the carver endpoints) unless their agent
    # options set it. 2 MiB is what Fleet recommends for a database store; S3 multipart parts need
    # 5 MiB (docs/file-carving.md says what smaller blocks mean there).
    carver_block_size: int = 2 * 1024 * 1024


@attrs.frozen
class CarveSettings:
    """The `--carves-*` options: what carve/begin accepts."""

    # Fleet's limits (server/service/carves.go).
    max_block_size: int = 256 * 1024 * 1024
    max_carve_size: int = 8 * 1024 * 1024 * 1024


@attrs.frozen
class ServerRuntime:
    session_duration: dt.timedelta = dt.timedelta(days=5)
    logging_debug: bool = False
    logging_json: bool = False
    # {"plugin": ..., "config": {...}} for results and for status logs, as GET /config shows them.
    result_logging: dict[str, Any] = attrs.field(factory=lambda: {"plugin": "filesystem", "config": {}})
    status_logging: dict[str, Any] = attrs.field(factory=lambda: {"plugin": "filesystem", "config": {}})
    agents: AgentSettings = AgentSettings()
    carves: CarveSettings = CarveSettings()
    # PEM chain the server presents over TLS; None when serving plain HTTP.
    certificate_chain: str | None = None
    # Where password-reset and invite links point when server_url is not configured yet.
    default_server_url: str = ""
    # How long the synchronous live query endpoints wait for answers (FLEET_LIVE_QUERY_REST_PERIOD).
    live_query_rest_period: dt.timedelta = dt.timedelta(seconds=25)
    # The --vulnerabilities-* options (GET /config's vulnerabilities block, the vulnerability job).
    vulnerabilities: VulnerabilitiesConfig = attrs.field(factory=VulnerabilitiesConfig)
    # How long a device token (Fleet Desktop's credential) stays valid after it is issued or
    # refreshed (FLEET_DEVICE_TOKEN_TTL; Fleet's is one hour).
    device_token_ttl: dt.timedelta = dt.timedelta(hours=1)
