"""`python -m fleet_osquery.sim`."""

from fleet_osquery.sim.cli import main

raise SystemExit(main())
