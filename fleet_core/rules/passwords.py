"""Password and email rules.

Passwords: 12 to 48 characters, at least one number, and at least two of lowercase letters,
uppercase letters and symbols. That is what the API documents' own examples satisfy (both
"VArCjNW7CfsxGp67" and "password!234"), and close to Fleet's rule (12+ characters with a
number and a symbol) without refusing the documented examples.
"""

from __future__ import annotations

import re

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 48

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _is_symbol(c: str) -> bool:
    return not (c.isalnum() or c.isspace())


def password_problems(password: str) -> list[str]:
    """Return every rule the password breaks, in a stable order (empty when valid)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    if not any(c.isdigit() for c in password):
        problems.append("must contain at least 1 number")
    classes = sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                   any(_is_symbol(c) for c in password)))
    if classes < 2:
        problems.append("must mix at least two of lowercase letters, uppercase letters and symbols")
    return problems


def check_password(field: str, password: str) -> list[tuple[str, str]]:
    """Problems as (field, reason) pairs for InvalidArgument."""
    problems = password_problems(password)
    if not problems:
        return []
    return [(field, "Password " + ", ".join(problems))]


def is_valid_email(email: str) -> bool:
    return bool(_EMAIL.match(email)) and len(email) <= 255
