"""``fleetctl``: Fleet's command line over the typed client (fleet_http.client); see docs/fleetctl.md."""
