"""Argon2 password hashing and random tokens, on the real libraries."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import argon2
import pytest

from fleet_adapters.clock import SystemClock
from fleet_adapters.security.argon2 import Argon2PasswordHasher
from fleet_adapters.security.tokens import SecretsTokenGenerator, same_secret

pytestmark = pytest.mark.anyio

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


@pytest.fixture
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST))


async def test_a_hashed_password_verifies_and_a_wrong_one_does_not(hasher: Argon2PasswordHasher) -> None:
    stored = await hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert await hasher.verify(stored, "correct horse battery staple") is True
    assert await hasher.verify(stored, "correct horse battery stapler") is False


async def test_hashing_the_same_password_twice_salts_differently(hasher: Argon2PasswordHasher) -> None:
    first, second = await hasher.hash("p4ssw0rd!"), await hasher.hash("p4ssw0rd!")
    assert first != second
    assert await hasher.verify(first, "p4ssw0rd!") and await hasher.verify(second, "p4ssw0rd!")


@pytest.mark.parametrize(
    "malformed",
    ["", "not a hash", "$2b$12$abcdefghijklmnopqrstuvwxyz", "$argon2id$v=19$m=8,t=1,p=1$garbage$"],
)
async def test_a_malformed_hash_verifies_as_false_instead_of_raising(
    hasher: Argon2PasswordHasher, malformed: str
) -> None:
    assert await hasher.verify(malformed, "anything") is False


async def test_a_corrupted_digest_verifies_as_false(hasher: Argon2PasswordHasher) -> None:
    stored = await hasher.hash("secret-password")
    corrupted = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    assert await hasher.verify(corrupted, "secret-password") is False


async def test_the_default_hasher_uses_production_parameters_and_flags_cheap_hashes(
    hasher: Argon2PasswordHasher,
) -> None:
    production = Argon2PasswordHasher()
    cheap = await hasher.hash("pw")
    assert production.needs_rehash(cheap) is True
    assert hasher.needs_rehash(cheap) is False
    assert production.needs_rehash("not a hash") is True


def test_tokens_are_distinct_url_safe_and_carry_at_least_32_bytes() -> None:
    tokens = SecretsTokenGenerator()
    issued = {tokens.token() for _ in range(200)}
    assert len(issued) == 200
    for token in issued:
        # 32 random bytes in unpadded base64url are 43 characters.
        assert len(token) >= 43
        assert URL_SAFE.fullmatch(token)


def test_a_digest_is_the_stable_sha256_hex_of_the_token() -> None:
    tokens = SecretsTokenGenerator()
    token = tokens.token()
    assert tokens.digest(token) == tokens.digest(token)
    assert tokens.digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert tokens.digest(token) != tokens.digest(token + "x")
    assert token not in tokens.digest(token)


def test_secrets_compare_equal_only_when_identical() -> None:
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")
    assert not same_secret("abc", "abcd")


def test_the_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.utcoffset() == dt.timedelta(0)
