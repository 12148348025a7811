"""Login, sessions and the password flows."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.authz import Viewer
from fleet_core.errors import (
    AuthFailed,
    InvalidArgument,
    NotConfigured,
    NotFound,
    PasswordResetRequired,
    RateLimited,
)
from fleet_core.rules.paging import ListOptions
from tests.unit.services.support import PASSWORD, MakeUser, token_in

pytestmark = pytest.mark.anyio


async def enable_smtp(kit: InMemoryKit, admin: Viewer) -> None:
    await kit.services.config.modify(admin, {"smtp_settings": {
        "enable_smtp": True, "server": "mail.example.com", "sender_address": "fleet@example.com",
        "authentication_type": "authtype_none"}})


async def test_login_returns_a_token_that_authenticates_the_user(kit: InMemoryKit, admin: Viewer) -> None:
    user, token = await kit.services.auth.login("ADMIN@example.com", PASSWORD)
    assert user.id == admin.user.id
    assert len(token) >= 43
    assert (await kit.services.auth.authenticate(token)).user.id == admin.user.id


async def test_a_wrong_password_fails_and_is_recorded(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(AuthFailed):
        await kit.services.auth.login("admin@example.com", "wrong-password-1!", remote_addr="10.1.2.3")
    with pytest.raises(AuthFailed):
        await kit.services.auth.login("nobody@example.com", PASSWORD)
    activities = await kit.services.activities.list(admin, ListOptions(order_key="id"))
    failed = [a for a in activities if a.type == "user_failed_login"]
    assert [a.details for a in failed] == [
        {"email": "admin@example.com", "public_ip": "10.1.2.3"}, {"email": "nobody@example.com", "public_ip": ""}]


async def test_repeated_failures_are_rate_limited_per_account(kit: InMemoryKit, admin: Viewer,
                                                              clock: MovableClock) -> None:
    for _ in range(10):
        with pytest.raises(AuthFailed):
            await kit.services.auth.login("admin@example.com", "wrong-password-1!", remote_addr=f"10.0.0.{_}")
    with pytest.raises(RateLimited) as caught:
        await kit.services.auth.login("admin@example.com", PASSWORD, remote_addr="10.9.9.9")
    assert caught.value.retry_after > 0
    clock.advance(dt.timedelta(minutes=6))
    await kit.services.auth.login("admin@example.com", PASSWORD)


async def test_sessions_expire_after_the_session_duration_of_inactivity(kit: InMemoryKit, admin: Viewer,
                                                                         clock: MovableClock) -> None:
    _, token = await kit.services.auth.login("admin@example.com", PASSWORD)
    clock.advance(dt.timedelta(minutes=50))
    await kit.services.auth.authenticate(token)
    clock.advance(dt.timedelta(minutes=50))
    await kit.services.auth.authenticate(token)  # used 50 minutes ago: still alive
    clock.advance(dt.timedelta(minutes=61))
    with pytest.raises(AuthFailed):
        await kit.services.auth.authenticate(token)


async def test_logout_revokes_only_that_session(kit: InMemoryKit, admin: Viewer) -> None:
    _, other = await kit.services.auth.login("admin@example.com", PASSWORD)
    await kit.services.auth.logout(admin)
    still = await kit.services.auth.authenticate(other)
    assert still.user.id == admin.user.id
    sessions = await kit.services.users.list_sessions(still, admin.user.id)
    assert still.session is not None
    assert [s.id for s in sessions] == [still.session.id]


async def test_changing_the_password_revokes_the_other_sessions(kit: InMemoryKit, admin: Viewer) -> None:
    _, other = await kit.services.auth.login("admin@example.com", PASSWORD)
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.auth.change_password(admin, "not-the-password-1!", "new-password-42!")
    assert caught.value.problems == (("old_password", "old password does not match"),)
    await kit.services.auth.change_password(admin, PASSWORD, "new-password-42!")
    with pytest.raises(AuthFailed):
        await kit.services.auth.authenticate(other)
    await kit.services.auth.login("admin@example.com", "new-password-42!")


async def test_the_new_password_must_follow_the_rules(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.auth.change_password(admin, PASSWORD, "short")
    assert [name for name, _ in caught.value.problems] == ["new_password"]


async def test_forgot_password_needs_smtp(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(NotConfigured):
        await kit.services.auth.forgot_password("admin@example.com")


async def test_a_reset_token_from_the_mail_sets_a_new_password_once(kit: InMemoryKit, admin: Viewer) -> None:
    await enable_smtp(kit, admin)
    await kit.services.auth.forgot_password("admin@example.com")
    await kit.services.auth.forgot_password("nobody@example.com")  # silent: no account enumeration
    mails = [m for m in kit.mailer.sent if m.to == "admin@example.com" and "Reset" in m.subject]
    assert len(mails) == 1
    token = token_in(mails[0].text)
    assert "https://fleet.example.com/login/reset?token=" in mails[0].text
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.auth.reset_password(token, "brand-new-pass-1!", "different-pass-1!")
    assert caught.value.problems[0][0] == "new_password_confirmation"
    _, before_reset = await kit.services.auth.login("admin@example.com", PASSWORD)
    await kit.services.auth.reset_password(token, "brand-new-pass-1!", "brand-new-pass-1!")
    with pytest.raises(AuthFailed):
        await kit.services.auth.authenticate(before_reset)
    with pytest.raises(NotFound):
        await kit.services.auth.reset_password(token, "another-pass-12!", "another-pass-12!")
    await kit.services.auth.login("admin@example.com", "brand-new-pass-1!")


async def test_reset_tokens_expire(kit: InMemoryKit, admin: Viewer, clock: MovableClock) -> None:
    await enable_smtp(kit, admin)
    await kit.services.auth.forgot_password("admin@example.com")
    token = token_in(kit.mailer.sent[-1].text)
    clock.advance(dt.timedelta(hours=25))
    with pytest.raises(NotFound):
        await kit.services.auth.reset_password(token, "brand-new-pass-1!", "brand-new-pass-1!")


async def test_a_required_reset_blocks_everything_until_done(kit: InMemoryKit, admin: Viewer,
                                                             make_user: MakeUser) -> None:
    user = await make_user(global_role="observer")
    await kit.services.users.require_password_reset(admin, user.user.id, True)
    _, token = await kit.services.auth.login(user.user.email, PASSWORD)
    with pytest.raises(PasswordResetRequired):
        await kit.services.auth.authenticate(token)
    pending = await kit.services.auth.authenticate(token, allow_pending_reset=True)
    with pytest.raises(InvalidArgument):
        await kit.services.auth.perform_required_password_reset(pending, PASSWORD)  # reuse
    done = await kit.services.auth.perform_required_password_reset(pending, "fresh-password-7!")
    assert not done.force_password_reset
    assert (await kit.services.auth.authenticate(token)).user.id == user.user.id


async def test_a_reset_without_a_pending_requirement_is_refused(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(InvalidArgument):
        await kit.services.auth.perform_required_password_reset(admin, "fresh-password-7!")


async def test_sso_users_cannot_log_in_with_a_password(kit: InMemoryKit, admin: Viewer) -> None:
    async with kit.store.unit_of_work() as uow:
        stored = await uow.users.get(admin.user.id)
        assert stored is not None
        await uow.users.update(attrs.evolve(stored, sso_enabled=True))
        await uow.commit()
    with pytest.raises(AuthFailed):
        await kit.services.auth.login("admin@example.com", PASSWORD)
