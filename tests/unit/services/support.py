"""Helpers shared by the service tests."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from hypothesis import settings

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.model.activities import Activity
from fleet_core.model.hosts import Host
from fleet_core.rules.paging import ListOptions
from fleet_core.services.setup import SetupInput

PASSWORD = "correct-horse-9"

MakeUser = Callable[..., Coroutine[Any, Any, Viewer]]


async def make_team(kit: InMemoryKit, name: str) -> int:
    async with kit.store.unit_of_work() as uow:
        team = await uow.teams.add(name=name, description="", at=kit.clock.now())
        await uow.commit()
    return team.id


def token_in(text: str) -> str:
    match = re.search(r"[Tt]oken: (\S+)", text)
    assert match, text
    return match.group(1)


ENROLL_SECRET = "service-tests-enroll-secret"


async def enroll_host(kit: InMemoryKit, admin: Viewer, identifier: str, *, team_id: int | None = None,
                      platform: str = "ubuntu") -> Host:
    """Enroll an agent through the agent service (the global secret), then move it to ``team_id``
    by transfer, as an admin would."""
    if not await kit.services.config.enroll_secrets(admin):
        await kit.services.config.replace_enroll_secrets(admin, [ENROLL_SECRET])
    node_key = await kit.services.agents.enroll(
        enroll_secret=ENROLL_SECRET, host_identifier=identifier,
        host_details={"system_info": {"hostname": identifier, "uuid": f"uuid-{identifier}"},
                      "os_version": {"platform": platform, "name": platform.title(), "version": "1.0"}})
    host = await kit.services.agents.authenticate(node_key)
    if team_id is not None:
        await kit.services.hosts.transfer(admin, team_id, ids=[host.id])
        host = await kit.services.agents.authenticate(node_key)
    return host


async def create_team(kit: InMemoryKit, admin: Viewer, name: str) -> int:
    """A team made through the team service (unlike make_team, which writes to the store)."""
    return (await kit.services.teams.create(admin, name=name)).team.id


async def activity_types(kit: InMemoryKit, viewer: Viewer) -> list[str]:
    """The activity feed's types, oldest first."""
    return [a.type for a in await kit.services.activities.list(viewer, ListOptions(order_key="id", per_page=1000))]


async def last_activity(kit: InMemoryKit, viewer: Viewer) -> Activity:
    """The most recent activity."""
    return (await kit.services.activities.list(viewer, ListOptions(order_key="id", order_direction="desc")))[0]


class Announcements:
    """What the services told the invalidation bus: host ids per announcement, config changes."""

    def __init__(self, kit: InMemoryKit) -> None:
        self.hosts: list[tuple[int, ...]] = []
        self.config_changes = 0
        kit.services.bus.subscribe(lambda ids: self.hosts.append(tuple(ids)))
        kit.services.bus.subscribe_config(self._config_changed)

    def _config_changed(self) -> None:
        self.config_changes += 1

    @property
    def host_ids(self) -> set[int]:
        return {host_id for ids in self.hosts for host_id in ids}


async def first_admin(kit: InMemoryKit) -> Viewer:
    """Run first-time setup on a kit a test built itself (with its own runtime) and return the admin."""
    result = await kit.services.setup.setup(SetupInput(
        name="Admin", email="admin@example.com", password=PASSWORD, password_confirmation=PASSWORD,
        org_name="Acme", server_url="https://fleet.example.com"))
    return await kit.services.auth.authenticate(result.token)


# Hypothesis properties of pure rules run without a per-example deadline: on a loaded machine a
# slow example is not a failure of the rule.
no_deadline = settings(deadline=None)
