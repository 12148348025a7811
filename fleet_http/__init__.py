"""fleet_http."""
