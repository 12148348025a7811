from fleet_http.fleetctl.cli import main

main()
