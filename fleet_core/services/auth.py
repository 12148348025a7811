"""Logging in and out, sessions, and the password flows (change, forgot/reset, required reset)."""

from __future__ import annotations

import datetime as dt

import attrs
import structlog

from fleet_core.authz import Viewer
from fleet_core.errors import (
    AuthFailed,
    InvalidArgument,
    NotConfigured,
    NotFound,
    PasswordResetRequired,
    RateLimited,
)
from fleet_core.model.mail import Email
from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.users import Session, User
from fleet_core.ports import Clock, Mailer, PasswordHasher, RateLimiter, TokenGenerator, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.passwords import check_password
from fleet_core.services.activities import record_activity

log = structlog.get_logger(__name__)

# Failed logins allowed per window, per account and per client address.
LOGIN_ATTEMPTS_PER_ACCOUNT = 10
LOGIN_ATTEMPTS_PER_ADDRESS = 50
LOGIN_WINDOW_SECONDS = 300
PASSWORD_RESET_LIFETIME = dt.timedelta(hours=24)
# Recording every request's access time would be a write per API call; a minute of slack is
# invisible against a session lifetime measured in days.
SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)


@attrs.frozen
class AuthService:
    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    tokens: TokenGenerator
    clock: Clock
    mailer: Mailer
    rate_limiter: RateLimiter
    runtime: ServerRuntime
    _dummy_hash: list[str] = attrs.field(factory=list, init=False, repr=False)

    async def login(self, email: str, password: str, *, remote_addr: str = "") -> tuple[User, str]:
        """Check the credentials and open a session; returns the user and the session token.

        Raises:
            InvalidArgument: email or password missing.
            RateLimited: too many failed attempts for this account or address.
            AuthFailed: unknown email, wrong password, or an SSO-only account.
        """
        problems = []
        if not email.strip():
            problems.append(("email", "cannot be empty"))
        if not password:
            problems.append(("password", "cannot be empty"))
        if problems:
            raise InvalidArgument(*problems)
        account_key = "login:account:" + self.tokens.digest(email.strip().casefold())
        address_key = "login:addr:" + remote_addr
        # Only failures count, so scripts that log in often from one address are never locked out.
        limits = ((account_key, LOGIN_ATTEMPTS_PER_ACCOUNT), (address_key, LOGIN_ATTEMPTS_PER_ADDRESS))
        for key, limit in limits:
            wait = await self.rate_limiter.blocked(key, limit=limit)
            if wait:
                raise RateLimited("too many failed login attempts, try again later", retry_after=wait)
        async with self.uow() as uow:
            user = await uow.users.get_by_email(email.strip())
            ok = await self._verify(user, password)
            now = self.clock.now()
            if user is None or not ok or user.sso_enabled:
                await record_activity(uow, None, "user_failed_login",
                                      {"email": email.strip(), "public_ip": remote_addr}, now)
                await uow.commit()
                for key, _ in limits:
                    await self.rate_limiter.hit(key, limit=0, window_seconds=LOGIN_WINDOW_SECONDS)
                log.info("login_failed", user_id=user.id if user else None)
                raise AuthFailed("Authentication failed")
            token = self.tokens.token()
            await uow.sessions.add(user_id=user.id, token_hash=self.tokens.digest(token), at=now)
            await record_activity(uow, user, "user_logged_in", {"public_ip": remote_addr}, now)
            await uow.commit()
        await self.rate_limiter.reset(account_key)
        log.info("login", user_id=user.id)
        return user, token

    async def _verify(self, user: User | None, password: str) -> bool:
        if user is None:
            # Spend the same time as a real check so response times do not reveal accounts.
            if not self._dummy_hash:
                self._dummy_hash.append(await self.hasher.hash(self.tokens.token()))
            await self.hasher.verify(self._dummy_hash[0], password)
            return False
        return await self.hasher.verify(user.password_hash, password)

    async def open_session(self, uow: UnitOfWork, user: User) -> str:
        """Create a session for a user inside the caller's unit of work; returns the token."""
        token = self.tokens.token()
        await uow.sessions.add(user_id=user.id, token_hash=self.tokens.digest(token), at=self.clock.now())
        return token

    async def authenticate(self, token: str, *, allow_pending_reset: bool = False) -> Viewer:
        """Resolve a bearer token to its user.

        Raises:
            AuthFailed: unknown, revoked or expired token, or the user is gone.
            PasswordResetRequired: the user must reset the password first (unless allowed).
        """
        if not token:
            raise AuthFailed("Authentication required")
        now = self.clock.now()
        async with self.uow() as uow:
            session = await uow.sessions.get_by_token_hash(self.tokens.digest(token))
            if session is None:
                raise AuthFailed("Authentication failed")
            if now - session.accessed_at > self.runtime.session_duration:
                await uow.sessions.delete(session.id)
                await uow.commit()
                raise AuthFailed("Session expired")
            user = await uow.users.get(session.user_id)
            if user is None:
                raise AuthFailed("Authentication failed")
            if now - session.accessed_at > SESSION_TOUCH_INTERVAL:
                await uow.sessions.touch(session.id, now)
                await uow.commit()
        if user.force_password_reset and not allow_pending_reset:
            raise PasswordResetRequired("password reset required")
        return Viewer(user=user, session=session)

    async def logout(self, viewer: Viewer) -> None:
        if viewer.session is None:
            return
        async with self.uow() as uow:
            await uow.sessions.delete(viewer.session.id)
            await uow.commit()

    async def change_password(self, viewer: Viewer, old_password: str, new_password: str) -> None:
        """Raises InvalidArgument when the old password is wrong or the new one breaks the rules."""
        problems = []
        if not old_password:
            problems.append(("old_password", "cannot be empty"))
        problems.extend(check_password("new_password", new_password))
        if problems:
            raise InvalidArgument(*problems)
        if viewer.user.sso_enabled:
            raise InvalidArgument(("password", "cannot change password for an SSO user"))
        if not await self.hasher.verify(viewer.user.password_hash, old_password):
            raise InvalidArgument(("old_password", "old password does not match"))
        if old_password == new_password:
            raise InvalidArgument(("new_password", "cannot reuse old password"))
        await self._set_password(viewer.user.id, new_password, keep_session=viewer.session)

    async def _set_password(self, user_id: int, new_password: str, *, keep_session: Session | None,
                            force_reset: bool = False) -> User:
        password_hash = await self.hasher.hash(new_password)
        async with self.uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound(f"User with id={user_id} was not found in the datastore")
            user = await uow.users.update(
                attrs.evolve(user, password_hash=password_hash, force_password_reset=force_reset))
            await uow.sessions.delete_for_user(user_id, except_id=keep_session.id if keep_session else None)
            await uow.password_resets.delete_for_user(user_id)
            await uow.commit()
        return user

    async def forgot_password(self, email: str, *, remote_addr: str = "") -> None:
        """Mail a reset link if the account exists; silent when it does not (no enumeration).

        Raises:
            InvalidArgument: email missing.
            NotConfigured: SMTP is not set up, so no mail can go out.
        """
        if not email.strip():
            raise InvalidArgument(("email", "cannot be empty"))
        key = "forgot:account:" + self.tokens.digest(email.strip().casefold())
        wait = await self.rate_limiter.hit(key, limit=LOGIN_ATTEMPTS_PER_ACCOUNT, window_seconds=LOGIN_WINDOW_SECONDS)
        if wait:
            raise RateLimited("too many password reset requests, try again later", retry_after=wait)
        async with self.uow() as uow:
            config = await uow.app_config.get()
            if not config.smtp_settings.enable_smtp:
                raise NotConfigured("email not configured")
            user = await uow.users.get_by_email(email.strip())
            if user is None or user.sso_enabled:
                return
            token = self.tokens.token()
            await uow.password_resets.add(user_id=user.id, token_hash=self.tokens.digest(token),
                                          expires_at=self.clock.now() + PASSWORD_RESET_LIFETIME)
            base = (config.server_settings.server_url or self.runtime.default_server_url).rstrip("/")
            link = f"{base}/login/reset?token={token}"
            await self.mailer.send(config.smtp_settings, Email(
                to=user.email,
                subject="Reset Your Fleet Password",
                text=f"Someone requested a password reset for your Fleet account.\n\n"
                     f"Reset it here: {link}\n\nThe link works once, for 24 hours. "
                     f"If you did not ask for this, ignore this email.\n\nToken: {token}\n",
            ))
            await uow.commit()

    async def reset_password(self, token: str, new_password: str, confirmation: str) -> None:
        """Raises InvalidArgument for a bad new password, NotFound for an unknown or used token."""
        problems = []
        if not token:
            problems.append(("password_reset_token", "cannot be empty"))
        problems.extend(check_password("new_password", new_password))
        if new_password != confirmation:
            problems.append(("new_password_confirmation", "passwords do not match"))
        if problems:
            raise InvalidArgument(*problems)
        async with self.uow() as uow:
            user_id = await uow.password_resets.consume(self.tokens.digest(token), now=self.clock.now())
            if user_id is None:
                raise NotFound("password reset token was not found or has expired")
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound("password reset token was not found or has expired")
            if await self.hasher.verify(user.password_hash, new_password):
                raise InvalidArgument(("new_password", "cannot reuse old password"))
            user = attrs.evolve(user, password_hash=await self.hasher.hash(new_password), force_password_reset=False)
            await uow.users.update(user)
            await uow.sessions.delete_for_user(user_id)
            await uow.password_resets.delete_for_user(user_id)
            await uow.commit()

    async def perform_required_password_reset(self, viewer: Viewer, new_password: str) -> User:
        """Raises InvalidArgument when no reset is pending or the password is unacceptable."""
        user = viewer.user
        if user.sso_enabled:
            raise InvalidArgument(("new_password", "password reset for single sign on user not allowed"))
        if not user.force_password_reset:
            raise InvalidArgument(("new_password", "user does not require password reset"))
        problems = check_password("new_password", new_password)
        if problems:
            raise InvalidArgument(*problems)
        if await self.hasher.verify(user.password_hash, new_password):
            raise InvalidArgument(("new_password", "cannot reuse old password"))
        return await self._set_password(user.id, new_password, keep_session=viewer.session)

