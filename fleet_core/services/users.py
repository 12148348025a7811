"""Users: listing, creating (by invite or directly), changing, deleting, and their sessions."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from fleet_core.authz import Action, Viewer, admin_team_ids, authorize
from fleet_core.errors import InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.model.users import NewUser, Role, Session, TeamRole, User
from fleet_core.ports import Clock, PasswordHasher, TokenGenerator, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions, require_ids_in_range
from fleet_core.rules.passwords import check_password, is_valid_email
from fleet_core.services.activities import record_activity, user_details

INVITE_LIFETIME = dt.timedelta(days=5)


@attrs.frozen
class UserInput:
    """Fields to create a user with; roles are (global_role xor teams)."""

    name: str
    email: str
    password: str | None = attrs.field(default=None, repr=False)
    global_role: str | None = None
    teams: Sequence[tuple[int, str]] = ()
    sso_enabled: bool = False
    api_only: bool = False
    position: str = ""
    admin_forced_password_reset: bool | None = None


@attrs.frozen
class UserChanges:
    """A PATCH: every field left as UNSET_FIELD stays as it is. ``global_role`` None removes the
    global role; ``teams`` () clears the team roles. ``password`` is the viewer's current one,
    needed to change one's own email or password."""

    name: Any = UNSET_FIELD
    email: Any = UNSET_FIELD
    position: Any = UNSET_FIELD
    sso_enabled: Any = UNSET_FIELD
    api_only: Any = UNSET_FIELD
    password: Any = attrs.field(default=UNSET_FIELD, repr=False)
    new_password: Any = attrs.field(default=UNSET_FIELD, repr=False)
    global_role: Any = UNSET_FIELD
    teams: Any = UNSET_FIELD


def parse_roles(global_role: str | None, teams: Sequence[tuple[int, str]]) -> tuple[Role | None, tuple[TeamRole, ...]]:
    """Validate a role assignment: exactly one of a global role or team roles."""
    problems = []
    role: Role | None = None
    if global_role is not None:
        try:
            role = Role(global_role)
        except ValueError:
            problems.append(("global_role", f"must be one of {', '.join(r.value for r in Role)}"))
    team_roles = []
    seen = set()
    for team_id, team_role in teams:
        try:
            team_roles.append(TeamRole(team_id=team_id, role=Role(team_role)))
        except ValueError:
            problems.append(("teams", f"role must be one of {', '.join(r.value for r in Role)}"))
        if team_id in seen:
            problems.append(("teams", f"team {team_id} listed more than once"))
        seen.add(team_id)
    if global_role is not None and teams:
        problems.append(("global_role", "Cannot specify both global_role and teams"))
    if global_role is None and not teams:
        problems.append(("global_role", "either global role or team role needs to be defined"))
    if problems:
        raise InvalidArgument(*problems)
    return role, tuple(sorted(team_roles, key=lambda m: m.team_id))


def check_grantable(viewer: Viewer, global_role: Role | None, teams: Sequence[TeamRole]) -> None:
    """Only global admins grant global roles; team admins grant roles on teams they administer."""
    if viewer.is_global_admin:
        return
    if global_role is not None:
        raise PermissionDenied("forbidden")
    allowed = admin_team_ids(viewer.user)
    if any(m.team_id not in allowed for m in teams):
        raise PermissionDenied("forbidden")


def _unnamed(teams: Sequence[TeamRole]) -> tuple[TeamRole, ...]:
    return tuple(attrs.evolve(m, team_name="") for m in teams)


def user_team_ids(user: User) -> list[int]:
    return [m.team_id for m in user.teams]


async def _require_user(uow: UnitOfWork, user_id: int) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound(f"User with id={user_id} was not found in the datastore")
    return user


async def _check_not_last_admin(uow: UnitOfWork, user: User) -> None:
    if user.global_role is not Role.ADMIN:
        return
    admins = [u for u in await uow.users.list(ListOptions()) if u.global_role is Role.ADMIN]
    if len(admins) <= 1:
        raise InvalidArgument(("global_role", "cannot remove the last global admin"))


async def record_role_changes(uow: UnitOfWork, actor: User, before: User | None, after: User, at: dt.datetime) -> None:
    """The changed/deleted role activities Fleet records for global and team roles."""
    details = user_details(after)
    old_global = before.global_role if before else None
    if after.global_role != old_global:
        if after.global_role is not None:
            await record_activity(
                uow, actor, "changed_user_global_role", {**details, "role": after.global_role.value}, at)
        elif old_global is not None:
            await record_activity(uow, actor, "deleted_user_global_role", {**details, "role": old_global.value}, at)
    old_teams = {m.team_id: m for m in (before.teams if before else ())}
    new_teams = {m.team_id: m for m in after.teams}
    for team_id, membership in new_teams.items():
        previous = old_teams.get(team_id)
        if previous is None or previous.role != membership.role:
            await record_activity(uow, actor, "changed_user_team_role", {
                **details, "role": membership.role.value, "team_id": team_id, "team_name": membership.team_name}, at)
    for team_id, membership in old_teams.items():
        if team_id not in new_teams:
            await record_activity(uow, actor, "deleted_user_team_role", {
                **details, "role": membership.role.value, "team_id": team_id, "team_name": membership.team_name}, at)


def _identity_problems(name: str, email: str) -> list[tuple[str, str]]:
    problems = []
    if not name.strip():
        problems.append(("name", "cannot be empty"))
    if not email.strip():
        problems.append(("email", "cannot be empty"))
    elif not is_valid_email(email.strip()):
        problems.append(("email", "must be a valid email address"))
    return problems


@attrs.frozen
class UserService:
    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    tokens: TokenGenerator
    clock: Clock

    async def list(self, viewer: Viewer, options: ListOptions, *, team_id: int | None = None) -> list[User]:
        require_ids_in_range(team_id=team_id)
        if viewer.user.global_role is not None:
            authorize(viewer, Action.LIST_USERS)
            async with self.uow() as uow:
                return await uow.users.list(options, team_id=team_id)
        # Team admins see the users of the teams they administer.
        teams = admin_team_ids(viewer.user)
        if team_id is not None:
            authorize(viewer, Action.LIST_USERS, team_ids=[team_id])
        elif not teams:
            raise PermissionDenied("forbidden")
        async with self.uow() as uow:
            return await uow.users.list(options, team_id=team_id, team_ids=teams)

    async def create(self, viewer: Viewer, data: UserInput) -> User:
        """Create a user directly (POST /users/admin).

        Raises:
            InvalidArgument: a field breaks the rules. AlreadyExists: the email is taken.
            PermissionDenied: the viewer may not grant these roles.
        """
        problems = _identity_problems(data.name, data.email)
        if not data.sso_enabled:
            problems.extend(check_password("password", data.password or "") if data.password
                            else [("password", "cannot be empty")])
        if problems:
            raise InvalidArgument(*problems)
        global_role, teams = parse_roles(data.global_role, data.teams)
        authorize(viewer, Action.CREATE_USER, team_ids=None if global_role else [m.team_id for m in teams])
        check_grantable(viewer, global_role, teams)
        # API-only users cannot reach the UI where a forced reset would happen, and SSO users have
        # no password to reset (a pending reset would lock them out after every SSO login).
        force_reset = False if data.api_only or data.sso_enabled else (
            True if data.admin_forced_password_reset is None else data.admin_forced_password_reset)
        password_hash = await self.hasher.hash(data.password) if data.password else ""
        async with self.uow() as uow:
            user = await uow.users.add(NewUser(
                name=data.name.strip(), email=data.email.strip(), password_hash=password_hash,
                global_role=global_role, teams=teams, sso_enabled=data.sso_enabled, api_only=data.api_only,
                force_password_reset=force_reset, position=data.position,
            ))
            now = self.clock.now()
            await record_activity(uow, viewer.user, "created_user", user_details(user), now)
            await record_role_changes(uow, viewer.user, None, user, now)
            await uow.commit()
        return user

    async def create_from_invite(self, *, invite_token: str, name: str, email: str, password: str | None,
                                 password_confirmation: str | None) -> User:
        """Register an invited user (POST /users); the roles come from the invite.

        Raises:
            InvalidArgument: a field breaks the rules. NotFound: unknown, used or expired invite.
        """
        problems = _identity_problems(name, email)
        if not invite_token:
            problems.append(("invite_token", "cannot be empty"))
        if password is not None or password_confirmation is not None:
            problems.extend(check_password("password", password or ""))
            if password_confirmation is not None and password != password_confirmation:
                problems.append(("password_confirmation", "passwords do not match"))
        if problems:
            raise InvalidArgument(*problems)
        not_found = NotFound(f"Invite with token {invite_token} was not found in the datastore")
        async with self.uow() as uow:
            invite = await uow.invites.get_by_token_hash(self.tokens.digest(invite_token))
            if invite is None or self.clock.now() - invite.created_at > INVITE_LIFETIME:
                raise not_found
            if invite.email.casefold() != email.strip().casefold():
                raise InvalidArgument(("email", "does not match the invited email"))
            if not invite.sso_enabled and not password:
                raise InvalidArgument(("password", "cannot be empty"))
            password_hash = await self.hasher.hash(password) if password else ""
            user = await uow.users.add(NewUser(
                name=name.strip(), email=invite.email, password_hash=password_hash,
                global_role=invite.global_role, teams=invite.teams, sso_enabled=invite.sso_enabled,
                position=invite.position,
            ))
            await uow.invites.delete(invite.id)
            now = self.clock.now()
            await record_activity(uow, user, "created_user", user_details(user), now)
            await record_role_changes(uow, user, None, user, now)
            await uow.commit()
        return user

    async def get(self, viewer: Viewer, user_id: int) -> User:
        async with self.uow() as uow:
            user = await _require_user(uow, user_id)
        authorize(viewer, Action.READ_USER, team_ids=user_team_ids(user), owner_id=user.id)
        return user

    async def modify(self, viewer: Viewer, user_id: int, changes: UserChanges) -> User:
        """Apply a PATCH.

        Changing one's own email or password needs the current password; an admin changing
        another user's password needs none and forces that user to reset it at next login.

        Raises:
            NotFound, PermissionDenied, InvalidArgument, AlreadyExists.
        """
        async with self.uow() as uow:
            user = await _require_user(uow, user_id)
        is_self = viewer.user.id == user.id
        authorize(viewer, Action.WRITE_USER, team_ids=user_team_ids(user), owner_id=user.id)
        problems: builtins.list[tuple[str, str]] = []
        if changes.name is not UNSET_FIELD and not changes.name.strip():
            problems.append(("name", "cannot be empty"))
        if changes.email is not UNSET_FIELD and not is_valid_email(changes.email.strip()):
            problems.append(("email", "must be a valid email address"))
        if changes.new_password is not UNSET_FIELD:
            problems.extend(check_password("new_password", changes.new_password))
        if problems:
            raise InvalidArgument(*problems)
        email_changes = (changes.email is not UNSET_FIELD
                         and changes.email.strip().casefold() != user.email.casefold())
        if is_self and (email_changes or changes.new_password is not UNSET_FIELD):
            if changes.password is UNSET_FIELD or not changes.password:
                raise InvalidArgument(("password", "cannot be empty when changing email or password"))
            if not await self.hasher.verify(user.password_hash, changes.password):
                raise InvalidArgument(("password", "incorrect password"))
        new_global, new_teams = user.global_role, user.teams
        if changes.global_role is not UNSET_FIELD or changes.teams is not UNSET_FIELD:
            new_global, new_teams = parse_roles(
                None if changes.global_role is UNSET_FIELD else changes.global_role,
                () if changes.teams is UNSET_FIELD else changes.teams)
            if (new_global, _unnamed(new_teams)) != (user.global_role, _unnamed(user.teams)):
                check_grantable(viewer, new_global, new_teams)
                if not viewer.is_global_admin:
                    # A team admin may only move memberships among teams they administer.
                    check_grantable(viewer, None, user.teams)
        if changes.api_only is not UNSET_FIELD and changes.api_only != user.api_only and not viewer.is_global_admin:
            raise PermissionDenied("forbidden")
        password_hash = user.password_hash
        if changes.new_password is not UNSET_FIELD:
            password_hash = await self.hasher.hash(changes.new_password)
        async with self.uow() as uow:
            current = await _require_user(uow, user_id)
            if new_global is not Role.ADMIN and current.global_role is Role.ADMIN:
                await _check_not_last_admin(uow, current)
            updated = attrs.evolve(
                current,
                name=current.name if changes.name is UNSET_FIELD else changes.name.strip(),
                email=current.email if changes.email is UNSET_FIELD else changes.email.strip(),
                position=current.position if changes.position is UNSET_FIELD else changes.position,
                sso_enabled=current.sso_enabled if changes.sso_enabled is UNSET_FIELD else changes.sso_enabled,
                api_only=current.api_only if changes.api_only is UNSET_FIELD else changes.api_only,
                global_role=new_global,
                teams=new_teams,
                password_hash=password_hash,
                # A user turned to SSO has no password to reset, so no reset stays pending.
                force_password_reset=False if changes.sso_enabled is True else (
                    True if changes.new_password is not UNSET_FIELD and not is_self
                    else current.force_password_reset),
            )
            updated = await uow.users.update(updated)
            if changes.new_password is not UNSET_FIELD:
                keep = viewer.session.id if is_self and viewer.session else None
                await uow.sessions.delete_for_user(user_id, except_id=keep)
            await record_role_changes(uow, viewer.user, current, updated, self.clock.now())
            await uow.commit()
        return updated

    async def delete(self, viewer: Viewer, user_id: int) -> None:
        async with self.uow() as uow:
            user = await _require_user(uow, user_id)
            authorize(viewer, Action.DELETE_USER, team_ids=None if user.global_role else user_team_ids(user))
            if not viewer.is_global_admin:
                check_grantable(viewer, user.global_role, user.teams)
            await _check_not_last_admin(uow, user)
            await uow.users.delete(user_id)
            await record_activity(uow, viewer.user, "deleted_user", user_details(user), self.clock.now())
            await uow.commit()

    async def require_password_reset(self, viewer: Viewer, user_id: int, require: bool) -> User:
        async with self.uow() as uow:
            user = await _require_user(uow, user_id)
            authorize(viewer, Action.REQUIRE_PASSWORD_RESET,
                      team_ids=None if user.global_role else user_team_ids(user))
            if user.sso_enabled and require:
                raise InvalidArgument(("require", "password reset for single sign on user not allowed"))
            user = await uow.users.update(attrs.evolve(user, force_password_reset=require))
            if require:
                await uow.sessions.delete_for_user(user_id)
            await uow.commit()
        return user

    async def list_sessions(self, viewer: Viewer, user_id: int) -> builtins.list[Session]:
        async with self.uow() as uow:
            await _require_user(uow, user_id)
            authorize(viewer, Action.READ_SESSIONS, owner_id=user_id)
            return await uow.sessions.list_for_user(user_id)

    async def delete_sessions(self, viewer: Viewer, user_id: int) -> None:
        async with self.uow() as uow:
            await _require_user(uow, user_id)
            authorize(viewer, Action.DELETE_SESSIONS, owner_id=user_id)
            await uow.sessions.delete_for_user(user_id)
            await uow.commit()

    async def get_session(self, viewer: Viewer, session_id: int) -> Session:
        async with self.uow() as uow:
            session = await uow.sessions.get(session_id)
            if session is None:
                raise NotFound(f"Session with id={session_id} was not found in the datastore")
            authorize(viewer, Action.READ_SESSIONS, owner_id=session.user_id)
            return session

    async def delete_session(self, viewer: Viewer, session_id: int) -> None:
        async with self.uow() as uow:
            session = await uow.sessions.get(session_id)
            if session is None:
                raise NotFound(f"Session with id={session_id} was not found in the datastore")
            authorize(viewer, Action.DELETE_SESSIONS, owner_id=session.user_id)
            await uow.sessions.delete(session_id)
            await uow.commit()
