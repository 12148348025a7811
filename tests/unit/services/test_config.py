"""App configuration and enroll secrets."""

from __future__ import annotations

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import AlreadyExists, BadRequest, InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.config import MASKED_PASSWORD
from fleet_core.rules.paging import ListOptions
from tests.unit.services.support import MakeUser, make_team

pytestmark = pytest.mark.anyio

SMTP = {"enable_smtp": True, "server": "mail.example.com", "sender_address": "fleet@example.com",
        "user_name": "fleet", "password": "s3cret"}


async def test_enabling_smtp_sends_a_test_mail_and_marks_it_configured(kit: InMemoryKit, admin: Viewer) -> None:
    shown = await kit.services.config.modify(admin, {"smtp_settings": SMTP})
    assert shown.smtp_settings.configured
    assert shown.smtp_settings.password == MASKED_PASSWORD
    assert kit.mailer.sent[-1].to == "admin@example.com"
    assert (await kit.services.config.current()).smtp_settings.password == "s3cret"
    # Echoing GET /config back must not store the mask.
    await kit.services.config.modify(admin, {"smtp_settings": {**SMTP, "password": MASKED_PASSWORD}})
    assert (await kit.services.config.current()).smtp_settings.password == "s3cret"


async def test_a_failing_test_mail_rejects_the_settings_and_stores_nothing(kit: InMemoryKit, admin: Viewer) -> None:
    kit.mailer.unavailable = True
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.config.modify(admin, {"smtp_settings": SMTP, "org_info": {"org_name": "Changed"}})
    assert caught.value.problems[0][0] == "SMTP Options"
    config = await kit.services.config.current()
    assert (config.smtp_settings.enable_smtp, config.org_info.org_name) == (False, "Acme")


async def test_invalid_patches_are_rejected_whole(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(BadRequest):
        await kit.services.config.modify(admin, {"org_info": {"org_name": "New"}, "server_settings": {"x": 1}})
    with pytest.raises(InvalidArgument):
        await kit.services.config.modify(admin, {"org_info": {"org_name": "New"},
                                                 "host_expiry_settings": {"host_expiry_enabled": True}})
    assert (await kit.services.config.current()).org_info.org_name == "Acme"


async def test_only_admins_change_the_config(kit: InMemoryKit, make_user: MakeUser) -> None:
    maintainer = await make_user(global_role="maintainer")
    await kit.services.config.get(maintainer)
    with pytest.raises(PermissionDenied):
        await kit.services.config.modify(maintainer, {"org_info": {"org_name": "Mine"}})


async def test_editing_agent_options_is_an_activity(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.modify(admin, {"agent_options": {"config": {"options": {"distributed_interval": 5}}}})
    types = [a.type for a in await kit.services.activities.list(admin, ListOptions())]
    assert "edited_agent_options" in types


async def test_replacing_secrets_keeps_survivors_and_drops_the_rest(kit: InMemoryKit, admin: Viewer) -> None:
    first = await kit.services.config.replace_enroll_secrets(admin, ["alpha", "beta"])
    kept = await kit.services.config.replace_enroll_secrets(admin, ["beta", "gamma"])
    assert sorted(s.secret for s in kept) == ["beta", "gamma"]
    assert next(s for s in kept if s.secret == "beta").created_at == next(
        s for s in first if s.secret == "beta").created_at
    assert await kit.services.config.replace_enroll_secrets(admin, []) == []


async def test_a_dry_run_checks_everything_and_keeps_nothing(kit: InMemoryKit, admin: Viewer) -> None:
    team = await make_team(kit, "Apples")
    await kit.services.config.replace_enroll_secrets(admin, ["team-secret"], team)
    with pytest.raises(AlreadyExists):
        await kit.services.config.replace_enroll_secrets(admin, ["team-secret"], dry_run=True)
    await kit.services.config.replace_enroll_secrets(admin, ["fresh"], dry_run=True)
    assert await kit.services.config.enroll_secrets(admin) == []


@pytest.mark.parametrize(("secrets", "field"), [
    ([""], "secret"), (["a", "a"], "secrets"), ([str(i) for i in range(51)], "secrets"), (["x" * 256], "secret")])
async def test_bad_secret_lists_are_refused(kit: InMemoryKit, admin: Viewer, secrets: list[str], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.config.replace_enroll_secrets(admin, secrets)
    assert caught.value.problems[0][0] == field


async def test_team_secrets_belong_to_team_writers(kit: InMemoryKit, make_user: MakeUser) -> None:
    apples, pears = await make_team(kit, "Apples"), await make_team(kit, "Pears")
    maintainer = await make_user(teams=[(apples, "maintainer")])
    observer = await make_user(teams=[(apples, "observer")])
    await kit.services.config.replace_enroll_secrets(maintainer, ["apples-1"], apples)
    assert [s.secret for s in await kit.services.config.enroll_secrets(maintainer, apples)] == ["apples-1"]
    for viewer, team in ((maintainer, pears), (observer, apples), (maintainer, None)):
        with pytest.raises(PermissionDenied):
            await kit.services.config.enroll_secrets(viewer, team)
    with pytest.raises(NotFound):
        await kit.services.config.enroll_secrets(maintainer, 999)
