"""Wire shapes of the osquery TLS API, one module per slice (agents' check-ins, file carving)."""
