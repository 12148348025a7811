"""Translate psycopg errors into fleet_core errors, keyed on the constraint that fired.

Driver messages quote the offending values (emails, token hashes, enroll secrets), so the core
errors carry only a fixed summary and the driver error is not chained onto them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, Final, LiteralString

import psycopg
from psycopg import AsyncConnection, errors

from fleet_core.errors import AlreadyExists, FleetError, InvalidArgument, NotFound, TooLarge, Unavailable

_ROLE_REASON = "must be one of admin, maintainer, observer"

# Constraint names come from migrations/*.sql.
CONSTRAINTS: Final[dict[str, FleetError]] = {
    "users_email_key": AlreadyExists("a user with this email already exists"),
    "teams_name_key": AlreadyExists("a team with this name already exists"),
    "labels_name_key": AlreadyExists("a label with this name already exists"),
    "queries_team_id_name_key": AlreadyExists("a query with this name already exists"),
    "queries_team_id_fkey": NotFound("Team was not found in the datastore"),
    "packs_name_key": AlreadyExists("a pack with this name already exists"),
    "policies_name_key": AlreadyExists("a policy with this name already exists"),
    "policies_team_id_fkey": NotFound("Team was not found in the datastore"),
    "host_device_auth_host_id_fkey": NotFound("Host was not found in the datastore"),
    "host_device_auth_token_hash_key": AlreadyExists("device token collision"),
    "packs_team_id_fkey": NotFound("Team was not found in the datastore"),
    "pack_target_hosts_host_id_fkey": NotFound("a targeted host was not found in the datastore"),
    "pack_target_labels_label_id_fkey": NotFound("a targeted label was not found in the datastore"),
    "pack_target_teams_team_id_fkey": NotFound("a targeted team was not found in the datastore"),
    "scheduled_queries_pack_id_name_key": AlreadyExists("the pack already schedules a query with this name"),
    "scheduled_queries_pack_id_fkey": NotFound("Pack was not found in the datastore"),
    "scheduled_queries_query_id_fkey": NotFound("Query was not found in the datastore"),
    "invites_email_key": AlreadyExists("an invite for this email already exists"),
    "invites_token_hash_key": AlreadyExists("invite token collision"),
    "sessions_token_hash_key": AlreadyExists("session token collision"),
    "password_resets_token_hash_key": AlreadyExists("password reset token collision"),
    "enroll_secrets_pkey": AlreadyExists("the enroll secret is already in use"),
    "user_teams_team_id_fkey": NotFound("team not found"),
    "invite_teams_team_id_fkey": NotFound("team not found"),
    "enroll_secrets_team_id_fkey": NotFound("team not found"),
    "sessions_user_id_fkey": NotFound("user not found"),
    "password_resets_user_id_fkey": NotFound("user not found"),
    "user_teams_user_id_fkey": NotFound("user not found"),
    "invite_teams_invite_id_fkey": NotFound("invite not found"),
    "users_global_role_check": InvalidArgument(("global_role", _ROLE_REASON)),
    "invites_global_role_check": InvalidArgument(("global_role", _ROLE_REASON)),
    "user_teams_role_check": InvalidArgument(("role", _ROLE_REASON)),
    "invite_teams_role_check": InvalidArgument(("role", _ROLE_REASON)),
}


# Postgres says which value it refused only in its message text, which quotes the value; the
# reasons below are fixed and name no field. Callers that know the field validate before
# the database sees the value (fleet_core.rules.paging for paging, ids).
_OUT_OF_RANGE = ("base", "a number is out of range")
_NOT_STORABLE = ("base", "text contains characters that cannot be stored (NUL, unpaired surrogates)")
_TOO_LARGE = ("base", "a value is too large to be stored")
_NOT_ACCEPTED = ("base", "a value is not accepted by the database")
# SQLSTATE class 54, program limit exceeded: an index entry larger than a page, a statement
# too complex. Postgres files it under operator intervention (psycopg's OperationalError),
# but it is caused by the request and fails again on every retry.
_PROGRAM_LIMIT_CLASS = "54"


def translate(exc: psycopg.Error | UnicodeEncodeError) -> FleetError | None:
    """The core error for a driver error, or None when the error is a bug, not a rule."""
    if isinstance(exc, UnicodeEncodeError):
        # Text that cannot be encoded for the database: an unpaired surrogate from a JSON escape.
        return InvalidArgument(_NOT_STORABLE)
    if (exc.sqlstate or "").startswith(_PROGRAM_LIMIT_CLASS):
        return TooLarge(_TOO_LARGE)
    if isinstance(exc, errors.StringDataRightTruncation):
        return TooLarge(_TOO_LARGE)
    if isinstance(exc, errors.NumericValueOutOfRange):
        return InvalidArgument(_OUT_OF_RANGE)
    if isinstance(exc, errors.CharacterNotInRepertoire | errors.UntranslatableCharacter):
        return InvalidArgument(_NOT_STORABLE)
    if isinstance(exc, psycopg.DataError):
        # sqlstate None: refused by psycopg before sending, which only a NUL in text does.
        return InvalidArgument(_NOT_STORABLE if exc.sqlstate is None else _NOT_ACCEPTED)
    if isinstance(exc, errors.IntegrityError):
        known = CONSTRAINTS.get(exc.diag.constraint_name or "")
        if known is not None:
            # A fresh instance per raise: exceptions carry tracebacks.
            return _copy(known)
    if isinstance(exc, errors.UniqueViolation):
        return AlreadyExists("resource already exists")
    if isinstance(exc, errors.ForeignKeyViolation):
        return NotFound("referenced resource not found")
    if isinstance(exc, errors.CheckViolation):
        return InvalidArgument(("base", "value not allowed"))
    if isinstance(exc, psycopg.OperationalError):
        return Unavailable("database unavailable")
    return None


def _copy(error: FleetError) -> FleetError:
    if isinstance(error, InvalidArgument):
        return type(error)(*error.problems)
    return type(error)(*error.args)


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise driver errors that encode a rule (or an outage) as core errors."""
    try:
        yield
    except (psycopg.Error, UnicodeEncodeError) as exc:
        core = translate(exc)
        if core is None:
            raise
        raise core from None


SAVEPOINT: Final[LiteralString] = "SAVEPOINT fleet_write"
ROLLBACK_TO_SAVEPOINT: Final[LiteralString] = "ROLLBACK TO SAVEPOINT fleet_write"
RELEASE_SAVEPOINT: Final[LiteralString] = "RELEASE SAVEPOINT fleet_write"


@asynccontextmanager
async def guarded_write(conn: AsyncConnection[Any]) -> AsyncIterator[None]:
    """Run a multi-statement write that may break a rule, undoing all of it if it does.

    A failed statement would otherwise abort the whole unit of work; the in-memory adapter
    leaves the unit of work usable after AlreadyExists/NotFound, and so must we. Plain
    SAVEPOINT statements rather than conn.transaction(): the latter would open (and commit)
    an outer transaction if none were in progress yet.
    """
    with translated():
        await conn.execute(SAVEPOINT)
        try:
            yield
        except Exception:
            # A dead connection cannot roll back; the original error is the one to report.
            with suppress(psycopg.Error):
                await conn.execute(ROLLBACK_TO_SAVEPOINT)
            raise
        await conn.execute(RELEASE_SAVEPOINT)
