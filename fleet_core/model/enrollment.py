"""The outcome of enrolling an agent."""

from __future__ import annotations

import attrs

from fleet_core.model.hosts import Host


@attrs.frozen
class Enrollment:
    host: Host
    created: bool  # False: an existing host (same osquery_host_id) re-enrolled
