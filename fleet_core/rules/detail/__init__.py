"""Building blocks of the detail-query catalogue; import the public API from fleet_core.rules.detail_queries."""
