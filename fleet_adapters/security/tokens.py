"""Random credentials (session tokens, invite and reset tokens) and their stored digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


class SecretsTokenGenerator:
    """fleet_core.ports.TokenGenerator over the OS CSPRNG."""

    def token(self) -> str:
        return secrets.token_urlsafe(TOKEN_BYTES)

    def digest(self, token: str) -> str:
        # A plain SHA-256 is enough here, unlike for passwords: a token carries 256 bits of
        # entropy, so a leaked digest cannot be brute-forced however fast the hash is, and a
        # deterministic digest is what lets the database look the token up by an index.
        return hashlib.sha256(token.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    """Compare two secrets in time independent of where they first differ."""
    return hmac.compare_digest(a.encode(), b.encode())
