"""Argon2id password hashing (fleet_core.ports.PasswordHasher)."""

from __future__ import annotations

import anyio.to_thread
import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2PasswordHasher:
    """Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile) unless told otherwise.

    Hashing is deliberately slow and CPU-bound, so every call runs in a worker thread: on the
    event loop it would stall every other request for the duration of a login.
    """

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher if hasher is not None else argon2.PasswordHasher()

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await anyio.to_thread.run_sync(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            # VerificationError also covers hashes argon2 can parse but not check (a corrupted
            # digest); the port promises False rather than an error for anything malformed.
            return False
