"""ASGI entry for the management API alone: ``uvicorn fleet_http.main:app``.

Needs FLEET_DATABASE_URL and FLEET_REDIS_URL; `fleet serve` is the way to run everything with
embedded backends, TLS and the osquery API on the same port.
"""

from __future__ import annotations

from fleet_adapters.bootstrap import open_services
from fleet_adapters.settings import load_settings
from fleet_http.app import create_app

settings = load_settings({})
app = create_app(lambda: open_services(settings))
