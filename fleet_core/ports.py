"""The ports: what the core needs from storage, crypto, mail and time.

Each method's docstring is its contract; the contract suite in tests/contract enforces it for
every adapter (in-memory and Postgres/Redis). Methods raise only fleet_core.errors.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Protocol, Self

import attrs

from fleet_core.model.activities import Activity, NewActivity
from fleet_core.model.config import AppConfig, SMTPSettings
from fleet_core.model.secrets import EnrollSecret
from fleet_core.model.teams import Team
from fleet_core.model.users import Invite, NewInvite, NewUser, Session, User
from fleet_core.rules.paging import ListOptions

USER_ORDER_KEYS = frozenset(
    {"id", "name", "email", "created_at", "updated_at", "global_role", "api_only", "sso_enabled", "position"}
)
INVITE_ORDER_KEYS = frozenset({"id", "name", "email", "created_at", "updated_at", "global_role", "position"})
ACTIVITY_ORDER_KEYS = frozenset({"id", "created_at", "type", "actor_id", "actor_full_name", "actor_email"})


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


class AppConfigRepository(Protocol):
    async def get(self) -> AppConfig:
        """The stored configuration, or the defaults if none was ever saved."""
        ...

    async def save(self, config: AppConfig) -> None:
        """Replace the stored configuration."""
        ...

    async def lock(self) -> AppConfig:
        """Like get(), but holds the configuration for update until the unit of work ends,
        so concurrent read-modify-write cycles serialise instead of losing updates."""
        ...


class EnrollSecretRepository(Protocol):
    async def list(self, team_id: int | None) -> list[EnrollSecret]:
        """The secrets of a team (None: the global ones), oldest first, then by secret."""
        ...

    async def replace(
        self, team_id: int | None, secrets: Sequence[str], at: dt.datetime
    ) -> builtins.list[EnrollSecret]:
        """Make ``secrets`` the whole set for the team (None: global). Secrets already present
        keep their created_at. Raises AlreadyExists if a secret belongs to another team,
        NotFound if the team does not exist."""
        ...

    async def find(self, secret: str) -> EnrollSecret | None:
        """The enroll secret with exactly this value, or None."""
        ...


class TeamRepository(Protocol):
    async def add(self, *, name: str, description: str, at: dt.datetime) -> Team:
        """Insert a team; AlreadyExists if the name is taken (names compare case-insensitively)."""
        ...

    async def get(self, team_id: int) -> Team | None:
        """The team with this id, or None."""
        ...

    async def get_many(self, team_ids: Sequence[int]) -> list[Team]:
        """The teams that exist among ``team_ids``, in id order."""
        ...


class ActivityRepository(Protocol):
    async def add(self, activity: NewActivity, at: dt.datetime) -> Activity:
        """Append an activity."""
        ...

    async def list(self, options: ListOptions) -> list[Activity]:
        """Activities ordered (ACTIVITY_ORDER_KEYS) then by id, paged."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() discards every write."""

    # Read-only members, so adapters may expose their own concrete repository types.
    @property
    def users(self) -> UserRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def invites(self) -> InviteRepository: ...
    @property
    def password_resets(self) -> PasswordResetRepository: ...
    @property
    def app_config(self) -> AppConfigRepository: ...
    @property
    def enroll_secrets(self) -> EnrollSecretRepository: ...
    @property
    def teams(self) -> TeamRepository: ...
    @property
    def activities(self) -> ActivityRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None:
        """Roll back anything not committed."""
        ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str:
        """A salted, slow hash of the password (off the event loop)."""
        ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches; False (never an error) for a malformed hash."""
        ...


class TokenGenerator(Protocol):
    def token(self) -> str:
        """A fresh random credential of at least 32 bytes of entropy, URL-safe."""
        ...

    def digest(self, token: str) -> str:
        """The stored form of a credential: a fast one-way hash (tokens are high-entropy)."""
        ...


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


@attrs.frozen
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None


class Mailer(Protocol):
    async def send(self, settings: SMTPSettings, email: Email) -> None:
        """Deliver through the SMTP server the settings name. Raises NotConfigured if SMTP is
        disabled, Unavailable if the server refused or could not be reached."""
        ...


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        """Count one attempt under ``key`` in a fixed window; return 0 while the count stays
        within ``limit``, else the seconds until the window resets. Shared across processes."""
        ...

    async def blocked(self, key: str, *, limit: int) -> int:
        """Without counting: 0 while fewer than ``limit`` attempts are in the current window
        under ``key``, else the seconds until it resets (at least 1)."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the attempts under ``key``."""
        ...


class HealthCheck(Protocol):
    async def check(self) -> dict[str, bool]:
        """Each backing service by name, True when it answered."""
        ...


