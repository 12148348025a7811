"""What every serving process opens: the services over the configured backends, with the
process's background jobs running for as long as they are open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fleet_adapters.bootstrap import open_services
from fleet_adapters.settings import Settings
from fleet_core.services import Services
from fleet_core.services.jobs import running_jobs


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as services, running_jobs(services):
        yield services
