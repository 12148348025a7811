"""Wire shapes of the management API (Fleet's field names) and the mapping from core models:
one module per slice, named like its controller in fleet_http.controllers, plus ``common``
for what the slices share."""
