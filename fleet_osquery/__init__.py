"""fleet_osquery."""
