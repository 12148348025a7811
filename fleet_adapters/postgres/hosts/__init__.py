"""Postgres implementation of the host ports, one module per repository: identity (enrollment,
check-ins, detail-query facts), inventory (listing, details, targeting, search) and aggregates,
over the shared host columns and the host-filter WHERE builder (filters.host_filter_where).

The host-list rules shared with the in-memory adapter live in fleet_core.rules.host_storage.
"""

from fleet_adapters.postgres.hosts.aggregates import PgHostAggregateRepository
from fleet_adapters.postgres.hosts.columns import (
    AFTER_TIME,
    AFTER_VALUES,
    HOST_FROM,
    HOST_JOINS,
    HOST_SELECT_LIST,
    ORDER_COLUMNS,
    SEEN,
    SELECT_HOSTS,
    fetch_rows,
    row_to_host,
)
from fleet_adapters.postgres.hosts.filters import (
    MISSING,
    NEW,
    OFFLINE,
    ONLINE,
    host_filter_where,
    status_bounds,
    visibility,
)
from fleet_adapters.postgres.hosts.identity import PgHostRepository
from fleet_adapters.postgres.hosts.inventory import PgHostInventoryRepository

# The private names of the single module this package replaced, so code written against it keeps
# importing; new code uses the public names.
_where = host_filter_where
_row_to_host = row_to_host
_status_bounds = status_bounds
_visibility = visibility

__all__ = [
    "AFTER_TIME",
    "AFTER_VALUES",
    "HOST_FROM",
    "HOST_JOINS",
    "HOST_SELECT_LIST",
    "MISSING",
    "NEW",
    "OFFLINE",
    "ONLINE",
    "ORDER_COLUMNS",
    "SEEN",
    "SELECT_HOSTS",
    "PgHostAggregateRepository",
    "PgHostInventoryRepository",
    "PgHostRepository",
    "fetch_rows",
    "host_filter_where",
    "row_to_host",
    "status_bounds",
    "visibility",
]
