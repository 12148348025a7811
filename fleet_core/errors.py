"""The errors every service may raise; transports map each class to one status code."""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error a transport knows how to render."""


class InvalidArgument(FleetError):
    """Validation failed; carries one (name, reason) pair per offending field."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        self.problems: tuple[tuple[str, str], ...] = problems
        super().__init__("; ".join(f"{name} {reason}" for name, reason in problems))


class TooLarge(InvalidArgument):
    """A value is larger than storage can hold (a column's length, an index entry's size).

    An InvalidArgument, so every transport already answers it with a 4xx; retrying the same
    request can never succeed, which an agent endpoint may want to say more specifically.
    """


class BadRequest(FleetError):
    """The request is malformed (wrong JSON type, unknown key); ``name`` is the field, if any."""

    def __init__(self, reason: str, name: str = "base") -> None:
        self.name = name
        self.reason = reason
        super().__init__(reason)


class NotFound(FleetError):
    """The addressed resource does not exist (or is invisible to the caller)."""


class AlreadyExists(FleetError):
    """A uniqueness rule would be broken."""


class Conflict(FleetError):
    """The request conflicts with the current state (setup already done, ...)."""


class PermissionDenied(FleetError):
    """The authenticated user may not perform this action."""


class AuthFailed(FleetError):
    """Missing, unknown, expired or revoked credentials."""


class PasswordResetRequired(FleetError):
    """The user must reset the password before doing anything else."""


class RateLimited(FleetError):
    """Too many attempts; the caller should wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class NotConfigured(FleetError):
    """A server-side integration the request needs (SMTP, SSO) is not configured."""


class MDMNotConfigured(BadRequest):
    """The request needs MDM, which this server does not offer (Fleet's 400 when MDM is off)."""

    MESSAGE = ("MDM features aren't turned on in Fleet. For more information about setting up MDM, "
               "please visit https://fleetdm.com/docs/using-fleet")

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class NodeInvalid(FleetError):
    """The agent must re-enroll (osquery reads ``node_invalid``)."""


class Unavailable(FleetError):
    """A backing service (database, cache, mail server) did not answer."""
