"""The device tokens of Fleet Desktop's device-authenticated routes."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class DeviceTokenRepository(Protocol):
    """The per-host credential of the device routes, stored only as the token's digest.

    A host holds at most one token; it is valid until its expiry, and a deleted host's token is
    gone with it.
    """

    async def replace(self, host_id: int, token_hash: str, *, at: dt.datetime, expires_at: dt.datetime) -> None:
        """Make this the host's only device token (the previous one stops working at once).

        Raises:
            NotFound: the host does not exist.
            AlreadyExists: another host holds the same digest.
        """
        ...

    async def host_id(self, token_hash: str, *, now: dt.datetime) -> int | None:
        """The id of the host whose device token has this digest and expires after ``now``, or
        None. One indexed lookup whether the token never existed, expired or was replaced, so
        the answer's timing tells a guesser nothing."""
        ...

    async def extend(self, host_id: int, token_hash: str, *, expires_at: dt.datetime) -> bool:
        """Move the expiry of the host's device token, if it is the one with this digest
        (expired or not); False, changing nothing, when the host holds another token or none."""
        ...
