"""The osquery TLS API (a Litestar app: app, handlers, deps, errors, codec, schemas) and the agent simulator (sim/)."""
