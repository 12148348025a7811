"""The osquery TLS API app over the in-memory kit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from fleet_adapters.memory import InMemoryKit, in_memory_kit
from fleet_core.model.runtime import AgentSettings, ServerRuntime
from fleet_core.services.jobs import running_jobs
from fleet_osquery.app import create_app

SECRET = "global-enroll-secret"


@pytest.fixture
def agent_settings() -> AgentSettings:
    return AgentSettings()


@pytest.fixture
def kit(agent_settings: AgentSettings) -> InMemoryKit:
    return in_memory_kit(runtime=ServerRuntime(agents=agent_settings))


@pytest.fixture
async def client(kit: InMemoryKit) -> AsyncIterator[AsyncTestClient[Any]]:
    async with kit.store.unit_of_work() as uow:
        await uow.enroll_secrets.replace(None, [SECRET], kit.clock.now())
        await uow.commit()

    @asynccontextmanager
    async def services() -> AsyncIterator[Any]:
        # The background jobs (the seen-time flush among them) run as in a serving process.
        async with running_jobs(kit.services):
            yield kit.services

    async with AsyncTestClient(create_app(services)) as test_client:
        yield test_client
