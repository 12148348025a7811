"""The composition root: the `fleet` command and the ASGI entries, the one place that knows every
concrete part (settings, embedded backends, the adapters, both transports and the background jobs).

It lives beside the adapters rather than in either transport so that no arrow goes from one
transport to the other; import-linter lets only this package import the transports.
"""
