"""In-memory implementations of the host ports, mirroring fleet_adapters.postgres.hosts one module
per repository (the shared rules are in fleet_core.rules.host_storage)."""

from fleet_adapters.memory.hosts.aggregates import InMemoryHostAggregateRepository
from fleet_adapters.memory.hosts.identity import InMemoryHostRepository
from fleet_adapters.memory.hosts.inventory import InMemoryHostInventoryRepository
from fleet_adapters.memory.hosts.tables import HostTables, seed_builtin_labels

__all__ = [
    "HostTables",
    "InMemoryHostAggregateRepository",
    "InMemoryHostInventoryRepository",
    "InMemoryHostRepository",
    "seed_builtin_labels",
]
