"""ASGI entry for the osquery API alone: ``uvicorn fleet_adapters.serve.osquery:app``.

Needs FLEET_DATABASE_URL and FLEET_REDIS_URL; `fleet serve` is the way to run everything with
embedded backends, TLS and the management API on the same port.
"""

from __future__ import annotations

from fleet_adapters.serve.process import serving
from fleet_adapters.settings import load_settings
from fleet_osquery.app import create_app

settings = load_settings({})
app = create_app(lambda: serving(settings))
