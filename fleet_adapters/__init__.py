"""fleet_adapters."""
