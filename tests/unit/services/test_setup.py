"""First-run setup (fleet_core.services.setup): what the first run stores.

That setup runs once, serialises concurrent attempts and names every invalid field is tested in
test_users_and_invites.py."""

from __future__ import annotations

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.errors import InvalidArgument
from fleet_core.model.users import Role
from fleet_core.rules.paging import ListOptions
from fleet_core.services.setup import SetupInput
from tests.unit.services.support import PASSWORD

pytestmark = pytest.mark.anyio


def setup_input(**changes: object) -> SetupInput:
    values: dict[str, object] = {
        "name": " First Admin ", "email": " first@example.com ", "password": PASSWORD,
        "password_confirmation": PASSWORD, "org_name": " Acme ", "server_url": "https://fleet.example.com/"}
    return SetupInput(**{**values, **changes})  # type: ignore[arg-type]


async def test_setup_creates_a_logged_in_admin_and_the_organisation(kit: InMemoryKit) -> None:
    result = await kit.services.setup.setup(setup_input(org_logo_url="https://acme.example/logo.png"))
    assert (result.admin.name, result.admin.email, result.admin.global_role) == (
        "First Admin", "first@example.com", Role.ADMIN)
    viewer = await kit.services.auth.authenticate(result.token)
    assert viewer.user.id == result.admin.id
    config = await kit.services.config.get(viewer)
    assert (config.org_info.org_name, config.org_info.org_logo_url, config.server_settings.server_url) == (
        "Acme", "https://acme.example/logo.png", "https://fleet.example.com")
    [activity] = await kit.services.activities.list(viewer, ListOptions())
    assert (activity.type, activity.actor_id, activity.details) == ("created_user", result.admin.id, {
        "user_id": result.admin.id, "user_name": "First Admin", "user_email": "first@example.com"})


async def test_the_confirmation_may_be_left_out_but_not_differ(kit: InMemoryKit) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.setup.setup(setup_input(password_confirmation=PASSWORD + "x"))
    assert [n for n, _ in caught.value.problems] == ["admin.password_confirmation"]
    await kit.services.setup.setup(setup_input(password_confirmation=None))
    assert not await kit.services.setup.required()


@pytest.mark.parametrize("url", ["fleet.example.com", "ftp://fleet.example.com", "https://"])
async def test_the_server_url_needs_an_http_scheme_and_a_host(kit: InMemoryKit, url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.setup.setup(setup_input(server_url=url))
    assert [n for n, _ in caught.value.problems] == ["server_url"]
