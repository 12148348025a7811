"""First-run setup: the first admin, the organisation name and the server URL."""

from __future__ import annotations

from urllib.parse import urlparse

import attrs

from fleet_core.errors import Conflict, InvalidArgument
from fleet_core.model.config import AppConfig
from fleet_core.model.users import NewUser, Role, User
from fleet_core.ports import Clock, PasswordHasher, UnitOfWorkFactory
from fleet_core.rules.passwords import check_password, is_valid_email
from fleet_core.services.activities import record_activity, user_details
from fleet_core.services.auth import AuthService


@attrs.frozen
class SetupInput:
    name: str
    email: str
    password: str = attrs.field(repr=False)
    password_confirmation: str | None = attrs.field(repr=False)
    org_name: str
    server_url: str
    org_logo_url: str = ""


@attrs.frozen
class SetupResult:
    admin: User
    token: str = attrs.field(repr=False)
    config: AppConfig


@attrs.frozen
class SetupService:
    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    auth: AuthService
    clock: Clock

    async def required(self) -> bool:
        async with self.uow() as uow:
            return await uow.users.count() == 0

    async def setup(self, data: SetupInput) -> SetupResult:
        """Create the first admin and log them in.

        Raises:
            InvalidArgument: a field breaks the rules.
            Conflict: setup was already completed (a user exists).
        """
        if not await self.required():
            raise Conflict("setup has already been completed")
        problems = []
        if not data.name.strip():
            problems.append(("admin.name", "cannot be empty"))
        if not is_valid_email(data.email.strip()):
            problems.append(("admin.email", "must be a valid email address"))
        problems.extend(check_password("admin.password", data.password))
        if data.password_confirmation is not None and data.password != data.password_confirmation:
            problems.append(("admin.password_confirmation", "passwords do not match"))
        if not data.org_name.strip():
            problems.append(("org_info.org_name", "cannot be empty"))
        parsed = urlparse(data.server_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems.append(("server_url", "must be a valid URL with scheme and host"))
        if problems:
            raise InvalidArgument(*problems)
        password_hash = await self.hasher.hash(data.password)
        async with self.uow() as uow:
            # Locking the configuration row serialises concurrent setups: only one sees no users.
            config = await uow.app_config.lock()
            if await uow.users.count() > 0:
                raise Conflict("setup has already been completed")
            admin = await uow.users.add(NewUser(
                name=data.name.strip(), email=data.email.strip(), password_hash=password_hash,
                global_role=Role.ADMIN,
            ))
            config = attrs.evolve(
                config,
                org_info=attrs.evolve(config.org_info, org_name=data.org_name.strip(),
                                      org_logo_url=data.org_logo_url or config.org_info.org_logo_url),
                server_settings=attrs.evolve(config.server_settings, server_url=data.server_url.rstrip("/")),
            )
            await uow.app_config.save(config)
            token = await self.auth.open_session(uow, admin)
            await record_activity(uow, admin, "created_user", user_details(admin), self.clock.now())
            await uow.commit()
        return SetupResult(admin=admin, token=token, config=config)
