"""The keys each listing may be ordered by (``order_key`` in Fleet's list options).

Transports reject other keys; adapters map each key to a column and assert at import that the
mapping covers exactly these sets.
"""

from __future__ import annotations

from typing import Final

USER_ORDER_KEYS: Final = frozenset(
    {"id", "name", "email", "created_at", "updated_at", "global_role", "api_only", "sso_enabled", "position"}
)
INVITE_ORDER_KEYS: Final = frozenset({"id", "name", "email", "created_at", "updated_at", "global_role", "position"})
TEAM_ORDER_KEYS: Final = frozenset({"id", "name", "description", "created_at"})
ACTIVITY_ORDER_KEYS: Final = frozenset({"id", "created_at", "type", "actor_id", "actor_full_name", "actor_email"})
LABEL_ORDER_KEYS: Final = frozenset({"id", "name", "description", "created_at", "updated_at", "platform", "label_type"})
QUERY_ORDER_KEYS: Final = frozenset({
    "id", "name", "description", "query", "created_at", "updated_at", "author_id", "observer_can_run", "interval",
    "platform", "team_id", "logging", "automations_enabled",
})
PACK_ORDER_KEYS: Final = frozenset({"id", "name", "description", "created_at", "updated_at", "disabled"})
HOST_ORDER_KEYS: Final = frozenset({
    "id", "hostname", "computer_name", "display_name", "created_at", "updated_at", "seen_time", "detail_updated_at",
    "label_updated_at", "last_enrolled_at", "platform", "os_version", "osquery_version", "uuid", "hardware_serial",
    "hardware_model", "primary_ip", "public_ip", "memory", "uptime", "team_id", "team_name",
    "gigs_disk_space_available", "percent_disk_space_available", "cpu_type",
})
# The vulnerability keys are accepted as Fleet does; without vulnerability data they order by id.
SOFTWARE_ORDER_KEYS: Final = frozenset({"name", "hosts_count", "cvss_score", "epss_probability", "cisa_known_exploit"})
