"""Users, their sessions, invitations and password resets."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Protocol

from fleet_core.model.users import Invite, NewInvite, NewUser, Session, User
from fleet_core.rules.paging import ListOptions


class UserRepository(Protocol):
    async def add(self, user: NewUser) -> User:
        """Insert a user with its team roles. Raises AlreadyExists if the email is taken
        (emails compare case-insensitively), NotFound if a team does not exist."""
        ...

    async def get(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        ...

    async def get_by_email(self, email: str) -> User | None:
        """The user with this email (case-insensitive), or None."""
        ...

    async def list(self, options: ListOptions, *, team_id: int | None = None,
                   team_ids: frozenset[int] | None = None) -> builtins.list[User]:
        """Users matching ``options.query`` on name or email (substring, case-insensitive),
        ordered by ``options.order_key`` (one of USER_ORDER_KEYS) then id, paged. ``team_id``
        keeps members of that team; ``team_ids`` keeps members of any of those teams."""
        ...

    async def count(self) -> int:
        """How many users exist."""
        ...

    async def update(self, user: User) -> User:
        """Store every field of ``user`` (teams included) and bump updated_at. Raises
        NotFound if the user is gone, AlreadyExists if the new email is taken."""
        ...

    async def delete(self, user_id: int) -> bool:
        """Delete the user with its sessions and pending password resets; False if there was
        no such user."""
        ...


class SessionRepository(Protocol):
    async def add(self, *, user_id: int, token_hash: str, at: dt.datetime) -> Session:
        """Create a session keyed by the hash of its token; NotFound if the user is gone."""
        ...

    async def get(self, session_id: int) -> Session | None:
        """The session with this id, or None."""
        ...

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        """The session whose token hashes to this value, or None."""
        ...

    async def list_for_user(self, user_id: int) -> list[Session]:
        """The user's sessions, oldest first."""
        ...

    async def touch(self, session_id: int, at: dt.datetime) -> None:
        """Record an access; a missing session is ignored."""
        ...

    async def delete(self, session_id: int) -> bool:
        """Delete one session; False if there was none."""
        ...

    async def delete_for_user(self, user_id: int, *, except_id: int | None = None) -> int:
        """Delete the user's sessions (keeping ``except_id``); returns how many went."""
        ...


class InviteRepository(Protocol):
    async def add(self, invite: NewInvite) -> Invite:
        """Insert an invite. Raises AlreadyExists if an invite for the email exists."""
        ...

    async def get(self, invite_id: int) -> Invite | None:
        """The invite with this id, or None."""
        ...

    async def get_by_token_hash(self, token_hash: str) -> Invite | None:
        """The invite whose token hashes to this value, or None."""
        ...

    async def list(self, options: ListOptions) -> list[Invite]:
        """Invites matching ``options.query`` on name or email, ordered (INVITE_ORDER_KEYS)
        then by id, paged."""
        ...

    async def update(self, invite: Invite) -> Invite:
        """Store every field of ``invite``; NotFound if gone, AlreadyExists on a taken email."""
        ...

    async def delete(self, invite_id: int) -> bool:
        """Delete the invite; False if there was none."""
        ...


class PasswordResetRepository(Protocol):
    async def add(self, *, user_id: int, token_hash: str, expires_at: dt.datetime) -> None:
        """Store a reset request for the user; NotFound if the user is gone."""
        ...

    async def consume(self, token_hash: str, *, now: dt.datetime) -> int | None:
        """Delete the request with this token and return its user id if it had not expired;
        None otherwise. A token works at most once."""
        ...

    async def delete_for_user(self, user_id: int) -> None:
        """Forget every pending reset request of the user."""
        ...
